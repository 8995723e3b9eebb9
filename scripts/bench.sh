#!/usr/bin/env bash
# `make bench`: converge, re-converge and transfer figures, each next to a baseline
# measured in the same run (see scripts/bench.py for what is measured and how).
#
#   scripts/bench.sh                      everything (15-30 min with cached images)
#   scripts/bench.sh --release 12         the same on Debian 12 (Zed); the default is 13 (2025.1)
#   scripts/bench.sh --phases noop --keep re-measure the no-op on a kept bench-converge
#   scripts/bench.sh --phases aio         no-op of this host's converged all-in-one (local
#                                         connection); --aio-converge converges it first
#   scripts/bench.sh --help
#
# Like scripts/test.sh it first installs what a fresh machine lacks: the host
# packages (scripts/install-test-deps.sh), the virtualenv with the test tooling
# (scripts/bootstrap.sh --dev) and the controller images (scripts/build-images.sh).
# Output: a table, reports/bench.json, logs in reports/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=${GLANCE_LAB_VENV:-$root/.venv}

case ${1:-} in
  -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    [[ -x $venv/bin/python ]] && exec "$venv/bin/python" scripts/bench.py --help
    exit 0
    ;;
esac

export PATH=$venv/bin:$PATH
export ANSIBLE_CONFIG=$root/ansible.cfg
export CONTAINERS_CONF=${CONTAINERS_CONF:-$root/molecule/containers.conf}
export PIP_DISABLE_PIP_VERSION_CHECK=1

scripts/install-test-deps.sh
scripts/bootstrap.sh --dev
scripts/build-images.sh
command -v curl >/dev/null || { echo "bench: curl is needed (apt-get install curl)" >&2; exit 1; }
exec "$venv/bin/python" scripts/bench.py "$@"
