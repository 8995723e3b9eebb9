#!/usr/bin/env bash
# Create (or bring up to date) the project's virtualenv in .venv.
# Idempotent: a stamp holding the requirements' hash skips pip when nothing changed.
#   scripts/bootstrap.sh          deploy tooling (ansible, openstacksdk, the verifier)
#   scripts/bootstrap.sh --dev    plus the test tooling (molecule, pytest, linters)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=${GLANCE_LAB_VENV:-$root/.venv}
reqs=requirements.txt
[[ ${1:-} == --dev ]] && reqs=requirements-dev.txt

py=${PYTHON:-python3}
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
