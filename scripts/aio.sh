#!/usr/bin/env bash
# `make aio`: converge this host as an all-in-one controller, then verify
# Glance. Prints the wall time of each step. Extra arguments go to both
# ansible-playbook runs (e.g. -e lab_address=10.0.0.5, --tags glance).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${GLANCE_LAB_VENV:-$PWD/.venv}
export PATH=$venv/bin:$PATH ANSIBLE_CONFIG=$PWD/ansible.cfg
inventory=${GLANCE_LAB_INVENTORY:-inventory/aio}

timed() {  # timed LABEL CMD...: run, remember the seconds it took
  local label=$1 start=$SECONDS rc=0
  shift
  echo "==> $label: $*"
  "$@" || rc=$?
  summary+=("$(printf '%-10s %5ss  %s' "$label" $((SECONDS - start)) "$([[ $rc == 0 ]] && echo ok || echo "FAILED (exit $rc)")")")
  return $rc
}

summary=()
trap 'printf "\n"; printf "%s\n" "${summary[@]}"' EXIT
timed converge ansible-playbook -i "$inventory" playbooks/site.yml "$@"
timed verify ansible-playbook -i "$inventory" playbooks/verify.yml "$@"
