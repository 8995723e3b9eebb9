#!/usr/bin/env bash
# Capture tests/unit/data/bench-sample-{first,noop,failed}.json: the real output of the
# ansible.posix.json callback (as scripts/bench.py runs ansible-playbook) for a small
# playbook: a first run (changes and a handler), a second (no change), a failed one.
set -euo pipefail
cd "$(dirname "$0")"
venv=${GLANCE_LAB_VENV:-$(cd ../../.. && pwd)/.venv}
export ANSIBLE_STDOUT_CALLBACK=ansible.posix.json ANSIBLE_NOCOLOR=1
rm -rf /tmp/glance-lab-bench-sample
play() { "$venv/bin/ansible-playbook" -i localhost, bench-sample.yml "$@"; }
play >bench-sample-first.json
play >bench-sample-noop.json
play -e sample_fail=true >bench-sample-failed.json || true
rm -rf /tmp/glance-lab-bench-sample
