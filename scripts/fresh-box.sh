#!/usr/bin/env bash
# The README's first command, on the box an operator starts from: a disposable
# container holding only what a fresh minimal Debian box has (python3, git,
# make, ca-certificates; localhost/glance-lab/debianN-fresh-*, built by
# scripts/build-images.sh), the committed tree copied in as a clone gives it
# (`git archive HEAD`), then `make aio` exactly as the README writes it, twice:
# the first run must end verified, the second's converge must report changed=0.
#
#   scripts/fresh-box.sh RELEASE FLAVOUR     e.g. 13 systemd, 12 nosystemd
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
case "$release/$flavour" in
  12/systemd | 12/nosystemd | 13/systemd | 13/nosystemd) ;;
  *) echo "usage: scripts/fresh-box.sh 12|13 systemd|nosystemd" >&2; exit 2 ;;
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

# `make aio` as the README writes it; output into the log, a line per play on the terminal.
aio() {  # run-number
  local rc=0 start=$SECONDS
  say "make aio (run $1)"
  { podman exec -w /root/glance-lab -e TERM=dumb "$name" make aio 2>&1; echo $? >"$log.rc"; } \
    | tee -a "$log" | grep --line-buffered -E '^(PLAY \[|==> |converge |verify |bootstrap:)' \
    | sed -u 's/^/    /' || true
  rc=$(cat "$log.rc")
  rm -f "$log.rc"
  seconds[$1]=$((SECONDS - start))
  say "make aio (run $1) exited $rc after ${seconds[$1]} s"
  return "$rc"
}
declare -A seconds=()
aio 1 || die "the first make aio failed (log: $log)"

# Run 2's converge must change nothing: the sum of changed= over the PLAY RECAP
# of its converge (aio.sh's "==> converge" up to "==> verify"; the verify
# playbook replaces its report files, which is not the deployment changing).
aio 2 || die "the second make aio failed (log: $log)"
changed=$(sed -n '/make aio (run 2)$/,$p' "$log" | sed -n '/^==> converge/,/^==> verify/p' \
  | grep -oE ' changed=[0-9]+' | cut -d= -f2 | awk '{s += $1; n++} END {print n ? s : "none"}')
say "second converge: changed=$changed"
[[ $changed == 0 ]] || die "the second make aio's converge reported changed=$changed (expected 0; log: $log)"
say "PASS: run 1 ${seconds[1]} s, run 2 ${seconds[2]} s (changed=0)"
