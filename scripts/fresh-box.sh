#!/usr/bin/env bash
# The README's first command, on the box an operator starts from: a disposable
# container holding only what a fresh minimal Debian box has (python3, git,
# make, ca-certificates; localhost/glance-lab/debianN-fresh-*, built by
# scripts/build-images.sh), the committed tree copied in as a clone gives it
# (`git archive HEAD`), then `make aio` exactly as the README writes it, twice:
# the first run must end verified, the second's converge must report changed=0.
# With FIRST=lab the first run is `make lab LAB_PAUSE=0` instead: every lab
# step alone, in order, each its own ansible-playbook run; the `make aio` after
# it must then change nothing (the steps end in make aio's state) and verify.
# With THEN=upgrade (a Debian 12 box) the README's `make upgrade` follows: it
# must take the box to Debian 13 (2025.1), and a `make aio` after it must
# verify and change nothing.
# Then no secret may be in anything a run printed (tests/tools/secret_scan.py
# in the box, with the box's generated passwords).
#
#   scripts/fresh-box.sh RELEASE FLAVOUR [FIRST [THEN]]   e.g. 13 systemd lab, 12 nosystemd,
#                                                         12 systemd aio upgrade
#
# The one piece of test plumbing: the host's extra CA certificates are added
# to the box (pip reaches PyPI here only through them; a real box needs none).
# Logs: reports/fresh-box-RELEASE-FLAVOUR.log. The container is removed at the
# end unless GLANCE_LAB_KEEP=1. Exit status non-zero when a run failed or the
# second converge changed something.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
release=${1:-}
flavour=${2:-}
first=${3:-aio}
then=${4:-}
case "$release/$flavour" in
  12/systemd | 12/nosystemd | 13/systemd | 13/nosystemd) ;;
  *) echo "usage: scripts/fresh-box.sh 12|13 systemd|nosystemd [aio|lab [upgrade]]" >&2; exit 2 ;;
esac
case $first in
  aio) first_cmd=(make aio) ;;
  lab) first_cmd=(make lab LAB_PAUSE=0) ;;
  *) echo "scripts/fresh-box.sh: FIRST is '$first': aio or lab" >&2; exit 2 ;;
esac
case $release/$then in
  */ | 12/upgrade) ;;
  *) echo "scripts/fresh-box.sh: THEN is '$then' on Debian $release: nothing, or upgrade on Debian 12" >&2; exit 2 ;;
esac
export CONTAINERS_CONF=${CONTAINERS_CONF:-$root/molecule/containers.conf}
image=localhost/glance-lab/debian$release-fresh-$flavour
name=glance-fresh-$release-$flavour${GLANCE_LAB_INSTANCE:-}
log=$root/reports/fresh-box-$release-$flavour.log
mkdir -p "$root/reports"
: >"$log"

say() { printf '%(%T)T fresh-box %s/%s: %s\n' -1 "$release" "$flavour" "$*" | tee -a "$log"; }
die() { say "FAIL: $*"; exit 1; }
cleanup() {
  [[ ${GLANCE_LAB_KEEP:-0} == 1 ]] && { say "kept container $name"; return; }
  podman rm -f -t 5 "$name" >/dev/null 2>&1 || true
}

podman image exists "$image" || die "$image is missing: run scripts/build-images.sh $release"
podman rm -f -t 5 "$name" >/dev/null 2>&1 || true
trap cleanup EXIT

run_opts=(--detach --name "$name" --hostname controller)
[[ $flavour == systemd ]] && run_opts+=(--systemd=always)
podman run "${run_opts[@]}" "$image" >/dev/null
box() { podman exec "$name" "$@"; }

if [[ $flavour == systemd ]]; then
  # "degraded" is a booted container with a unit it cannot run: booted all the same.
  # Right after `podman run` systemctl cannot reach systemd yet: ask again for up to 60 s.
  for _ in $(seq 60); do
    state=$(box systemctl is-system-running --wait 2>/dev/null || true)
    [[ $state == running || $state == degraded ]] && break
    sleep 1
  done
  [[ $state == running || $state == degraded ]] || die "systemd did not boot within 60 s: '$state'"
fi

# Test plumbing only: trust the host's extra CAs (pip reaches PyPI through them here).
shopt -s nullglob
cas=(/usr/local/share/ca-certificates/*.crt)
if ((${#cas[@]})); then
  for ca in "${cas[@]}"; do podman cp "$ca" "$name:/usr/local/share/ca-certificates/"; done
  box update-ca-certificates >/dev/null 2>&1 || die "update-ca-certificates failed in the box"
fi

# What a clone of the committed tree gives, in root's home.
git archive --format=tar --prefix=glance-lab/ HEAD | podman exec -i "$name" tar -x -C /root
say "box $name ($image) holds: $(box dpkg-query -W -f='${binary:Package} ' python3 git make ca-certificates)"

# `make aio` as the README writes it (or `make lab`); output into the log, a
# line per play or lab step on the terminal.
run() {  # run-number make-arguments...
  local n=$1 rc=0 start=$SECONDS
  shift
  say "$* (run $n)"
  { podman exec -w /root/glance-lab -e TERM=dumb "$name" "$@" 2>&1; echo $? >"$log.rc"; } \
    | tee -a "$log" | grep --line-buffered -E '^(PLAY \[|==> |=== |converge |verify |bootstrap:|(PASS|FAIL)  )' \
    | sed -u 's/^/    /' || true
  rc=$(cat "$log.rc")
  rm -f "$log.rc"
  seconds[$n]=$((SECONDS - start))
  say "$* (run $n) exited $rc after ${seconds[$n]} s"
  return "$rc"
}
aio() { run "$1" make aio; }
declare -A seconds=()
if [[ $first == lab ]]; then
  # A step before the steps it builds on stops in preflight and names the step
  # to run first (schema needs MariaDB, from `prerequisites`), changing nothing.
  if run 0 make lab STEP=schema; then die "make lab STEP=schema ran on a fresh box (log: $log)"; fi
  grep -q 'Run `make lab STEP=prerequisites` first' "$log" \
    || die "make lab STEP=schema on a fresh box did not say to run the prerequisites step first (log: $log)"
  say "make lab STEP=schema on the fresh box refused, naming STEP=prerequisites"
fi
run 1 "${first_cmd[@]}" || die "the first run, ${first_cmd[*]}, failed (log: $log)"

# Run 2's converge must change nothing: the sum of changed= over the PLAY RECAP
# of its converge (aio.sh's "==> converge" up to "==> verify"; the verify
# playbook replaces its report files, which is not the deployment changing).
aio 2 || die "the second make aio failed (log: $log)"
converge_changed() {  # run-number: the sum of changed= over that make aio's converge recap
  sed -n "/make aio (run $1)\$/,\$p" "$log" | sed -n '/^==> converge/,/^==> verify/p' \
    | grep -oE ' changed=[0-9]+' | cut -d= -f2 | awk '{s += $1; n++} END {print n ? s : "none"}'
}
changed=$(converge_changed 2)
say "second converge: changed=$changed"
[[ $changed == 0 ]] || die "the second make aio's converge reported changed=$changed (expected 0; log: $log)"

# make aio shows its progress as it goes (issue #18): the converge's time per
# role, and the verifier's step lines before the verify task ends (tail -f of
# glance-verify --progress-file), not only in the task's summary after it.
run2=$(sed -n '/make aio (run 2)$/,$p' "$log")
grep -q '^ROLES RECAP' <<<"$run2" || die "the second make aio printed no ROLES RECAP (time per role; log: $log)"
first_step=$(grep -n -m1 -E '^PASS  upload ' <<<"$run2" | cut -d: -f1 || true)
summary_task=$(grep -n -m1 -F "TASK [Show the verifier's summary]" <<<"$run2" | cut -d: -f1 || true)
[[ -n $first_step && -n $summary_task ]] && ((first_step < summary_task)) \
  || die "the second make aio did not show the verifier's step lines as they ran (PASS upload at line ${first_step:-none}, the summary task at ${summary_task:-none}; log: $log)"
say "make aio showed the time per role and the verifier's steps live (PASS upload at line $first_step of run 2, its summary task at $summary_task)"

if [[ $then == upgrade ]]; then
  # The README's upgrade, then make aio on Debian 13: verified, changed=0.
  run 3 make upgrade || die "make upgrade failed (log: $log)"
  run3=$(sed -n '/make upgrade (run 3)$/,$p' "$log")
  upgraded=$(grep -oE 'upgraded to Debian [0-9.]+ \(2025\.1\)' <<<"$run3" | head -n 1 || true)
  [[ -n $upgraded ]] || die "make upgrade did not say 'upgraded to Debian 13... (2025.1)' (log: $log)"
  [[ $(box sh -c '. /etc/os-release; echo "$VERSION_ID"') == 13 ]] || die "the box is not on Debian 13 after make upgrade (log: $log)"
  say "make upgrade: $upgraded; $(grep -oE '(dist-upgrade took|converge and checks took) [0-9.]+ s' <<<"$run3" | paste -sd ';' -)"
  aio 4 || die "make aio after the upgrade failed (log: $log)"
  changed=$(converge_changed 4)
  say "converge after the upgrade: changed=$changed"
  [[ $changed == 0 ]] || die "make aio after the upgrade reported changed=$changed (expected 0; log: $log)"
fi

# Nothing any run printed may hold a generated password, in any form.
podman cp "$log" "$name:/tmp/fresh-box.log"
secrets=()
for s in keystone_db_password keystone_admin_password glance_db_password glance_keystone_password; do
  secrets+=(--secret-file "/root/.glance-lab/aio/$s")
done
box python3 /root/glance-lab/tests/tools/secret_scan.py "${secrets[@]}" --path /tmp/fresh-box.log 2>&1 \
  | tee -a "$log" || die "a secret is in the output of the runs (log: $log)"
say "PASS: run 1 (${first_cmd[*]}) ${seconds[1]} s, run 2 (make aio) ${seconds[2]} s (changed=0)$(
  [[ $then == upgrade ]] && echo ", run 3 (make upgrade) ${seconds[3]} s, run 4 (make aio on 13) ${seconds[4]} s (changed=0)"), no secret printed"
