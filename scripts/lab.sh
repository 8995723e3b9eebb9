#!/usr/bin/env bash
# `make lab STEP=<step>`: the lab notes' steps one at a time, on this host
# (the all-in-one inventory), each its own ansible-playbook run of
# playbooks/site.yml limited by tags (playbooks/verify.yml for `verify`).
# After each step: what changed (--diff, and glance-api.conf's diff with its
# secrets masked), the commands that check it by hand, and its time.
set -euo pipefail
cd "$(dirname "$0")/.."

# name|tags|what it does|how to check it by hand (commands split by ';;')
steps=(
  "prerequisites|mariadb,memcached,keystone,openstack_client|what the notes assume: MariaDB, memcached, Keystone, the openstack client and admin-openrc|mysql -e 'SELECT VERSION()';; openstack token issue -c expires;; openstack endpoint list --service identity"
  "database|lab_database|the glance database and its user, granted on localhost and % (note 002, step 1)|mysql -e \"SHOW DATABASES LIKE 'glance'; SHOW GRANTS FOR 'glance'@'%'\""
  "identity|lab_identity|Keystone: user glance, role admin on project service, service image and its three endpoints (step 2)|openstack user show glance;; openstack role assignment list --user glance --names;; openstack service show image;; openstack endpoint list --service image"
  "packages|lab_packages|apt install glance-api (step 3)|dpkg -l glance-api python3-glance"
  "config|lab_config|/etc/glance/glance-api.conf: [database], [keystone_authtoken], [paste_deploy], [glance_store] (step 4)|grep -A3 '^\\[glance_store\\]' /etc/glance/glance-api.conf;; grep -A3 '^\\[paste_deploy\\]' /etc/glance/glance-api.conf"
  "schema|lab_schema|glance-manage db_sync when the schema is not current, and the metadata definitions (step 5)|runuser -u glance -- glance-manage db check;; mysql glance -e 'SELECT * FROM alembic_version'"
  "service|lab_service|glance-api running, listening on port 9292 (step 5)|ss -ltnp | grep 9292;; curl -s http://127.0.0.1:9292/versions"
  "image|images|the lab's kept cirros image (playbooks/images.yml)|openstack image list;; glance image-list"
  "verify|-|glance-verify: the image lifecycle of notes 000, 003, 004 against the live API (make verify)|ls ~/.glance-lab/aio/reports/;; openstack image list"
)

usage() {
  cat <<'EOF'
usage: scripts/lab.sh [STEP|all|list]     (make lab STEP=...)

Take the lab notes' steps on this host, one ansible-playbook run each, in
their order. STEP runs one step; `all` (the default) runs every step in
order, waiting for Enter between steps unless LAB_PAUSE=0 or stdin is not a
terminal; `list` lists them. A step whose earlier steps have not run stops
in preflight, naming the step to run first. Each step shows what it changed
(--diff; secrets are never printed), how to check it by hand (as root, after
`. ~/.glance-lab/aio/admin-openrc`) and how long it took. `make aio` takes
the same steps in one run.

Environment: GLANCE_LAB_INVENTORY (default inventory/aio), GLANCE_LAB_VENV,
LAB_PAUSE (1: wait for Enter between steps, the default on a terminal).
Extra arguments after STEP go to ansible-playbook (e.g. -e lab_address=...).
EOF
}

field() { local IFS='|'; read -r -a f <<<"$1"; printf '%s' "${f[$2]}"; }

list() {
  local i=1 s
  for s in "${steps[@]}"; do
    printf '%2d. %-14s %s\n' "$i" "$(field "$s" 0)" "$(field "$s" 2)"
    i=$((i + 1))
  done
}

# glance-api.conf's settings without its secrets: the value of every
# *password*/*secret* option, and the password in a URL's user:password@.
# Comments and blank lines are left out: Debian's packaged file is thousands
# of commented lines, which would bury the few settings the step writes.
masked_conf() {
  local conf
  for conf in /etc/glance/glance-api.conf /etc/glance/glance-cache.conf; do
    [[ -r $conf ]] || continue
    { grep -Ev '^[[:space:]]*([#;]|$)' "$conf" || true; } |
      sed -E -e 's/^([^#=]*(password|secret)[^=]*=).*/\1 <secret, not shown>/I' \
        -e 's#(://[^:/@]+:)[^@]*@#\1<secret>@#g' | sed "s#^#${conf##*/}: #"
  done
}

run_step() {  # step-entry extra-args...
  local entry=$1 name tags playbook start rc=0 before
  shift
  name=$(field "$entry" 0)
  tags=$(field "$entry" 1)
  printf '\n=== lab step %s: %s\n' "$name" "$(field "$entry" 2)"
  start=$SECONDS
  before=$(masked_conf)
  if [[ $name == verify ]]; then
    playbook=(playbooks/verify.yml)
  else
    playbook=(playbooks/site.yml --tags "$tags")
  fi
  ansible-playbook -i "$inventory" "${playbook[@]}" --diff -e lab_step="$name" "$@" || rc=$?
  if [[ $name == config ]]; then
    echo "--- what changed in the configuration (secrets masked):"
    diff -u <(printf '%s\n' "$before") <(masked_conf) || true
  fi
  if [[ $rc == 0 ]]; then
    echo "--- check it by hand (as root, after . ~/.glance-lab/aio/admin-openrc):"
    field "$entry" 3 | sed -e 's/;; /\n/g' | sed 's/^/    /'
    echo
  fi
  printf '=== lab step %s: %s in %s s\n' "$name" "$([[ $rc == 0 ]] && echo ok || echo "FAILED (exit $rc)")" \
    $((SECONDS - start))
  return "$rc"
}

step=${1:-all}
[[ $# -gt 0 ]] && shift
case $step in
  -h | --help | help) usage; exit 0 ;;
  list) list; exit 0 ;;
esac

venv=${GLANCE_LAB_VENV:-$PWD/.venv}
export PATH=$venv/bin:$PATH ANSIBLE_CONFIG=$PWD/ansible.cfg
inventory=${GLANCE_LAB_INVENTORY:-inventory/aio}

if [[ $step != all ]]; then
  for s in "${steps[@]}"; do
    [[ $(field "$s" 0) == "$step" ]] && { run_step "$s" "$@"; exit; }
  done
  echo "scripts/lab.sh: unknown step '$step'; the steps are:" >&2
  list >&2
  exit 2
fi

pause=${LAB_PAUSE:-1}
[[ -t 0 ]] || pause=0
start=$SECONDS
last=${steps[-1]}
for s in "${steps[@]}"; do
  run_step "$s" "$@"
  if [[ $pause != 0 && $s != "$last" ]]; then
    read -r -p "Enter: the next step; Ctrl-C: stop here (make lab STEP=<step> goes on later) " _
  fi
done
printf '\n=== every lab step ok in %s s\n' $((SECONDS - start))
