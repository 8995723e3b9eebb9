#!/usr/bin/env bash
# Install Debian packages that are missing, idempotently: scripts/apt-ensure.sh PKG...
# Used by install-test-deps.sh (the test harness) and bootstrap.sh (python3-venv,
# python3-apt). When everything is installed already it touches nothing (no
# apt-get update). apt may be held by a converge running on this host: wait up
# to 10 minutes for it.
set -euo pipefail
packages=("$@")
apt_opts=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)

log() { printf 'apt-ensure: %s\n' "$*" >&2; }

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ $status == installed ]] || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  log "all present: ${packages[*]}"
  exit 0
fi

sudo=()
if [[ $(id -u) != 0 ]]; then
  command -v sudo >/dev/null || { log "ERROR: need root (or sudo) to install: ${missing[*]}"; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive

# Refresh the package lists only when some wanted package has no install
# candidate (lists missing or stale), not on every run.
needs_update=false
for p in "${missing[@]}"; do
  candidate=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')
  if [[ -z $candidate || $candidate == "(none)" ]]; then
    needs_update=true
    break
  fi
done
if $needs_update; then
  log "apt-get update (no candidate for some of: ${missing[*]})"
  "${sudo[@]}" apt-get "${apt_opts[@]}" update -q
fi

log "installing: ${missing[*]}"
if ! "${sudo[@]}" apt-get "${apt_opts[@]}" install -y -q --no-install-recommends "${missing[@]}"; then
  # A candidate that vanished from the mirror since the lists were fetched: refresh once.
  log "install failed; refreshing the package lists and retrying once"
  "${sudo[@]}" apt-get "${apt_opts[@]}" update -q
  "${sudo[@]}" apt-get "${apt_opts[@]}" install -y -q --no-install-recommends "${missing[@]}"
fi
log "done"
