#!/usr/bin/env bash
# `make aio`: converge this host as an all-in-one controller, then verify
# Glance. Prints the wall time of each step, the converge's time per role and
# the verifier's steps as they run. Extra arguments go to both
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

# The verifier's step and progress lines as they happen: Ansible prints a task's
# output only once it ends, so glance-verify also writes them to a file
# (--progress-file, verify_progress_file) that tail follows meanwhile.
progress=$(mktemp)
follower=
finish() {
  [[ -z $follower ]] || kill "$follower" 2>/dev/null || true
  rm -f "$progress"
  printf "\n"
  printf "%s\n" "${summary[@]}"
}
summary=()
trap finish EXIT
# Where the converge is and how long it has run at each task, and at its end the
# time each role took (ansible.posix's profile_roles callback, in the `ansible` package).
ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_roles \
  timed converge ansible-playbook -i "$inventory" playbooks/site.yml "$@"
tail -n +1 -f "$progress" &
follower=$!
timed verify ansible-playbook -i "$inventory" playbooks/verify.yml -e "verify_progress_file=$progress" "$@"
