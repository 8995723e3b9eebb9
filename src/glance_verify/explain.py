"""``glance-verify --explain``: for each step that ran, the ``openstack`` and ``glance``
command lines that do the same thing by hand (the lab notes' table: image-create /
image create, image-deactivate / image set --deactivate, member-create / image add
project, image-download / image save, image-delete / image delete), with the run's real
ids and names, so that a learner can replay them with the admin openrc.

Each action comes as a pair, the openstack line and its glance twin: replay one of the
two. The run's temporary projects are deleted at its end and the openstack client looks
projects up in Keystone, so the lines first make them again by name. Steps with no
command-line equivalent (source, quota, keystone-limits, ...) print nothing.

The import and storage steps' forms as the clients of both releases take them (their
``--help``): glanceclient 4.1 (Debian 12) and 4.8 (Debian 13) have image-stage,
image-import, stores-info and the cache-* commands; openstackclient 6.0 (Debian 12) has
none of these, 7.4 (Debian 13) has ``image stage``, ``image import``, ``image import
info``, ``image stores list`` and ``cached image list/delete`` (so they are marked
"openstackclient 7").

``--explain-script`` (``replay.py``) writes the lifecycle steps as a script to replay.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable

from glance_verify.context import Context
from glance_verify.import_steps import copy_stores
from glance_verify.imports import http_url
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


#: Marks the openstack forms that openstackclient 6.0 (Debian 12) lacks.
OSC7 = "# openstackclient 7 (Debian 13):"


def _temp(ctx: Context, suffix: str) -> str:
    """The id of the run's extra image ``<run id>-<suffix>``."""
    return ctx.temp_images.get(suffix, "IMAGE_ID")


def _create_temp(ctx: Context, suffix: str, *more: str) -> list[str]:
    """The glance line that makes an extra image as the step did (queued, no data)."""
    o = ctx.opts
    formats = ("--disk-format", o.disk_format, "--container-format", o.container_format)
    name = f"{ctx.run_id}-{suffix}"
    return [
        f"# the run's image {_temp(ctx, suffix)} ({name}), queued:",
        _cmd("glance", "image-create", "--name", name, *formats, *more),
    ]


def _import_methods(ctx: Context) -> list[str]:
    return [_cmd("glance", "import-info"), f"{OSC7} openstack image import info"]


def _import_glance_direct(ctx: Context) -> list[str]:
    image = _temp(ctx, "import-direct")
    return [
        *_create_temp(ctx, "import-direct"),
        _cmd("glance", "image-stage", "--file", _file(ctx), "--progress", image),
        _cmd("glance", "image-import", "--import-method", "glance-direct", image),
        f"{OSC7} {_cmd('openstack', 'image', 'stage', '--file', _file(ctx), image)}",
        f"{OSC7} {_cmd('openstack', 'image', 'import', '--method', 'glance-direct', image)}",
        _cmd("openstack", "image", "show", "-c", "status", "-c", "checksum", image),
        _cmd("glance", "image-delete", image),
    ]


def _web_url(ctx: Context) -> str:
    o = ctx.opts
    return http_url(o.serve_address, o.serve_port, f"{ctx.run_id}.{o.disk_format}")


def _import_web_download(ctx: Context) -> list[str]:
    image, url = _temp(ctx, "import-web"), _web_url(ctx)
    return [
        f"# the run served the image at {url} while Glance fetched it",
        *_create_temp(ctx, "import-web"),
        _cmd("glance", "image-import", "--import-method", "web-download", "--uri", url, image),
        f"{OSC7} "
        + _cmd("openstack", "image", "import", "--method", "web-download", "--uri", url, image),
        _cmd("openstack", "image", "show", "-c", "status", "-c", "checksum", image),
        _cmd("glance", "image-delete", image),
    ]


def _import_refused(ctx: Context) -> list[str]:
    image = _temp(ctx, "import-refused")
    return [
        *_create_temp(ctx, "import-refused"),
        "# the import filters refuse the URL: HTTP 400, or the task fails "
        "(os_glance_failed_import)",
        _cmd("glance", "image-import", "--import-method", "web-download", "--uri", "URL", image),
        _cmd("glance", "image-tasks", image),
        _cmd("glance", "image-delete", image),
    ]


def _import_copy_image(ctx: Context) -> list[str]:
    pair = copy_stores(ctx.opts)
    source, target = (pair[0].name, pair[1].name) if pair else ("STORE", "OTHER_STORE")
    image = _temp(ctx, "import-copy")
    return [
        *_create_temp(ctx, "import-copy"),
        _cmd("glance", "image-upload", "--file", _file(ctx), "--store", source, image),
        _cmd("glance", "image-import", "--import-method", "copy-image", "--stores", target, image),
        f"{OSC7} "
        + _cmd("openstack", "image", "import", "--method", "copy-image", "--store", target, image),
        _cmd("openstack", "image", "show", "-c", "stores", image),
        _cmd("glance", "image-delete", image),
    ]


def _store_info(ctx: Context) -> list[str]:
    return [
        _cmd("glance", "stores-info"),
        _cmd("glance", "stores-info", "--detail"),
        f"{OSC7} openstack image stores list",
    ]


def _backends(ctx: Context) -> list[str]:
    lines = ["# openstack: no store-targeted upload; glance's --store:"]
    for backend in ctx.opts.backends:
        suffix = f"backend-{backend.name}"
        image = _temp(ctx, suffix)
        lines += [
            *_create_temp(ctx, suffix),
            _cmd("glance", "image-upload", "--file", _file(ctx), "--store", backend.name, image),
            _cmd("openstack", "image", "show", "-c", "stores", image),
            _cmd("glance", "image-delete", image),
        ]
    return lines


def _image_cache(ctx: Context) -> list[str]:
    image = _image(ctx)
    return [
        _cmd("glance", "image-download", "--file", "/dev/null", image),
        _cmd("glance", "cache-list"),
        f"{OSC7} openstack cached image list",
        "# a second download is a cache hit (its Hits grow)",
        _cmd("glance", "image-download", "--file", "/dev/null", image),
        _cmd("glance", "cache-delete", image),
        f"{OSC7} {_cmd('openstack', 'cached', 'image', 'delete', image)}",
    ]


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
    "image-cache": _image_cache,
    "store-info": _store_info,
    "backends": _backends,
    "import-methods": _import_methods,
    "import-glance-direct": _import_glance_direct,
    "import-web-download": _import_web_download,
    "import-copy-image": _import_copy_image,
    "import-refused": _import_refused,
}


def explain_lines(step: str, ctx: Context) -> list[str]:
    """The command lines that do what ``step`` did (none for a step without any)."""
    make = EXPLAIN.get(step)
    return make(ctx) if make is not None else []
