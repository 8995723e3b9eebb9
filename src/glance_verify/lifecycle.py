"""The image lifecycle steps: release, source, create, upload, the checks on the image,
share, download, delete, the database row and the store file.

Each step function takes the run's Context, raises CheckFailed when a check does not
hold, and returns a one-line description of what it saw. Whatever a step creates is
registered on the cleanup stack right after it exists. The helpers that upload, download
and check files here are shared with the storage-lab steps (``labs.py``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from glance_verify.cloud import GlanceApi, TempUser, hash_download, wait_for_status
from glance_verify.compare import (
    deleted_row_problems,
    digest_problems,
    expected_hash_problems,
    image_record_problems,
    mismatch,
    queued_image_problems,
    require,
)
from glance_verify.context import Context, Transfer
from glance_verify.errors import CheckFailed, StepSkipped
from glance_verify.hashing import Digests, HashingReader
from glance_verify.progress import human_bytes
from glance_verify.source import remove_scratch, resolve_source
from glance_verify.storage import image_location_urls, rbd_location_problems

#: The image property that step set-property writes and reads back.
PROPERTY_KEY = "glance_verify_check"


#: The Image API version each Glance release that Debian ships serves as CURRENT,
#: as measured on Debian's packages: Debian 12 ships Zed (Glance 25), which serves
#: v2.15, or v2.16 with the image cache on (the cache API); Debian 13 ships 2025.1
#: (Glance 30), which serves v2.17 either way. Values: (OpenStack release, Debian).
RELEASE_OF_API = {
    "2.15": ("Zed", "12"),
    "2.16": ("Zed", "12"),
    "2.17": ("2025.1", "13"),
}
UNKNOWN_RELEASE = "a release this toolkit was not measured on"


def api_release(versions: Sequence[dict[str, Any]]) -> tuple[str, str]:
    """The CURRENT Image API version and the release it stands for.

    >>> api_release([{"id": "v2.15", "status": "SUPPORTED"}, {"id": "v2.17", "status": "CURRENT"}])
    ('2.17', '2025.1 (Debian 13)')
    """
    current = [str(v.get("id", "")).lstrip("v") for v in versions if v.get("status") == "CURRENT"]
    if not current:
        raise CheckFailed(f"no CURRENT version among {[v.get('id') for v in versions]}")
    version = current[0]
    known = RELEASE_OF_API.get(version)
    return version, UNKNOWN_RELEASE if known is None else f"{known[0]} (Debian {known[1]})"


def release_problems(version: str, expect: tuple[str, str] | None, source: str) -> list[str]:
    """What the API's version says against the release ``source`` (--config) names."""
    if expect is None:
        return []
    debian, openstack = expect
    known = RELEASE_OF_API.get(version)
    said = f"{source} says release OpenStack {openstack} on Debian {debian}"
    if known is None:
        return [f"{said}, but the API serves v{version}, {UNKNOWN_RELEASE}"]
    if (known[0].lower(), known[1]) != (openstack.lower(), debian):
        return [f"{said}, but the API serves v{version}: {known[0]} (Debian {known[1]})"]
    return []


def step_release(ctx: Context) -> str:
    version, release = api_release(ctx.api.versions())
    ctx.release = release
    source = f"--config {ctx.opts.config_path}"
    require(release_problems(version, ctx.opts.expect_release, source))
    agrees = f", as {source} says" if ctx.opts.expect_release else ""
    return f"Image API v{version} (CURRENT): Glance {release}{agrees}"


def step_source(ctx: Context) -> str:
    opts = ctx.opts
    source = resolve_source(
        image_file=opts.image_file,
        image_url=opts.image_url,
        cache_dir=opts.cache_dir,
        disk_format=opts.disk_format,
        fallback=opts.fallback,
        progress=ctx.progress if ctx.show_progress else None,
    )
    ctx.source = source
    if source.scratch_dir is not None:
        ctx.cleanup.push(f"remove {source.scratch_dir}", lambda: remove_scratch(source))
    return f"{source.note}; {human_bytes(source.size)} ({source.size} bytes)"


def _delete_image_cleanup(ctx: Context, image_id: str) -> Callable[[], object]:
    def undo() -> None:
        if not ctx.deleted:
            ctx.api.delete_image(image_id, missing_ok=True)

    return undo


def step_create_empty(ctx: Context) -> str:
    opts = ctx.opts
    name = f"{ctx.run_id}-image"
    image = ctx.api.create_image(
        name=name,
        disk_format=opts.disk_format,
        container_format=opts.container_format,
        visibility=opts.visibility,
    )
    ctx.image_id, ctx.image_name = str(image["id"]), name
    ctx.original_owner = image.get("owner")
    if opts.keep:
        ctx.notice(f"--keep: image {ctx.image_id} will be left in place")
    else:
        ctx.cleanup.push(f"delete image {ctx.image_id}", _delete_image_cleanup(ctx, ctx.image_id))
    require(queued_image_problems(image))
    shown = ctx.api.get_image(ctx.image_id)
    if shown is None:
        raise CheckFailed(f"image {ctx.image_id}: created but GET answers 404")
    require(queued_image_problems(shown))
    ctx.image_state("queued", "create-empty", "image show after the create")
    return "status=queued, no checksum, no os_hash_value"


#: Glance's answers to PUT /file when its store driver could not write the data: 410
#: (the file store's directory not writable), 503 (StorageWriteDenied) and 500 (a
#: driver error, e.g. rbd's PermissionError for a Ceph key without caps on the pool).
STORE_REFUSED = {410: "can glance write its store directory?", 500: "", 503: ""}
STORE_HINT = (
    "check the store's permissions and credentials, e.g. the Ceph key's OSD caps on the pool "
    "(ceph auth get client.<user>)"
)


def upload_failure(status: int, text: str) -> str:
    """The message for a PUT /file that Glance did not answer 204 (``text``: what came
    back, ``status`` 0 when no answer came): the store's refusal said as such."""
    if status not in STORE_REFUSED:
        return text
    return f"the store refused the write: {text} ({STORE_REFUSED[status] or STORE_HINT})"


def upload_source(
    ctx: Context, image_id: str, store: str | None, label: str
) -> tuple[Digests, float]:
    """Stream the source file to the image, hashing it on the way: its digests, and the
    seconds from sending the PUT to Glance's answer."""
    source = ctx.source
    if source is None:
        raise CheckFailed("no image source")
    with source.path.open("rb") as handle, ctx.progress(label, source.size) as bar:
        reader = HashingReader(handle, source.size, ctx.opts.hash_algo, progress=bar)
        start = time.monotonic()
        status, text = ctx.api.try_upload(image_id, reader, store=store)
        if status != 204:
            raise CheckFailed(upload_failure(status, text))
        seconds = time.monotonic() - start
    return reader.digests(), seconds


def step_upload(ctx: Context) -> str:
    opts = ctx.opts
    # Not polled: Glance holds the image in saving while the PUT's data arrives.
    ctx.image_state("saving", "upload", "PUT /file sent: Glance saves the data as it arrives")
    ctx.local, put_seconds = upload_source(ctx, ctx.image, opts.store, "upload")
    answered = time.monotonic()
    image = wait_for_status(ctx.api, ctx.image, "active", opts.timeout)
    transfer = Transfer(ctx.local.size, put_seconds, time.monotonic() - answered)
    ctx.transfers["upload"] = transfer
    ctx.image_state("active", "upload", "image show after the PUT's answer")
    require(image_record_problems(ctx.local, image))
    if opts.store and opts.store not in str(image.get("stores", "")).split(","):
        raise CheckFailed(mismatch("stores", opts.store, image.get("stores")))
    where = f", store {opts.store}" if opts.store else ""
    return (
        f"status=active, size={ctx.local.size}, checksum and {ctx.local.algo} "
        f"= local digests (one pass){where}; PUT {transfer.seconds:.2f} s "
        f"({transfer.mib_per_s:.1f} MiB/s), active {transfer.wait_seconds:.2f} s later"
    )


def step_expected_hash(ctx: Context) -> str:
    if ctx.opts.expect_hash is None:
        raise CheckFailed("no --expect-hash")
    algo, value = ctx.opts.expect_hash
    require(expected_hash_problems(ctx.digests, algo, value))
    return f"image {algo} equals --expect-hash"


def require_file_size(path: Path, size: int, where: str = "in the store") -> str:
    """CheckFailed unless ``path`` is a file of ``size`` bytes; says so when it is."""
    try:
        found = path.stat().st_size
    except FileNotFoundError:
        raise CheckFailed(f"{path}: no such file {where}") from None
    except PermissionError:
        raise CheckFailed(f"{path}: permission denied") from None
    require([mismatch(f"{path} size", size, found)] if found != size else [])
    return f"{path} exists, {found} bytes"


def step_store_file(ctx: Context) -> str:
    if ctx.opts.store_path is None:
        raise CheckFailed("no --store-path")
    return require_file_size(ctx.opts.store_path / ctx.image, ctx.digests.size)


def step_store_rbd(ctx: Context) -> str:
    pool = ctx.opts.rbd_pool
    if pool is None:
        raise CheckFailed("no rbd pool (--rbd-pool)")
    shown = ctx.api.get_image(ctx.image)
    if shown is None:
        raise CheckFailed(f"image show {ctx.image}: 404")
    urls = image_location_urls(shown)
    if urls is None:
        raise StepSkipped(
            "Glance shows neither direct_url nor locations (show_image_direct_url and "
            "show_multiple_locations off): the image's place in Ceph is not visible"
        )
    require(rbd_location_problems(urls, pool, ctx.image))
    field = "locations" if shown.get("locations") else "direct_url"
    return f"{field}: {urls[0]} (pool {pool}, the image's id, snapshot snap)"


def step_list_show(ctx: Context) -> str:
    listed = ctx.api.list_images(name=ctx.image_name)
    if ctx.image not in {str(i.get("id")) for i in listed}:
        raise CheckFailed(f"image list (name={ctx.image_name}) does not include {ctx.image}")
    shown = ctx.api.get_image(ctx.image)
    if shown is None:
        raise CheckFailed(f"image show {ctx.image}: 404")
    problems = image_record_problems(ctx.digests, shown)
    if shown.get("name") != ctx.image_name:
        problems.append(mismatch("name", ctx.image_name, shown.get("name")))
    require(problems)
    return "list finds it by name; show: status=active, size, checksum, os_hash_value as uploaded"


def step_set_property(ctx: Context) -> str:
    value = ctx.run_id
    ctx.api.update_image(ctx.image, [{"op": "add", "path": f"/{PROPERTY_KEY}", "value": value}])
    shown = ctx.api.get_image(ctx.image) or {}
    if shown.get(PROPERTY_KEY) != value:
        raise CheckFailed(mismatch(f"property {PROPERTY_KEY}", value, shown.get(PROPERTY_KEY)))
    return f"{PROPERTY_KEY}={value} is visible in image show"


def _owner_user(ctx: Context) -> TempUser:
    """The temporary project that owns the image for steps deactivate/reactivate."""
    if ctx.owner_user is None:
        user = ctx.temp_user("owner")
        ctx.owner_user = user
        original = ctx.original_owner

        def restore_owner() -> None:
            if original and not ctx.deleted and ctx.image_exists():
                ctx.api.set_attributes(ctx.image, owner=original)

        # Runs before the project is deleted (stack order), so a kept image is not orphaned.
        ctx.cleanup.push("give the image back to its original owner", restore_owner)
        ctx.api.set_attributes(ctx.image, owner=user.project_id)
    return ctx.owner_user


def step_deactivate(ctx: Context) -> str:
    user = _owner_user(ctx)
    ctx.api.deactivate(ctx.image)

    def reactivate_if_needed() -> None:
        if not ctx.deleted:
            image = ctx.api.get_image(ctx.image)
            if image is not None and image.get("status") == "deactivated":
                ctx.api.reactivate(ctx.image)

    ctx.cleanup.push("reactivate the image if still deactivated", reactivate_if_needed)
    status = (ctx.api.get_image(ctx.image) or {}).get("status")
    if status != "deactivated":
        raise CheckFailed(mismatch("status", "deactivated", status))
    ctx.image_state("deactivated", "deactivate", "image show after POST /actions/deactivate")
    code = user.api.download_status(ctx.image)
    if code != 403:
        raise CheckFailed(f"download by a member of the owning project: HTTP {code}, expected 403")
    return "status=deactivated; download by a member of the owning project: HTTP 403"


def step_reactivate(ctx: Context) -> str:
    ctx.api.reactivate(ctx.image)
    status = (ctx.api.get_image(ctx.image) or {}).get("status")
    if status != "active":
        raise CheckFailed(mismatch("status", "active", status))
    ctx.image_state("active", "reactivate", "image show after POST /actions/reactivate")
    code = _owner_user(ctx).api.download_status(ctx.image)
    if code != 200:
        raise CheckFailed(f"download by a member of the owning project: HTTP {code}, expected 200")
    return "status=active; download by a member of the owning project: HTTP 200"


def _share_checks(ctx: Context, user: TempUser) -> None:
    api, image_id, project = ctx.api, ctx.image, user.project_id
    member = api.add_member(image_id, project)

    def remove_member() -> None:
        # Glance manages members only while the image is shared; step share removes the
        # member itself, so this only acts when it stopped half-way.
        if not ctx.deleted and api.get_member(image_id, project) is not None:
            api.delete_member(image_id, project, missing_ok=True)

    ctx.cleanup.push(f"remove member {user.name} from the image", remove_member)
    if member.get("status") != "pending":
        raise CheckFailed(mismatch("new member status", "pending", member.get("status")))
    accepted = user.api.set_member_status(image_id, project, "accepted")
    if accepted.get("status") != "accepted":
        raise CheckFailed(mismatch("member status", "accepted", accepted.get("status")))
    if image_id not in {str(i.get("id")) for i in user.api.list_images()}:
        raise CheckFailed("accepted, but the image is not in the member project's image list")
    api.delete_member(image_id, project)
    if image_id in {str(i.get("id")) for i in user.api.list_images()}:
        raise CheckFailed("member removed, but the image is still in the project's image list")


def step_share(ctx: Context) -> str:
    user = ctx.share_user = ctx.share_user or ctx.temp_user("member")
    image = ctx.api.set_attributes(ctx.image, visibility="shared")
    if image.get("visibility") != "shared":
        raise CheckFailed(mismatch("visibility", "shared", image.get("visibility")))
    try:
        _share_checks(ctx, user)
    except BaseException:
        # Leave the image as asked for: member gone first (only possible while shared),
        # then the visibility back.
        with contextlib.suppress(Exception):
            ctx.api.delete_member(ctx.image, user.project_id, missing_ok=True)
        with contextlib.suppress(Exception):
            ctx.api.set_attributes(ctx.image, visibility=ctx.opts.visibility)
        raise
    if ctx.opts.visibility != "shared":
        ctx.api.set_attributes(ctx.image, visibility=ctx.opts.visibility)
    return (
        "visibility=shared; member project accepted and saw it in its list; "
        f"member removed; visibility back to {ctx.opts.visibility}"
    )


def download_digests(
    ctx: Context, image_id: str, size: int, label: str = "download"
) -> tuple[Digests, str | None]:
    """Stream the image data from Glance, hashing it: its digests and Content-MD5 header."""
    with ctx.progress(label, size) as bar:
        return hash_download(ctx.api, image_id, ctx.opts.hash_algo, progress=bar)


def step_download(ctx: Context) -> str:
    local = ctx.digests
    start = time.monotonic()
    got, header_md5 = download_digests(ctx, ctx.image, local.size)
    transfer = Transfer(got.size, time.monotonic() - start)
    ctx.transfers["download"] = transfer
    ctx.downloaded = got
    problems = digest_problems(local, got, f"image {ctx.image}: downloaded data")
    if header_md5 and header_md5 != local.md5:
        problems.append(mismatch("Content-MD5 header", local.md5, header_md5))
    require(problems)
    return (
        f"{got.size} bytes streamed in {transfer.seconds:.2f} s ({transfer.mib_per_s:.1f} "
        f"MiB/s); md5 and {got.algo} of the downloaded bytes match"
    )


def require_gone(api: GlanceApi, image_id: str) -> None:
    if api.get_image(image_id) is not None:
        raise CheckFailed(f"image {image_id}: deleted (HTTP 204) but GET still finds it")


def step_delete(ctx: Context) -> str:
    ctx.api.delete_image(ctx.image)
    ctx.deleted = True
    require_gone(ctx.api, ctx.image)
    ctx.image_state("deleted", "delete", "DELETE answered; GET answers 404")
    return "HTTP 204; GET answers 404"


def step_db_row(ctx: Context) -> str:
    if ctx.db is None:
        raise CheckFailed("no --db-url")
    row = ctx.db.image_row(ctx.image)
    require(deleted_row_problems(row))
    assert row is not None  # noqa: S101 - deleted_row_problems reports a missing row
    return f"images row kept: status=deleted, deleted=1, deleted_at={row.get('deleted_at')}"


def step_store_file_gone(ctx: Context) -> str:
    if ctx.opts.store_path is None:
        raise CheckFailed("no --store-path")
    path = ctx.opts.store_path / ctx.image
    if path.exists():
        raise CheckFailed(f"{path} is still in the store")
    return f"{path} is gone"
