#!/usr/bin/env bash
# Every check a fresh Debian 12 machine can run (`make test`, and CI via .ci/run),
# on both supported releases of the targets: Debian 12 (Zed) and 13 (2025.1).
#
#   scripts/test.sh                  all stages
#   scripts/test.sh static unit      only those (plus their prerequisites)
#   TEST_STAGES="ruff mypy" scripts/test.sh
#
# Stages, in order (a group name selects all of its stages):
#   deps                 scripts/install-test-deps.sh (apt: podman, runc, debootstrap, ...)
#   bootstrap            scripts/bootstrap.sh --dev (the .venv with the test tooling)
#   images               scripts/build-images.sh (cached controller and fresh-box images, both releases)
#   static = yamllint ansible-lint ruff mypy syntax
#   unit                 pytest tests/unit
#   badinput             pytest tests/badinput (bad inventories stop in preflight; no containers)
#   molecule = molecule-default molecule-storage-12 molecule-storage-13 molecule-upgrade
#                        (default: Debian 12, systemd; storage: both releases,
#                        tini, with the offline no-op converge; upgrade: the
#                        storage lab on Debian 12 taken to 13 by playbooks/upgrade.yml,
#                        issue #17)
#   multinode = molecule-multinode-12 molecule-multinode-13
#                        HAProxy, two glance nodes, Ceph (issue #15); controller
#                        under tini on 12, under systemd on 13; each release on a
#                        /24 of its own (10.89.212, 10.89.213: both run at once);
#                        on 12 then the rolling upgrade to 13, on 13 the faults
#   freshbox = freshbox-13-systemd freshbox-12-systemd
#                        scripts/fresh-box.sh: the README's `make aio`, twice, in a
#                        fresh minimal box (python3 git make ca-certificates only);
#                        on the Debian 12 box with systemd then `make upgrade` and
#                        `make aio` on 13 (issue #17). freshbox-12-nosystemd (the
#                        same on a box without systemd) runs by name only: the
#                        Debian 12 box with systemd runs the same `make aio`s, and
#                        the whole run must stay under 75 minutes
#
# bootstrap always runs (it is a no-op when .venv is up to date); deps and images
# run whenever a molecule stage is selected. The long stages (badinput, freshbox,
# molecule) run GLANCE_LAB_TEST_JOBS at a time (default 2: on a 2-core machine
# one run's waits for apt, services and uploads leave room for the other's
# work; 1 runs them one after the other), longest first, each in containers,
# a molecule directory and reports of its own; their lines are prefixed with
# [stage]. A failed stage does not stop the
# others, except that stages needing a failed prerequisite are skipped. A stage
# whose inputs do not exist yet (no src/, no playbooks) fails and says so.
# Output of the molecule runs goes to reports/molecule-<scenario>.log; its tail
# is printed when it fails. Exit status: non-zero when any stage failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
reports=$root/reports
venv=${GLANCE_LAB_VENV:-$root/.venv}
mkdir -p "$reports"

export PATH=$venv/bin:$PATH
export ANSIBLE_CONFIG=${ANSIBLE_CONFIG:-$root/ansible.cfg}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$root/molecule/containers.conf}
export PIP_DISABLE_PIP_VERSION_CHECK=1
molecule_timeout=${MOLECULE_TIMEOUT:-2400}  # seconds per scenario
max_jobs=${GLANCE_LAB_TEST_JOBS:-2}
[[ $max_jobs =~ ^[1-9][0-9]*$ ]] || { echo "test.sh: GLANCE_LAB_TEST_JOBS=$max_jobs: give a number of stages to run at once, 1 or more" >&2; exit 2; }
# The by-hand knobs narrow what a scenario proves: never inherited into a test
# run. molecule/shared/verify.yml's two narrow verify;
# GLANCE_LAB_UPGRADE_FAILURE=none leaves out the upgrade's injected failure.
for knob in GLANCE_LAB_GLANCE_VERIFY GLANCE_LAB_TESTINFRA GLANCE_LAB_UPGRADE_FAILURE; do
  if [[ -n ${!knob+set} ]]; then
    echo "test.sh: ignoring $knob=${!knob} from the environment (it would narrow what the tests prove)" >&2
    unset "$knob"
  fi
done

molecule_stages=(molecule-default molecule-storage-12 molecule-storage-13 molecule-upgrade)
multinode_stages=(molecule-multinode-12 molecule-multinode-13)
freshbox_stages=(freshbox-13-systemd freshbox-12-systemd)
by_name_stages=(freshbox-12-nosystemd)  # not in `all`: selected by name only
all_stages=(deps bootstrap images yamllint ansible-lint ruff mypy syntax unit badinput
  "${freshbox_stages[@]}" "${molecule_stages[@]}" "${multinode_stages[@]}")
known_stages=("${all_stages[@]}" "${by_name_stages[@]}")
declare -A groups=(
  [static]="yamllint ansible-lint ruff mypy syntax"
  [molecule]="${molecule_stages[*]}"
  [multinode]="${multinode_stages[*]}"
  [freshbox]="${freshbox_stages[*]}"
  [all]="${all_stages[*]}"
)

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

# --- selection ---------------------------------------------------------------------
requested=("$@")
((${#requested[@]})) || read -r -a requested <<<"${TEST_STAGES:-all}"
declare -A want=()
for r in "${requested[@]}"; do
  case $r in
    -h | --help) usage; exit 0 ;;
  esac
  if [[ -n ${groups[$r]:-} ]]; then
    for s in ${groups[$r]}; do want[$s]=1; done
  elif [[ " ${known_stages[*]} " == *" $r "* ]]; then
    want[$r]=1
  else
    echo "test.sh: unknown stage '$r' (stages: ${known_stages[*]}; groups: ${!groups[*]})" >&2
    exit 2
  fi
done
want[bootstrap]=1
for s in "${molecule_stages[@]}" "${multinode_stages[@]}" "${freshbox_stages[@]}" "${by_name_stages[@]}"; do
  [[ -n ${want[$s]:-} ]] && want[deps]=1 want[images]=1
done

# --- bookkeeping -------------------------------------------------------------------
declare -A status=() seconds=() note=()
order=()
say() { printf '\n==> %s\n' "$*"; }
fail_input() { echo "FAIL: $*"; return 1; }

run_stage() {  # name function [prerequisite...]
  local name=$1 fn=$2 pre start rc
  shift 2
  [[ -n ${want[$name]:-} ]] || return 0
  order+=("$name")
  for pre in "$@"; do
    if [[ ${status[$pre]:-} != PASS ]]; then
      status[$name]=SKIP seconds[$name]=0 note[$name]="needs $pre (${status[$pre]:-not run})"
      say "$name: SKIP, ${note[$name]}"
      return 0
    fi
  done
  say "$name"
  start=$SECONDS
  "$fn"
  rc=$?
  seconds[$name]=$((SECONDS - start))
  if ((rc == 0)); then status[$name]=PASS; else status[$name]=FAIL note[$name]="exit $rc"; fi
  say "$name: ${status[$name]} (${seconds[$name]} s)"
}

# --- stages --------------------------------------------------------------------------
stage_deps() { scripts/install-test-deps.sh; }
stage_bootstrap() { scripts/bootstrap.sh --dev; }
stage_images() { scripts/build-images.sh; }
stage_yamllint() { yamllint .; }  # line-length is a warning (.yamllint), errors fail
stage_ansible_lint() {
  [[ -d roles && -n $(ls -A roles 2>/dev/null) ]] || fail_input "roles/ is empty: nothing to lint yet" || return
  ansible-lint --profile production
}
stage_ruff() {
  local paths=() p
  for p in src tests; do [[ -d $p ]] && paths+=("$p"); done
  [[ -d src ]] || fail_input "src/ does not exist yet (the verifier package)" || return
  ruff check "${paths[@]}" && ruff format --check "${paths[@]}"
}
stage_mypy() {
  [[ -d src ]] || fail_input "src/ does not exist yet (the verifier package)" || return
  mypy --strict src
}
stage_syntax() {
  local books=(playbooks/*.yml) pb rc=0
  [[ -e ${books[0]} ]] || fail_input "no playbooks in playbooks/ yet" || return
  [[ -e inventory/aio ]] || fail_input "inventory/aio does not exist yet" || return
  for pb in "${books[@]}"; do
    echo "-- $pb"
    ansible-playbook --syntax-check -i inventory/aio "$pb" || rc=1
  done
  return $rc
}
run_pytest() {  # suite-dir: pytest it, with a JUnit report; "no tests" is a failure
  local dir=tests/$1 rc
  [[ -d $dir ]] || fail_input "$dir does not exist yet" || return
  pytest -p no:cacheprovider -q --junitxml="$reports/junit-$1.xml" "$dir"
  rc=$?
  ((rc == 5)) && echo "FAIL: pytest collected no tests in $dir (exit 5)"
  return $rc
}
# A test that skips in CI proves nothing while the stage shows green: every
# skip in the JUnit report must be listed, by name, in tests/unit/expected-skips.txt
# (one "module::test" per line, # comments), or the stage fails.
junit_unexpected_skips() {  # junit-xml expected-list
  python3 - "$1" "$2" <<'PY'
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

report, listed = Path(sys.argv[1]), Path(sys.argv[2])
expected = {
    line.split("#", 1)[0].strip()
    for line in (listed.read_text().splitlines() if listed.exists() else [])
} - {""}
skipped = {
    f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
    for case in ET.parse(report).iter("testcase")
    if case.find("skipped") is not None
}
unexpected = sorted(skipped - expected)
for name in unexpected:
    print(f"FAIL: unexpected skip: {name} (not in {listed})")
for name in sorted(skipped & expected):
    print(f"expected skip: {name}")
sys.exit(1 if unexpected else 0)
PY
}
stage_unit() {
  run_pytest unit || return
  junit_unexpected_skips "$reports/junit-unit.xml" tests/unit/expected-skips.txt
}
stage_badinput() { run_pytest badinput; }

# Per-action durations from the timestamped log: "[scenario > action] Executing".
molecule_timings() {
  awk '
    function secs(t) { split(t, a, ":"); return a[1] * 3600 + a[2] * 60 + a[3] }
    match($0, /\[[^]]+ > [a-z_]+\] (Executing|Executed)/) {
      split(substr($0, RSTART + 1), p, "]"); split(p[1], q, " > "); action = q[2]
      if ($0 ~ /Executing/) { start = secs($1) } else {
        d = secs($1) - start; if (d < 0) d += 86400
        st = $0; sub(/.*Executed: /, "", st)
        printf "    %-12s %4d s  %s\n", action, d, st
      }
    }' "$1"
}

run_molecule() {  # scenario debian-release
  local scenario=$1 log=$reports/molecule-$1-$2.log rc
  export GLANCE_LAB_DEBIAN=$2
  # Its own molecule directory and report names: the same scenario may run for
  # the other release at the same time.
  export MOLECULE_EPHEMERAL_DIRECTORY=${XDG_CACHE_HOME:-$HOME/.cache}/molecule/glance-lab-$(basename "$root")/$1-$2
  export GLANCE_LAB_REPORT_NAME=$1-$2
  [[ -f playbooks/site.yml ]] || fail_input "playbooks/site.yml does not exist yet: nothing to converge" || return
  echo "log: $log (progress below; timeout ${molecule_timeout} s)"
  # No colours in the log (molecule colours some lines anyway: stripped);
  # timestamps for the per-action timings.
  # GLANCE_LAB_MOLECULE_LOG: the secret scan must find (and scan) this log.
  GLANCE_LAB_MOLECULE_LOG=$log NO_COLOR=1 PY_COLORS=0 ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 \
    timeout -k 60 "$molecule_timeout" molecule test -s "$scenario" </dev/null 2>&1 \
    | sed -u 's/\x1b\[[0-9;]*m//g' \
    | while IFS= read -r line; do printf '%(%T)T %s\n' -1 "$line"; done \
    | tee "$log" | grep --line-buffered -E '\] Execut(ing|ed)' | sed -u 's/^/  /'
  rc=${PIPESTATUS[0]}
  echo "  per action:"
  molecule_timings "$log"
  # molecule skips an action whose playbook it cannot find and still exits 0:
  # a step that silently did not run is a failure here.
  if ((rc == 0)) && grep -q 'Missing playbook' "$log"; then
    echo "FAIL: molecule skipped an action of $scenario (Missing playbook):"
    grep 'Missing playbook' "$log" | sed 's/^/  /'
    rc=1
  fi
  if ((rc != 0)); then
    ((rc == 124)) && echo "FAIL: molecule test -s $scenario timed out after ${molecule_timeout} s"
    echo "---- last 80 lines of $log ----"
    tail -n 80 "$log"
    echo "---- end of $log ----"
  fi
  return "$rc"
}
stage_molecule_default() { run_molecule default 12; }
stage_molecule_storage_12() { run_molecule storage 12; }
stage_molecule_storage_13() { run_molecule storage 13; }
stage_molecule_upgrade() { run_molecule upgrade 12; }  # from Debian 12 to 13
# HAProxy under both service managers: the controller under tini on 12, systemd on 13.
# Debian 12 rehearses the rolling upgrade to 13 instead of the faults (on 13).
stage_molecule_multinode_12() {
  local -x GLANCE_LAB_CONTROLLER_FLAVOUR=nosystemd GLANCE_LAB_CEPH_NET=${GLANCE_LAB_CEPH_NET_12:-10.89.212}
  local -x GLANCE_LAB_MN_SIDE_EFFECT=upgrade.yml
  run_molecule multinode 12
}
stage_molecule_multinode_13() {
  local -x GLANCE_LAB_CONTROLLER_FLAVOUR=systemd GLANCE_LAB_CEPH_NET=${GLANCE_LAB_CEPH_NET_13:-10.89.213}
  local -x GLANCE_LAB_MN_SIDE_EFFECT=faults.yml
  run_molecule multinode 13
}
run_freshbox() {  # release flavour [first run: aio or lab [then: upgrade]]
  timeout -k 60 "$molecule_timeout" scripts/fresh-box.sh "$@" </dev/null
}
# The Debian 13 box takes the lab steps one by one first (make lab), then make aio.
stage_freshbox_13_systemd() { run_freshbox 13 systemd lab; }
stage_freshbox_12_nosystemd() { run_freshbox 12 nosystemd; }
# An operator's host: systemd, no policy-rc.d; make aio twice, make upgrade, make aio on 13.
stage_freshbox_12_systemd() { run_freshbox 12 systemd aio upgrade; }

# --- run -----------------------------------------------------------------------------
total_start=$SECONDS
run_stage deps stage_deps
run_stage bootstrap stage_bootstrap
run_stage images stage_images deps
run_stage yamllint stage_yamllint bootstrap
run_stage ansible-lint stage_ansible_lint bootstrap
run_stage ruff stage_ruff bootstrap
run_stage mypy stage_mypy bootstrap
run_stage syntax stage_syntax bootstrap
run_stage unit stage_unit bootstrap

# The long stages, longest first (their times in a full run two at a time on
# a 2-core machine, 2026-12-07, before multinode-12 took the rolling upgrade:
# 873 (multinode-12; with the upgrade ~1800 by hand), 984, 944, 878, 872, 773,
# 736, 500, 381 (freshbox-12-nosystemd, now by name) and 313 s; the whole
# run 3815 s), GLANCE_LAB_TEST_JOBS at a time.
pool=(
  "molecule-multinode-12 stage_molecule_multinode_12 bootstrap images"
  "molecule-upgrade stage_molecule_upgrade bootstrap images"
  "freshbox-12-systemd stage_freshbox_12_systemd images"
  "molecule-multinode-13 stage_molecule_multinode_13 bootstrap images"
  "molecule-default stage_molecule_default bootstrap images"
  "molecule-storage-12 stage_molecule_storage_12 bootstrap images"
  "molecule-storage-13 stage_molecule_storage_13 bootstrap images"
  "freshbox-13-systemd stage_freshbox_13_systemd images"
  "freshbox-12-nosystemd stage_freshbox_12_nosystemd images"
  "badinput stage_badinput bootstrap"
)
pool_dir=$(mktemp -d)
trap 'rm -rf "$pool_dir"' EXIT
pool_started=()
for entry in "${pool[@]}"; do
  read -r name fn pres <<<"$entry"
  [[ -n ${want[$name]:-} ]] || continue
  order+=("$name")
  missing=
  for pre in $pres; do
    [[ ${status[$pre]:-} == PASS ]] || { missing="needs $pre (${status[$pre]:-not run})"; break; }
  done
  if [[ -n $missing ]]; then
    status[$name]=SKIP seconds[$name]=0 note[$name]=$missing
    say "$name: SKIP, $missing"
    continue
  fi
  while (($(jobs -rp | wc -l) >= max_jobs)); do wait -n; done
  say "$name: started"
  pool_started+=("$name")
  (
    start=$SECONDS
    "$fn" 2>&1 | sed -u "s/^/[$name] /"
    rc=${PIPESTATUS[0]}
    echo "$rc $((SECONDS - start))" >"$pool_dir/$name"
    if ((rc == 0)); then say "$name: PASS ($((SECONDS - start)) s)"; else say "$name: FAIL ($((SECONDS - start)) s)"; fi
  ) &
done
wait
for name in "${pool_started[@]}"; do
  if read -r rc secs <"$pool_dir/$name" 2>/dev/null; then
    seconds[$name]=$secs
    if ((rc == 0)); then status[$name]=PASS; else status[$name]=FAIL note[$name]="exit $rc"; fi
  else
    status[$name]=FAIL seconds[$name]=0 note[$name]="no result (killed?)"
  fi
done

# --- summary -------------------------------------------------------------------------
passed=0 failed=0 skipped=0
printf '\n%-20s %-6s %8s  %s\n' STAGE RESULT SECONDS NOTE
for name in "${order[@]}"; do
  printf '%-20s %-6s %8s  %s\n' "$name" "${status[$name]}" "${seconds[$name]}" "${note[$name]:-}"
  case ${status[$name]} in
    PASS) ((passed++)) ;;
    FAIL) ((failed++)) ;;
    *) ((skipped++)) ;;
  esac
done
printf '%-20s %-6s %8s\n' total "" "$((SECONDS - total_start))"
echo
if ((skipped)); then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
((failed == 0 && skipped == 0))
