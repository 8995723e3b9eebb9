"""``glance-verify --explain``: for each step that ran, the ``openstack`` and ``glance``
command lines that do the same thing by hand (the lab notes' table: image-create /
image create, image-deactivate / image set --deactivate, member-create / image add
project, image-download / image save, image-delete / image delete), with the run's real
ids and names, so that a learner can replay them with the admin openrc.

Each action comes as a pair, the openstack line and its glance twin: replay one of the
two. The run's temporary projects are deleted at its end and the openstack client looks
projects up in Keystone, so the lines first make them again by name. Steps with no
command-line equivalent (source, the import steps for now) print nothing.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable

from glance_verify.context import Context
from glance_verify.lifecycle import PROPERTY_KEY

#: Shown before the first create: why a replayed create must run from a terminal.
STDIN_NOTE = (
    "# from a terminal: without --file, both clients read the image data from stdin "
    "when it is not one"
)


def _cmd(*argv: str) -> str:
    return shlex.join(argv)


def _image(ctx: Context) -> str:
    return ctx.image_id or "IMAGE_ID"


def _file(ctx: Context) -> str:
    if ctx.source is not None:
        return str(ctx.source.path)
    return ctx.opts.image_file or "IMAGE_FILE"


def _project(name: str, role: str) -> list[str]:
    """The run deletes its temporary projects at its end, and the openstack client looks a
    project up in Keystone: to replay, make it again (same name)."""
    return [
        f"# the run's {role} project {name} is deleted at its end; to replay, make it again:",
        _cmd("openstack", "project", "create", name),
    ]


def _project_id(name: str) -> str:
    """A shell expression for the id of project ``name`` (the glance client wants ids)."""
    return f'"$({_cmd("openstack", "project", "show", "-f", "value", "-c", "id", name)})"'


def _release(ctx: Context) -> list[str]:
    return [
        _cmd("openstack", "versions", "show", "--service", "image", "--status", "CURRENT"),
        "# glance: no such command; the API answers GET / at the image endpoint",
    ]


def _create_empty(ctx: Context) -> list[str]:
    o = ctx.opts
    name = ctx.image_name or "NAME"
    formats = ("--disk-format", o.disk_format, "--container-format", o.container_format)
    return [
        STDIN_NOTE,
        _cmd("openstack", "image", "create", *formats, f"--{o.visibility}", name),
        _cmd("glance", "image-create", "--name", name, *formats, "--visibility", o.visibility),
    ]


def _upload(ctx: Context) -> list[str]:
    store = ("--store", ctx.opts.store) if ctx.opts.store else ()
    return [
        "# openstack: no upload into an existing image; in one go: openstack image create "
        "--file FILE ...",
        _cmd("glance", "image-upload", "--file", _file(ctx), *store, "--progress", _image(ctx)),
        _cmd("openstack", "image", "show", "-c", "status", "-c", "checksum", _image(ctx)),
        _cmd("sha512sum", _file(ctx)),
    ]


def _list_show(ctx: Context) -> list[str]:
    name = ctx.image_name or "NAME"
    return [
        _cmd("openstack", "image", "list", "--name", name),
        _cmd("glance", "image-list", "--property-filter", f"name={name}"),
        _cmd("openstack", "image", "show", _image(ctx)),
        _cmd("glance", "image-show", _image(ctx)),
    ]


def _set_property(ctx: Context) -> list[str]:
    prop = f"{PROPERTY_KEY}={ctx.run_id}"
    return [
        _cmd("openstack", "image", "set", "--property", prop, _image(ctx)),
        _cmd("glance", "image-update", "--property", prop, _image(ctx)),
    ]


def _deactivate(ctx: Context) -> list[str]:
    lines = []
    if ctx.owner_user is not None:
        name = ctx.owner_user.name
        lines += [
            *_project(name, "owner"),
            "# give it the image (a member of that project then gets HTTP 403 on download)",
            _cmd("openstack", "image", "set", "--project", name, _image(ctx)),
            f"glance image-update --owner {_project_id(name)} {shlex.quote(_image(ctx))}",
        ]
    return [
        *lines,
        _cmd("openstack", "image", "set", "--deactivate", _image(ctx)),
        _cmd("glance", "image-deactivate", _image(ctx)),
    ]


def _reactivate(ctx: Context) -> list[str]:
    return [
        _cmd("openstack", "image", "set", "--activate", _image(ctx)),
        _cmd("glance", "image-reactivate", _image(ctx)),
    ]


def _share(ctx: Context) -> list[str]:
    image = _image(ctx)
    name = ctx.share_user.name if ctx.share_user is not None else "PROJECT"
    project, quoted = _project_id(name), shlex.quote(image)
    back = ctx.opts.visibility
    return [
        *_project(name, "member"),
        _cmd("openstack", "image", "set", "--shared", image),
        _cmd("glance", "image-update", "--visibility", "shared", image),
        _cmd("openstack", "image", "add", "project", image, name),
        f"glance member-create {quoted} {project}",
        "# the member project accepts (openstack: as that project, image set --accept)",
        f"glance member-update {quoted} {project} accepted",
        _cmd("openstack", "image", "member", "list", image),
        _cmd("glance", "member-list", "--image-id", image),
        _cmd("openstack", "image", "remove", "project", image, name),
        f"glance member-delete {quoted} {project}",
        _cmd("openstack", "image", "set", f"--{back}", image),
        _cmd("glance", "image-update", "--visibility", back, image),
    ]


def _download(ctx: Context) -> list[str]:
    image = _image(ctx)
    out = f"{image}.download"
    return [
        _cmd("openstack", "image", "save", "--file", out, image),
        _cmd("glance", "image-download", "--file", out, "--progress", image),
        _cmd("sha512sum", out),
        _cmd("md5sum", out),
    ]


def _delete(ctx: Context) -> list[str]:
    return [
        _cmd("openstack", "image", "delete", _image(ctx)),
        _cmd("glance", "image-delete", _image(ctx)),
    ]


def _db_row(ctx: Context) -> list[str]:
    # Printed for the learner, never run here; the id is Glance's UUID.
    sql = f"SELECT id, status, deleted, deleted_at FROM images WHERE id = '{_image(ctx)}'"  # noqa: S608
    return [_cmd("mysql", "glance", "-e", sql)]


def _store_file(ctx: Context) -> list[str]:
    directory = ctx.opts.store_path
    return [_cmd("ls", "-l", f"{directory}/{_image(ctx)}")] if directory else []


EXPLAIN: dict[str, Callable[[Context], list[str]]] = {
    "release": _release,
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


def explain_lines(step: str, ctx: Context) -> list[str]:
    """The command lines that do what ``step`` did (none for a step without any)."""
    make = EXPLAIN.get(step)
    return make(ctx) if make is not None else []
