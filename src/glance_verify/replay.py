"""``glance-verify --explain-script FILE``: the lifecycle steps of a run as a bash script
that replays them with the admin openrc, once with the ``openstack`` client and once with
the ``glance`` client (the lab notes' two columns).

The printed ``--explain`` lines carry the run's own ids, which are gone once the run has
cleaned up. The script makes its own image instead: the first command of a client's part
captures the new image's id in ``IMAGE_ID`` and every later command uses ``"$IMAGE_ID"``;
the run's ids stay as comments to compare with. The script stops at the first failing
command (``set -euo pipefail``), checks the status each action leaves, and removes the
image and the projects it made, also after a failure.

Only the steps that passed are replayed; a step with no client equivalent is left out
(the database row and the store file show as comments: they are read on the Glance host).
Every command form here was checked against ``--help`` of both releases' clients: Debian
12 (openstackclient 6.0, glanceclient 4.1) and Debian 13 (openstackclient 7.4,
glanceclient 4.8).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence

from glance_verify.context import Context
from glance_verify.lifecycle import PROPERTY_KEY

CLIENTS = ("openstack", "glance")

#: ``STATUS`` of the image, read the same way for both parts.
STATUS = 'openstack image show -f value -c status "$IMAGE_ID"'

PREAMBLE = r"""set -euo pipefail

case ${1:-both} in
  both) clients=(openstack glance) ;;
  openstack | glance) clients=("$1") ;;
  *) echo "usage: $0 [openstack|glance]  (after: . admin-openrc)" >&2; exit 2 ;;
esac

IMAGE_ID=
work=$(mktemp -d)

# expect WHAT GOT WANT: say it, or stop the replay.
expect() {
  if [[ $2 != "$3" ]]; then
    echo "replay: $1 is '$2', expected '$3'" >&2
    exit 1
  fi
  echo "ok: $1 = $3"
}

# Whatever the replay made goes, also after a failure (the exit status is kept).
remove_image() {
  if [[ -n $IMAGE_ID ]] && openstack image show "$IMAGE_ID" >/dev/null 2>&1; then
    openstack image delete "$IMAGE_ID"
  fi
  IMAGE_ID=
}
# project NAME VAR: make project NAME (once), its id in VAR.
declare -A projects=()
project() {
  if [[ -z ${projects[$1]:-} ]]; then
    projects[$1]=$(openstack project create --or-show -f value -c id "$1")
  fi
  printf -v "$2" %s "${projects[$1]}"
}
cleanup() {
  local status=$?
  remove_image || status=1
  if ((${#projects[@]})); then
    openstack project delete "${!projects[@]}" || status=1
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
"""


def _q(text: str) -> str:
    return shlex.quote(text)


def _formats(ctx: Context) -> str:
    o = ctx.opts
    return f"--disk-format {_q(o.disk_format)} --container-format {_q(o.container_format)}"


def _create_empty(ctx: Context, client: str) -> list[str]:
    run = f"# the run's image: {ctx.image_id} ({ctx.image_name}), queued"
    if client == "openstack":
        # Without --file it reads stdin when that is not a terminal, and with stdin
        # closed (<&-) it fails: an empty image only from a terminal.
        return [
            run,
            "# openstack makes an empty (queued) image only from a terminal (else it reads stdin):",
            "# here it creates and uploads in one go, as the notes do (step upload)",
        ]
    # <&-: no stdin at all, else glance uploads whatever stdin holds (an empty pipe
    # makes an active 0-byte image instead of a queued one).
    return [
        run,
        f'IMAGE_ID=$(glance image-create --name "$NAME" {_formats(ctx)} --visibility '
        f"{_q(ctx.opts.visibility)} <&- | awk '$2 == \"id\" {{print $4}}')",
        f'expect "status of image $IMAGE_ID" "$({STATUS})" queued',
    ]


def _upload(ctx: Context, client: str) -> list[str]:
    store = f" --store {_q(ctx.opts.store)}" if ctx.opts.store else ""
    sums = ctx.local
    lines = [f"# the run's data: {sums.size} bytes, {sums.algo} {sums.value}"] if sums else []
    if client == "openstack":
        if store:
            lines.append("# openstack image create has no --store: the default store")
        lines += [
            f"IMAGE_ID=$(openstack image create {_formats(ctx)} --{ctx.opts.visibility} "
            '--file "$IMAGE_FILE" -f value -c id "$NAME")',
        ]
    else:
        lines.append(f'glance image-upload --file "$IMAGE_FILE"{store} "$IMAGE_ID"')
    return [*lines, f'expect status "$({STATUS})" active']


def _list_show(ctx: Context, client: str) -> list[str]:
    if client == "openstack":
        return ['openstack image list --name "$NAME"', 'openstack image show "$IMAGE_ID"']
    return [
        'glance image-list --property-filter name="$NAME"',
        'glance image-show "$IMAGE_ID"',
    ]


def _set_property(ctx: Context, client: str) -> list[str]:
    prop = f"{PROPERTY_KEY}={ctx.run_id}"
    verb = "openstack image set" if client == "openstack" else "glance image-update"
    return [f'{verb} --property {_q(prop)} "$IMAGE_ID"']


def _deactivate(ctx: Context, client: str) -> list[str]:
    run_owner = ctx.owner_user.name if ctx.owner_user is not None else "-"
    if client == "openstack":
        give = 'openstack image set --project "$OWNER" "$IMAGE_ID"'
        action = 'openstack image set --deactivate "$IMAGE_ID"'
    else:
        give = 'glance image-update --owner "$owner_id" "$IMAGE_ID"'
        action = 'glance image-deactivate "$IMAGE_ID"'
    return [
        f"# the run gave its image to project {run_owner} (a member of it then got "
        "HTTP 403 on download)",
        'project "$OWNER" owner_id',
        give,
        action,
        f'expect status "$({STATUS})" deactivated',
    ]


def _reactivate(ctx: Context, client: str) -> list[str]:
    if client == "openstack":
        action = 'openstack image set --activate "$IMAGE_ID"'
    else:
        action = 'glance image-reactivate "$IMAGE_ID"'
    return [action, f'expect status "$({STATUS})" active']


def _share(ctx: Context, client: str) -> list[str]:
    run_member = ctx.share_user.name if ctx.share_user is not None else "-"
    back = _q(ctx.opts.visibility)
    head = [
        f"# the run shared its image with project {run_member}",
        'project "$MEMBER" member_id',
    ]
    if client == "openstack":
        body = [
            'openstack image set --shared "$IMAGE_ID"',
            'openstack image add project "$IMAGE_ID" "$MEMBER"',
            "# the member accepts: as that project, openstack image set --accept IMAGE;",
            "# the admin here does it for it",
            'glance member-update "$IMAGE_ID" "$member_id" accepted',
            'openstack image member list "$IMAGE_ID"',
            'openstack image remove project "$IMAGE_ID" "$MEMBER"',
            f'openstack image set --{ctx.opts.visibility} "$IMAGE_ID"',
        ]
    else:
        body = [
            'glance image-update --visibility shared "$IMAGE_ID"',
            'glance member-create "$IMAGE_ID" "$member_id"',
            'glance member-update "$IMAGE_ID" "$member_id" accepted',
            'glance member-list --image-id "$IMAGE_ID"',
            'glance member-delete "$IMAGE_ID" "$member_id"',
            f'glance image-update --visibility {back} "$IMAGE_ID"',
        ]
    return [*head, *body]


def _download(ctx: Context, client: str) -> list[str]:
    if client == "openstack":
        get = 'openstack image save --file "$work/$IMAGE_ID.download" "$IMAGE_ID"'
    else:
        get = 'glance image-download --file "$work/$IMAGE_ID.download" "$IMAGE_ID"'
    got = '$(sha512sum <"$work/$IMAGE_ID.download")'
    return [get, f'expect "sha512 of the download" "{got}" "$(sha512sum <"$IMAGE_FILE")"']


def _delete(ctx: Context, client: str) -> list[str]:
    if client == "openstack":
        action = 'openstack image delete "$IMAGE_ID"'
    else:
        action = 'glance image-delete "$IMAGE_ID"'
    gone = '"$(openstack image show "$IMAGE_ID" >/dev/null 2>&1 && echo found || echo gone)"'
    return [action, f"expect 'image show' {gone} gone", "IMAGE_ID="]


def _db_row(ctx: Context, client: str) -> list[str]:
    return [
        "# on the database host: mysql glance -e "
        "\"SELECT id, status, deleted FROM images WHERE id = '$IMAGE_ID'\""
    ]


def _store_file(ctx: Context, client: str) -> list[str]:
    return ["# on the Glance host: ls -l <filesystem_store_datadir>/$IMAGE_ID"]


REPLAY: dict[str, Callable[[Context, str], list[str]]] = {
    "create-empty": _create_empty,
    "upload": _upload,
    "store-file": _store_file,
    "list-show": _list_show,
    "set-property": _set_property,
    "deactivate": _deactivate,
    "reactivate": _reactivate,
    "share": _share,
    "download": _download,
    "delete": _delete,
    "db-row": _db_row,
    "store-file-gone": _store_file,
}


def _header(ctx: Context, image_file: str) -> list[str]:
    return [
        "#!/usr/bin/env bash",
        f"# glance-verify --explain-script: run {ctx.run_id}'s image steps as commands.",
        "# Replay them with the admin credentials, both clients one after the other, or one:",
        "#   . admin-openrc && bash THIS-FILE [openstack|glance]",
        "# Each client's part makes its own image (the run deleted its own): the first",
        '# command captures its id in IMAGE_ID, later ones use "$IMAGE_ID"; comments give',
        "# the run's ids to compare. The replay stops at the first error and removes what",
        "# it made. IMAGE_FILE (the data to upload) and NAME may be set in the environment.",
        f"IMAGE_FILE=${{IMAGE_FILE:-{_q(image_file)}}}",
        f"NAME=${{NAME:-{_q(ctx.run_id + '-replay')}}}",
        "OWNER=$NAME-owner",
        "MEMBER=$NAME-member",
    ]


def replay_script(ctx: Context, steps: Sequence[str]) -> str:
    """The bash script that replays ``steps`` (the lifecycle steps that passed, in order)
    with each client."""
    image_file = str(ctx.source.path) if ctx.source is not None else "IMAGE_FILE"
    lines = [*_header(ctx, image_file), PREAMBLE]
    for client in CLIENTS:
        lines.append(f"replay_{client}() {{")
        for step in steps:
            make = REPLAY.get(step)
            if make is None:
                continue
            lines.append(f"  # -- step {step}")
            lines += [f"  {line}" for line in make(ctx, client)]
        lines += ["  remove_image", "}", ""]
    lines += [
        'for client in "${clients[@]}"; do',
        '  echo "== replay with the $client client"',
        '  "replay_$client"',
        "done",
        'echo "replay: every command succeeded; what it made is removed"',
    ]
    return "\n".join(lines) + "\n"
