# Entry points. `make aio` takes this host to a verified Glance; `make test` runs
# every check a fresh machine can run (CI calls it through .ci/run).
SHELL := /bin/bash
VENV  ?= $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: help bootstrap bootstrap-dev aio lab converge verify upgrade test bench lint unit molecule clean

help:  ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

bootstrap:  ## Create the deploy virtualenv (.venv)
	scripts/bootstrap.sh

bootstrap-dev:  ## Create the virtualenv with the test tooling
	scripts/bootstrap.sh --dev

aio: bootstrap  ## Converge this host (all-in-one) and verify Glance
	scripts/aio.sh

STEP ?= all
lab: $(if $(filter list help,$(STEP)),,bootstrap)  ## The lab notes' steps: STEP=list, STEP=<step> alone, or all in order (LAB_PAUSE=0: no pause)
	scripts/lab.sh $(STEP)

converge: bootstrap  ## Converge the all-in-one inventory only
	ansible-playbook -i inventory/aio playbooks/site.yml

verify: bootstrap  ## Verify the all-in-one Glance only
	ansible-playbook -i inventory/aio playbooks/verify.yml

# The dist-upgrade replaces the Python the virtualenv runs on: upgrade.yml then
# stops, bootstrap rebuilds the virtualenv, and the second run converges
# (on an upgraded host it says "nothing to upgrade").
upgrade: bootstrap  ## Upgrade the all-in-one host from Debian 12 (Zed) to 13 (2025.1): backup, dist-upgrade, converge
	ansible-playbook -i inventory/aio playbooks/upgrade.yml
	scripts/bootstrap.sh
	ansible-playbook -i inventory/aio playbooks/upgrade.yml

test:  ## Run every test stage (static, unit, molecule) with a summary
	scripts/test.sh

bench:  ## Converge/no-op/upload figures against same-run baselines (reports/bench.json); BENCH_ARGS="--phases ..."
	scripts/bench.sh $(BENCH_ARGS)

clean:  ## Remove the virtualenv (credentials are kept)
	rm -rf $(VENV)
