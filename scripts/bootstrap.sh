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

# Debian packages this host needs before the virtualenv can exist: Debian's own
# python needs python3-venv for `python3 -m venv` (ensurepip); another python
# (pyenv, a distribution build) brings its own. scripts/apt-ensure.sh installs
# what is missing, refreshing the lists first when they lack a package (a
# freshly built image has none).
if command -v dpkg-query >/dev/null; then
  debian_packages=()
  [[ $("$py" -c 'import sys; print(sys.base_prefix)') == /usr ]] && debian_packages+=(python3-venv)
  [[ -x /usr/bin/python3 ]] && debian_packages+=(python3-apt)
  ((${#debian_packages[@]} == 0)) || scripts/apt-ensure.sh "${debian_packages[@]}"
fi
# A virtualenv belongs to one Python version: after a distribution upgrade
# (Debian 12's 3.11 -> 13's 3.13, `make upgrade`) its python is the new one
# and its packages sit in the old version's site-packages. Rebuild it then.
py_version=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [[ -x $venv/bin/python && ! -d $venv/lib/python$py_version ]]; then
  echo "bootstrap: $venv was made for another Python than $py ($py_version): rebuilding it"
  "$py" -m venv --clear "$venv"
fi
stamp=$venv/.bootstrap-$(basename "$reqs" .txt)
want=$( { echo "python $py_version"; cat requirements.txt "$reqs" $(ls pyproject.toml 2>/dev/null); } | sha256sum | cut -d' ' -f1)
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
