"""The plan: every step of a glance-verify run in order, what each needs, and when it
does not apply given the options."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from glance_verify import import_steps, labs, lifecycle, metadefs, nodes
from glance_verify.context import Context
from glance_verify.imports import http_url, refused_url
from glance_verify.options import Options


@dataclass(frozen=True)
class Step:
    name: str
    help: str
    func: Callable[[Context], str]
    #: Steps that must have passed for this one to run.
    requires: tuple[str, ...] = ()
    #: Steps that must have run (pass or fail) for this one to run.
    after: tuple[str, ...] = ()
    #: May be named in --skip.
    skippable: bool = True
    #: Given the options, why this step does not apply (None: it applies).
    not_applicable: Callable[[Options], str | None] = lambda opts: None


def _file_store_not_applicable(o: Options) -> str | None:
    if o.rbd_pool:
        return "the image's store is rbd"
    return None if o.store_path else "no --store-path"


def _rbd_not_applicable(o: Options) -> str | None:
    if not o.rbd_pool:
        return "the image's store is not rbd (no --rbd-pool)"
    if o.locations_hidden:
        return "Glance shows no locations (show_image_direct_url, show_multiple_locations off)"
    return None


def _spread_not_applicable(o: Options) -> str | None:
    if not o.api_nodes:
        return "no --api-node"
    return None if o.served_by_header else "--served-by-header ''"


STEPS: tuple[Step, ...] = (
    Step(
        "release",
        "ask Glance which Image API it serves (GET /versions): the CURRENT version and the "
        "Glance release behind it (v2.15/v2.16: Zed, Debian 12; v2.17: 2025.1, Debian 13)",
        lifecycle.step_release,
    ),
    Step(
        "source",
        "get the image: --image-file, or --image-url (cached), or build a qcow2 with qemu-img "
        "when the URL is unreachable",
        lifecycle.step_source,
        skippable=False,
    ),
    Step(
        "create-empty",
        "create an empty image: status queued, no checksum, no os_hash_value",
        lifecycle.step_create_empty,
        requires=("source",),
        skippable=False,
    ),
    Step(
        "upload",
        "stream the file to the image (hashing it in the same pass): status active, size, "
        "checksum (md5), os_hash_algo and os_hash_value equal the local values",
        lifecycle.step_upload,
        requires=("create-empty",),
        skippable=False,
    ),
    Step(
        "expected-hash",
        "the image's digest equals --expect-hash ALGO:HEX (e.g. a published checksum)",
        lifecycle.step_expected_hash,
        requires=("upload",),
        not_applicable=lambda o: None if o.expect_hash else "no --expect-hash",
    ),
    Step(
        "store-file",
        "the store holds STORE_PATH/<image id> with the image's size",
        lifecycle.step_store_file,
        requires=("upload",),
        not_applicable=lambda o: _file_store_not_applicable(o),
    ),
    Step(
        "store-rbd",
        "the image's store is rbd: its direct_url or locations name "
        "rbd://<fsid>/POOL/<image id>/snap in the configured pool (skipped when Glance "
        "shows neither)",
        lifecycle.step_store_rbd,
        requires=("upload",),
        not_applicable=lambda o: _rbd_not_applicable(o),
    ),
    Step(
        "image-cache",
        "download the image: it appears in Glance's cache listing (GET /v2/cache, else "
        "/v2/cached_images); a second download is a cache hit (hits grow; with "
        "--image-cache-dir the cache file is there); removing it via the API empties it",
        labs.step_image_cache,
        requires=("upload",),
        not_applicable=lambda o: None if o.image_cache else "no --image-cache",
    ),
    Step(
        "list-show",
        "image list (by name) finds it; image show reports the uploaded values",
        lifecycle.step_list_show,
        requires=("upload",),
    ),
    Step(
        "set-property",
        f"image set {lifecycle.PROPERTY_KEY}=<run id>; image show returns it",
        lifecycle.step_set_property,
        requires=("upload",),
    ),
    Step(
        "deactivate",
        "give the image to a temporary project, deactivate it: a member of that project "
        "gets HTTP 403 on download",
        lifecycle.step_deactivate,
        requires=("upload",),
    ),
    Step(
        "reactivate",
        "reactivate: status active, and that member downloads it (HTTP 200)",
        lifecycle.step_reactivate,
        requires=("upload",),
        after=("deactivate",),
        skippable=False,
    ),
    Step(
        "share",
        "visibility shared, add a second temporary project as member; it accepts and sees "
        "the image in its list; remove the member",
        lifecycle.step_share,
        requires=("upload",),
    ),
    Step(
        "download",
        "download (streamed) and compare size, md5 and os_hash of the downloaded bytes",
        lifecycle.step_download,
        requires=("upload",),
    ),
    Step(
        "api-nodes",
        "per --api-node: the node itself (same token, its own URL) shows the image active "
        "with the uploaded size, checksum and os_hash_value, and its download hashes "
        "(md5, os_hash) equal the local file's",
        nodes.step_api_nodes,
        requires=("upload",),
        not_applicable=lambda o: None if o.api_nodes else "no --api-node",
    ),
    Step(
        "lb-spread",
        "GET /v2/images/<id> through the public endpoint, two per --api-node (at least "
        f"{nodes.MIN_SPREAD_REQUESTS}): the --served-by-header values name at least as many "
        "servers as there are --api-node",
        nodes.step_lb_spread,
        requires=("upload",),
        not_applicable=lambda o: _spread_not_applicable(o),
    ),
    Step(
        "delete",
        "delete the image; GET answers 404",
        lifecycle.step_delete,
        requires=("create-empty",),
        not_applicable=lambda o: "--keep" if o.keep else None,
    ),
    Step(
        "db-row",
        "the glance database keeps the images row: status deleted, deleted=1",
        lifecycle.step_db_row,
        requires=("delete",),
        not_applicable=lambda o: None if o.db_url else "no --db-url",
    ),
    Step(
        "store-file-gone",
        "STORE_PATH/<image id> is gone from the store",
        lifecycle.step_store_file_gone,
        # Without store-file having found the file, "gone" proves nothing.
        requires=("delete", "store-file"),
        not_applicable=lambda o: _file_store_not_applicable(o),
    ),
    Step(
        "store-info",
        "GET /v2/info/stores lists every --backend and marks --default-backend as the "
        "default; with NAME=DIR, /v2/info/stores/detail shows type file and that data_dir",
        labs.step_store_info,
        not_applicable=lambda o: (
            None if o.backends or o.default_backend else "no --backend or --default-backend"
        ),
    ),
    Step(
        "backends",
        "per --backend: upload the image to it (X-Image-Meta-Store): active, stores=NAME, "
        "md5 and os_hash as local; location file://DIR/<id> when shown; DIR/<id> has its "
        "size with --local-stores; delete: 404, file gone",
        labs.step_backends,
        requires=("source",),
        not_applicable=lambda o: None if o.backends else "no --backend",
    ),
    Step(
        "quota",
        "upload --quota + 1 MiB of generated data, with Content-Length and chunked: HTTP "
        "413, the image not active, no file left in the store; a small upload still works",
        labs.step_quota,
        not_applicable=lambda o: None if o.quota else "no --quota",
    ),
    Step(
        "keystone-limits",
        "GET /v2/info/usage reports Keystone's limits (as --keystone-limit); upload until "
        "usage is over image_size_total (Glance checks before an upload, so that one "
        "passes), then 1 MiB: HTTP 413, nothing stored; after deleting the fill it passes",
        labs.step_keystone_limits,
        not_applicable=lambda o: None if o.keystone_limits else "no --keystone-limits",
    ),
    Step(
        "metadefs",
        "GET /v2/metadefs/namespaces: every namespace of the definition files (with "
        "--config and the files here; else the standard ones) is there with its resource "
        "type associations, properties and objects; an admin creates a namespace, adds a "
        "property and an OS::Glance::Image association, sees it listed, deletes it (404)",
        metadefs.step_metadefs,
        not_applicable=lambda o: None if o.metadefs else "no --metadefs",
    ),
    Step(
        "http-store",
        "register --http-url as the location of a queued image: active without passing "
        "through saving; the data downloaded through Glance equals the URL's (md5, os_hash)",
        labs.step_http_store,
        not_applicable=lambda o: None if o.http_url else "no --http-url",
    ),
)


def _method_off(opts: Options, method: str) -> str | None:
    if method in opts.import_methods:
        return None
    if not opts.import_methods:
        return "no import methods known (--config image_import, or --import-methods)"
    return f"{method} is not an enabled import method ({', '.join(opts.import_methods)})"


def web_download_not_applicable(opts: Options) -> str | None:
    """web-download off, or the filters refuse the server this step would start."""
    off = _method_off(opts, "web-download")
    if off is not None:
        return off
    url = http_url(opts.serve_address, opts.serve_port)
    reason = opts.import_filters.refusal(url)
    if reason is not None:
        return (
            f"the import filters refuse {url}: {reason} (allow the server's host and "
            "port: glance_import_allowed_hosts/_ports; or --serve-address/--serve-port)"
        )
    return None


def copy_not_applicable(opts: Options) -> str | None:
    off = _method_off(opts, "copy-image")
    if off is not None:
        return off
    if import_steps.copy_stores(opts) is None:
        return "copy-image needs two stores that take uploads (--backend, --config backends)"
    return None


def refused_not_applicable(opts: Options) -> str | None:
    off = _method_off(opts, "web-download")
    if off is not None:
        return off
    if refused_url(opts.import_filters, opts.serve_address, opts.serve_port) is None:
        return "the import filters refuse no URL this step could try"
    return None


IMPORT_STEPS: tuple[Step, ...] = (
    Step(
        "import-methods",
        "GET /v2/info/import offers exactly the enabled import methods",
        import_steps.step_import_methods,
        not_applicable=lambda o: (
            None if o.import_methods else _method_off(o, "any import method")
        ),
    ),
    Step(
        "import-glance-direct",
        "create, stage the data (PUT /stage), import with glance-direct: statuses queued -> "
        "uploading -> importing -> active (each with its time), size, checksum and os_hash "
        "as local; with local stores the staged file is there, then gone; delete",
        import_steps.step_import_glance_direct,
        requires=("source",),
        not_applicable=lambda o: _method_off(o, "glance-direct"),
    ),
    Step(
        "import-web-download",
        "serve the image from an HTTP server started here (--serve-address/--serve-port), "
        "import it with web-download: queued -> importing -> active, Glance fetched it, "
        "size, checksum and os_hash as local; stop the server, delete",
        import_steps.step_import_web_download,
        requires=("source",),
        not_applicable=web_download_not_applicable,
    ),
    Step(
        "import-copy-image",
        "upload to the default store, copy the image to another with copy-image: it stays "
        "active (each state seen, with its time), then lists both stores; with local "
        "stores the file in each hashes as the uploaded data; delete: 404, files gone",
        import_steps.step_import_copy_image,
        requires=("source",),
        not_applicable=copy_not_applicable,
    ),
    Step(
        "import-refused",
        "web-download from a URL the import filters refuse (a port or host they disallow): "
        "refused (HTTP 400) or failed (os_glance_failed_import, the task's message); the "
        "image not active, nothing stored or staged, nothing fetched; delete",
        import_steps.step_import_refused,
        not_applicable=refused_not_applicable,
    ),
)

STEPS = STEPS + IMPORT_STEPS

SKIPPABLE = tuple(s.name for s in STEPS if s.skippable)


def enabled_steps(opts: Options, steps: Sequence[Step] = STEPS) -> tuple[str, ...]:
    """The steps the options turn on: each applies (not_applicable says nothing), is not
    named in --skip, and so are the steps it needs (``requires`` and ``after``); --keep
    thus leaves out delete, db-row and store-file-gone. With --require-enabled each of
    these must pass."""
    enabled: set[str] = set()
    for step in steps:
        if (
            step.name not in opts.skip
            and step.not_applicable(opts) is None
            and all(name in enabled for name in (*step.requires, *step.after))
        ):
            enabled.add(step.name)
    return tuple(s.name for s in steps if s.name in enabled)
