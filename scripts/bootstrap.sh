#!/usr/bin/env bash
# Create (or bring up to date) the project's virtualenv in .venv.
# Idempotent: a stamp holding the requirements' hash skips pip when nothing changed.
#   scripts/bootstrap.sh          deploy tooling (ansible, openstacksdk, the verifier)
#   scripts/bootstrap.sh --dev    plus the test tooling (molecule, pytest, linters)
#
# A fresh Debian 12 or 13 box (python3, git, make, ca-certificates) lacks what
# Debian splits out of python3: the venv module (python3-venv) and python-apt,
# which Ansible's apt module needs on this host when it is also the target
# (`make aio`). They come from Debian's archive first, as root (or with sudo);
# nothing is installed when they are there already.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=${GLANCE_LAB_VENV:-$root/.venv}
reqs=requirements.txt
[[ ${1:-} == --dev ]] && reqs=requirements-dev.txt

py=${PYTHON:-python3}

log() { printf 'bootstrap: %s\n' "$*" >&2; }

# Debian packages this host needs before the virtualenv can exist.
debian_packages() {
  local pkgs=() p
  # Debian's own python needs python3-venv for `python3 -m venv` (ensurepip);
  # another python (pyenv, a distribution build) brings its own.
  if [[ $("$py" -c 'import sys; print(sys.base_prefix)') == /usr ]]; then
    pkgs+=(python3-venv)
  fi
  [[ -x /usr/bin/python3 ]] && pkgs+=(python3-apt)
  for p in "${pkgs[@]}"; do
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) == installed ]] || echo "$p"
  done
}
if command -v dpkg-query >/dev/null; then
  mapfile -t missing < <(debian_packages)
  if ((${#missing[@]})); then
    sudo=()
    if [[ $(id -u) != 0 ]]; then
      command -v sudo >/dev/null || { log "ERROR: need root (or sudo) to install: ${missing[*]}"; exit 1; }
      sudo=(sudo)
    fi
    log "installing from Debian's archive: ${missing[*]}"
    apt_opts=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
    # The lists may be missing or stale (a freshly built image has none): refresh first.
    "${sudo[@]}" apt-get "${apt_opts[@]}" update -q
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get "${apt_opts[@]}" install -y -q --no-install-recommends "${missing[@]}"
  fi
fi
stamp=$venv/.bootstrap-$(basename "$reqs" .txt)
want=$(cat requirements.txt "$reqs" $(ls pyproject.toml 2>/dev/null) | sha256sum | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" && -x $venv/bin/ansible-playbook ]]; then
  echo "bootstrap: $venv is up to date ($reqs)"
  exit 0
fi
[[ -x $venv/bin/python ]] || "$py" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r "$reqs"
if [[ -f pyproject.toml ]]; then
  "$venv/bin/python" -m pip install --quiet --no-deps -e .
fi
echo "$want" >"$stamp"
echo "bootstrap: $venv ready ($reqs)"
