"""The image lifecycle, step by step, and the runner that times, skips and cleans up.

Each step function takes the run's Context, raises CheckFailed when a check does not
hold, and returns a one-line description of what it saw. Whatever a step creates is
registered on the cleanup stack right after it exists.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from glance_verify.cleanup import CleanupResult, CleanupStack, SignalGuard
from glance_verify.cloud import (
    GlanceApi,
    TempUser,
    admin_domain_id,
    create_temp_user,
    hash_download,
)
from glance_verify.compare import (
    deleted_row_problems,
    digest_problems,
    expected_hash_problems,
    image_record_problems,
    mismatch,
    queued_image_problems,
    require,
    short,
)
from glance_verify.db import ImageDatabase
from glance_verify.errors import CheckFailed, CloudUnreachable, ConfigError, Interrupted
from glance_verify.hashing import Digests, HashingReader, hash_chunks
from glance_verify.options import Backend, Options, on_host
from glance_verify.progress import ProgressBar, human_bytes
from glance_verify.source import (
    ImageSource,
    SourceUnavailable,
    remove_scratch,
    resolve_source,
    url_chunks,
)
from glance_verify.storage import (
    MIB,
    GeneratedData,
    cache_entry,
    describe_limits,
    image_location_urls,
    limit_fill_mib,
    location_problems,
    parse_usage,
    repeating,
)

Status = Literal["pass", "fail", "skip"]
#: The image property that step set-property writes and reads back.
PROPERTY_KEY = "glance_verify_check"
#: States an image passes through on its way to active.
TRANSIENT = frozenset({"queued", "saving", "importing", "uploading"})
POLL_INTERVAL = 0.5
#: How long the cache listing may lag behind a finished download (seconds, at most --timeout).
CACHE_WAIT = 30.0
#: The cache management APIs of Glance Zed, preferred first: ``/v2/cache`` (Image API 2.14,
#: always routed) and ``/v2/cached_images`` (the ``cachemanage`` paste filter).
CACHE_PATHS = ("/cache", "/cached_images")
T = TypeVar("T")


@dataclass(frozen=True)
class Transfer:
    """The bare data transfer of step upload or download, apart from the rest of the step.

    ``seconds``: upload, from sending the PUT until Glance answers it (the data read,
    hashed and sent); download, from sending the GET until the last byte is read and
    hashed. That is what ``curl -T FILE`` / ``curl -o /dev/null`` time for the same
    request. ``wait_seconds`` (upload only): from Glance's answer until the image is seen
    ``active``.
    """

    size: int
    seconds: float
    wait_seconds: float | None = None

    @property
    def mib_per_s(self) -> float:
        return self.size / MIB / self.seconds if self.seconds > 0 else 0.0

    def text(self) -> str:
        """``536870912 bytes in 1.93 s (265.3 MiB/s)``."""
        return f"{self.size} bytes in {self.seconds:.2f} s ({self.mib_per_s:.1f} MiB/s)"


@dataclass
class Context:
    """Everything one run shares between steps."""

    opts: Options
    admin: Any
    api: GlanceApi
    cleanup: CleanupStack = field(default_factory=CleanupStack)
    run_id: str = ""
    notice: Callable[[str], None] = lambda message: None
    show_progress: bool = False
    db: ImageDatabase | None = None
    source: ImageSource | None = None
    image_id: str | None = None
    image_name: str | None = None
    original_owner: str | None = None
    local: Digests | None = None
    downloaded: Digests | None = None
    #: Bare transfer times of steps upload and download (keys "upload", "download").
    transfers: dict[str, Transfer] = field(default_factory=dict)
    owner_user: TempUser | None = None
    share_user: TempUser | None = None
    deleted: bool = False
    #: The Glance release the run talked to (step release), for the reports.
    release: str | None = None
    _domain_id: str | None = None

    def __post_init__(self) -> None:
        if not self.run_id:
            self.run_id = f"{self.opts.name_prefix}-{secrets.token_hex(4)}"

    def progress(self, label: str, total: int) -> ProgressBar:
        return ProgressBar(label, total, enabled=self.show_progress)

    @property
    def image(self) -> str:
        if self.image_id is None:
            raise CheckFailed("no image was created")
        return self.image_id

    @property
    def digests(self) -> Digests:
        if self.local is None:
            raise CheckFailed("the image data was not uploaded")
        return self.local

    def domain_id(self) -> str:
        if self._domain_id is None:
            self._domain_id = admin_domain_id(self.admin)
        return self._domain_id

    def temp_user(self, suffix: str) -> TempUser:
        return create_temp_user(
            self.admin,
            f"{self.run_id}-{suffix}",
            self.domain_id(),
            self.opts.member_role,
            self.cleanup.push,
            self._record_secret if self.opts.record_secrets else None,
        )

    def _record_secret(self, secret: str) -> None:
        """--record-secrets: append it, the file readable by its owner only."""
        path = self.opts.record_secrets
        if path is None:
            return
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(secret + "\n")

    def image_exists(self) -> bool:
        return self.image_id is not None and self.api.get_image(self.image_id) is not None


# --- the steps ------------------------------------------------------------------------------

#: The Image API version each Glance release that Debian ships serves as CURRENT,
#: as measured on Debian's packages: Debian 12 ships Zed (Glance 25), which serves
#: v2.15, or v2.16 with the image cache on (the cache API); Debian 13 ships 2025.1
#: (Glance 30), which serves v2.17 either way.
RELEASE_OF_API = {
    "2.15": "Zed (Debian 12)",
    "2.16": "Zed (Debian 12)",
    "2.17": "2025.1 (Debian 13)",
}


def api_release(versions: Sequence[dict[str, Any]]) -> tuple[str, str]:
    """The CURRENT Image API version and the release it stands for.

    >>> api_release([{"id": "v2.15", "status": "SUPPORTED"}, {"id": "v2.17", "status": "CURRENT"}])
    ('2.17', '2025.1 (Debian 13)')
    """
    current = [str(v.get("id", "")).lstrip("v") for v in versions if v.get("status") == "CURRENT"]
    if not current:
        raise CheckFailed(f"no CURRENT version among {[v.get('id') for v in versions]}")
    version = current[0]
    return version, RELEASE_OF_API.get(version, "a release this toolkit was not measured on")


def step_release(ctx: Context) -> str:
    version, release = api_release(ctx.api.versions())
    ctx.release = release
    return f"Image API v{version} (CURRENT): Glance {release}"


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
    return "status=queued, no checksum, no os_hash_value"


def wait_for_status(api: GlanceApi, image_id: str, want: str, timeout: float) -> dict[str, Any]:
    """Poll until the image leaves the transient states; CheckFailed unless it reaches ``want``."""
    deadline = time.monotonic() + timeout
    while True:
        image = api.get_image(image_id)
        if image is None:
            raise CheckFailed(f"image {image_id} disappeared (GET answers 404)")
        status = image.get("status")
        if status == want:
            return image
        if status not in TRANSIENT:
            raise CheckFailed(mismatch("status", want, status))
        if time.monotonic() >= deadline:
            raise CheckFailed(f"status still {status} after {timeout:g}s (--timeout)")
        time.sleep(POLL_INTERVAL)


def _upload_source(
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
        try:
            ctx.api.upload(image_id, reader, store=store)
        except CheckFailed as exc:
            if "HTTP 410" in str(exc):
                raise CheckFailed(f"{exc} (can glance write its store directory?)") from None
            raise
        seconds = time.monotonic() - start
    return reader.digests(), seconds


def step_upload(ctx: Context) -> str:
    opts = ctx.opts
    ctx.local, put_seconds = _upload_source(ctx, ctx.image, opts.store, "upload")
    answered = time.monotonic()
    image = wait_for_status(ctx.api, ctx.image, "active", opts.timeout)
    transfer = Transfer(ctx.local.size, put_seconds, time.monotonic() - answered)
    ctx.transfers["upload"] = transfer
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
    code = user.api.download_status(ctx.image)
    if code != 403:
        raise CheckFailed(f"download by a member of the owning project: HTTP {code}, expected 403")
    return "status=deactivated; download by a member of the owning project: HTTP 403"


def step_reactivate(ctx: Context) -> str:
    ctx.api.reactivate(ctx.image)
    status = (ctx.api.get_image(ctx.image) or {}).get("status")
    if status != "active":
        raise CheckFailed(mismatch("status", "active", status))
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


# --- storage labs ---------------------------------------------------------------------------


def poll(fetch: Callable[[], T], done: Callable[[T], bool], wait: float) -> tuple[bool, T]:
    """Call ``fetch`` until ``done`` holds for its value or ``wait`` seconds have passed."""
    deadline = time.monotonic() + wait
    while True:
        value = fetch()
        if done(value):
            return True, value
        if time.monotonic() >= deadline:
            return False, value
        time.sleep(POLL_INTERVAL)


def temp_image(ctx: Context, suffix: str, **attrs: Any) -> dict[str, Any]:
    """An extra image of this run (``<run id>-<suffix>``), deleted at the end in any case."""
    fields = {"disk_format": ctx.opts.disk_format, "container_format": ctx.opts.container_format}
    image = ctx.api.create_image(name=f"{ctx.run_id}-{suffix}", **{**fields, **attrs})
    image_id = str(image["id"])
    api = ctx.api
    ctx.cleanup.push(
        f"delete image {image_id}", lambda: api.delete_image(image_id, missing_ok=True)
    )
    return image


def _is_true(value: object) -> bool:
    return value is True or str(value).lower() == "true"


def step_store_info(ctx: Context) -> str:
    opts = ctx.opts
    stores = ctx.api.store_info()
    if stores is None:
        raise CheckFailed(
            "GET /v2/info/stores: HTTP 404: this Glance has no multiple stores "
            "(enabled_backends is not set)"
        )
    listed = [str(s.get("id")) for s in stores]
    defaults = [str(s.get("id")) for s in stores if _is_true(s.get("default"))]
    problems = []
    missing = [b.name for b in opts.backends if b.name not in listed]
    if missing:
        problems.append(f"not listed: {', '.join(missing)} (listed: {', '.join(listed)})")
    if opts.default_backend and defaults != [opts.default_backend]:
        problems.append(mismatch("default store", opts.default_backend, ",".join(defaults)))
    notes = [f"lists {', '.join(listed)}", f"default {','.join(defaults) or 'none'}"]
    with_dir = [b for b in opts.backends if b.directory is not None and b.name in listed]
    if with_dir:
        try:
            details = {str(s.get("id")): s for s in ctx.api.store_info(detail=True) or []}
        except CheckFailed as exc:
            notes.append(f"data_dir not compared ({exc})")
        else:
            for backend in with_dir:
                problems += _store_detail_problems(backend, details.get(backend.name, {}))
            notes.append("type file and data_dir as given (/v2/info/stores/detail)")
    require(problems)
    return "; ".join(notes)


def _store_detail_problems(backend: Backend, detail: Mapping[str, Any]) -> list[str]:
    """A file backend's ``type`` and ``properties.data_dir`` in /v2/info/stores/detail."""
    problems = []
    if detail.get("type") != "file":
        problems.append(mismatch(f"{backend.name} type", "file", detail.get("type")))
    data_dir = (detail.get("properties") or {}).get("data_dir")
    # data_dir is empty when the store uses filesystem_store_datadirs (several directories).
    if data_dir and Path(str(data_dir)) != Path(str(backend.directory)):
        problems.append(f"{backend.name} data_dir: expected {backend.directory}, got {data_dir}")
    return problems


def _local_dir(ctx: Context, directory: object) -> Path | None:
    """``directory`` as a local Path with --local-stores (an all-in-one host), else None."""
    if directory is None or not ctx.opts.local_stores:
        return None
    path = on_host(ctx.opts.host_root, str(directory))
    return path if path.is_dir() else None


def _check_backend(ctx: Context, backend: Backend) -> str:
    name = backend.name
    image_id = str(temp_image(ctx, f"backend-{name}")["id"])
    local, _ = _upload_source(ctx, image_id, name, f"upload {name}")
    image = wait_for_status(ctx.api, image_id, "active", ctx.opts.timeout)
    problems = image_record_problems(local, image)
    if image.get("stores") != name:
        problems.append(mismatch("stores", name, image.get("stores")))
    notes = [f"active, stores={name}, checksum and {local.algo} = local"]
    urls = image_location_urls(image)
    if backend.directory is not None:
        if urls is None:
            notes.append("location not shown (show_multiple_locations, show_image_direct_url off)")
        else:
            problems += location_problems(urls, backend.directory, image_id)
            notes.append(f"location file://{backend.directory}/<id>")
    require(problems)
    local_dir = _local_dir(ctx, backend.directory)
    if local_dir is not None:
        require_file_size(local_dir / image_id, local.size, f"in backend {name}")
        notes.append("file there with its size")
    ctx.api.delete_image(image_id)
    require_gone(ctx.api, image_id)
    if local_dir is not None and (local_dir / image_id).exists():
        raise CheckFailed(f"{local_dir / image_id} is still there after delete")
    notes.append("deleted" + (", file gone" if local_dir is not None else ""))
    return ", ".join(notes)


def step_backends(ctx: Context) -> str:
    passed: list[str] = []
    failed: list[str] = []
    for backend in ctx.opts.backends:
        try:
            passed.append(f"{backend.name}: {_check_backend(ctx, backend)}")
        except CheckFailed as exc:
            failed.append(f"{backend.name}: {exc}")
    if failed:
        ok = f" (passed: {', '.join(b.split(':')[0] for b in passed)})" if passed else ""
        raise CheckFailed("; ".join(failed) + ok)
    return "; ".join(passed)


def _quota_store_dir(ctx: Context) -> Path | None:
    """Where a refused upload's data would land, when local: --store-path, else the
    directory of --default-backend."""
    if ctx.opts.store_path is not None:
        return ctx.opts.store_path
    default = next((b for b in ctx.opts.backends if b.name == ctx.opts.default_backend), None)
    return _local_dir(ctx, default.directory) if default is not None else None


def _project_usage(ctx: Context, owner: object) -> int:
    """The owner's stored bytes as Glance counts them for the quota (roughly: the sizes of
    its images that are neither killed nor deleted)."""
    images = ctx.api.list_images(owner=owner) if owner else []
    return sum(int(i.get("size") or 0) for i in images if i.get("status") not in ("killed",))


def quota_data(size: int) -> GeneratedData:
    """``size`` bytes for the quota uploads: one random MiB over and over (only the amount
    matters, and a quota may be large)."""
    return GeneratedData(size, repeating(os.urandom(MIB)))


#: What a 413 must say to be the refusal asked for (Glance Zed's messages): the legacy
#: quota ("Image exceeds the storage quota: ..."), unified limits (oslo.limit's "... is
#: over a limit for [Resource image_size_total ...]", "Limit exceeded").
QUOTA_REASON = re.compile(r"quota", re.I)
LIMIT_REASON = re.compile(r"limit", re.I)


def refusal_problems(
    ctx: Context,
    image_id: str,
    status: int,
    answer: str,
    store_dir: Path | None,
    reason: re.Pattern[str],
) -> tuple[list[str], dict[str, Any]]:
    """What is wrong with an upload that Glance had to refuse (quota or limit): not HTTP
    413, a 413 whose message does not match ``reason`` (another cap, e.g.
    image_size_cap), the image active, size or hashes recorded, its file in the store.
    Also the image."""
    problems = []
    if status != 413:
        got = "HTTP 204: accepted" if status == 204 else answer
        problems.append(f"expected HTTP 413, got {got}")
    elif not reason.search(answer):
        problems.append(f"HTTP 413, but not for the reason expected ({reason.pattern}): {answer}")
    image = ctx.api.get_image(image_id) or {}
    if image.get("status") == "active":
        problems.append("the image is active")
    kept = [k for k in ("size", "checksum", "os_hash_value") if image.get(k)]
    if kept:
        problems.append(f"Glance recorded {', '.join(f'{k}={short(image[k])}' for k in kept)}")
    if store_dir is not None and (store_dir / image_id).exists():
        problems.append(f"{store_dir / image_id} is in the store")
    return problems, image


def _over_quota(ctx: Context, mode: str, size: int, store_dir: Path | None) -> str:
    """Upload ``size`` generated bytes; Glance must answer 413 for the quota, keep nothing."""
    image_id = str(
        temp_image(ctx, f"quota-{mode}", disk_format="raw", container_format="bare")["id"]
    )
    with ctx.progress(f"quota {mode}", size) as bar:
        reader = HashingReader(quota_data(size), size, ctx.opts.hash_algo, progress=bar)
        # With a len(): Content-Length, refused before a byte is stored; without (a plain
        # iterator): chunked, Glance stores it all and must remove it again.
        status, answer = ctx.api.try_upload(
            image_id, reader if mode == "declared" else iter(reader)
        )
    problems, image = refusal_problems(ctx, image_id, status, answer, store_dir, QUOTA_REASON)
    require(problems)
    ctx.api.delete_image(image_id)
    require_gone(ctx.api, image_id)
    return f"{mode}: HTTP 413, image {image.get('status')} without size or checksum (storage quota)"


def step_quota(ctx: Context) -> str:
    """Bracket the quota: what is left of it + 1 MiB is refused (413, for the quota, both
    with Content-Length and chunked, nothing kept); what is left - 1 MiB is accepted."""
    quota, text = ctx.opts.quota, ctx.opts.quota_text
    if quota is None:
        raise CheckFailed("no --quota")
    store_dir = _quota_store_dir(ctx)
    image = temp_image(ctx, "quota-under", disk_format="raw", container_format="bare")
    image_id = str(image["id"])
    usage = _project_usage(ctx, image.get("owner"))
    left = quota - usage
    if left <= MIB:
        raise CheckFailed(
            f"the project's images already hold about {usage} bytes of --quota {text}: "
            "less than 1 MiB left, no room to test under it"
        )
    over, under = left + MIB, left - MIB
    notes = []
    for mode in ("declared", "chunked"):
        try:
            notes.append(_over_quota(ctx, mode, over, store_dir))
        except CheckFailed as exc:
            what = "with Content-Length" if mode == "declared" else "chunked"
            raise CheckFailed(
                f"upload of {over} bytes ({what}) over --quota {text}: {exc}"
            ) from None
    with ctx.progress("quota under", under) as bar:
        reader = HashingReader(quota_data(under), under, ctx.opts.hash_algo, progress=bar)
        status, answer = ctx.api.try_upload(image_id, reader)
    if status != 204:
        raise CheckFailed(
            f"an upload of {under} bytes, 1 MiB under what is left of --quota {text}, was "
            f"refused: {answer} (the project's images already hold about {usage} bytes)"
        )
    shown = wait_for_status(ctx.api, image_id, "active", ctx.opts.timeout)
    require(image_record_problems(reader.digests(), shown))
    ctx.api.delete_image(image_id)
    require_gone(ctx.api, image_id)
    where = f"; nothing left in {store_dir}" if store_dir is not None else ""
    used = f" (the project holds {human_bytes(usage)})" if usage else ""
    return (
        f"{human_bytes(over)} over {text}{used} refused: {'; '.join(notes)}{where}; "
        f"{human_bytes(under)} just under it: active, digests match; all deleted"
    )


def _limits(ctx: Context) -> dict[str, tuple[int, int]]:
    return parse_usage(ctx.api.usage())


def _raw_image(ctx: Context, suffix: str) -> str:
    return str(temp_image(ctx, suffix, disk_format="raw", container_format="bare")["id"])


def _upload_generated(ctx: Context, image_id: str, size: int, label: str) -> tuple[int, str]:
    """PUT ``size`` generated bytes; (HTTP status, answer). On 204, wait for ``active`` and
    require Glance's size and hashes to be those of the data sent."""
    with ctx.progress(label, size) as bar:
        reader = HashingReader(quota_data(size), size, ctx.opts.hash_algo, progress=bar)
        status, answer = ctx.api.try_upload(image_id, reader)
    if status == 204:
        shown = wait_for_status(ctx.api, image_id, "active", ctx.opts.timeout)
        require(image_record_problems(reader.digests(), shown))
    return status, answer


def _limit_refusal(ctx: Context, image_id: str) -> str:
    """1 MiB over image_size_total: HTTP 413 and nothing recorded or stored."""
    status, answer = _upload_generated(ctx, image_id, MIB, "limit over")
    store_dir = _quota_store_dir(ctx)
    problems, image = refusal_problems(ctx, image_id, status, answer, store_dir, LIMIT_REASON)
    if problems:
        raise CheckFailed(f"1 MiB upload over image_size_total: {'; '.join(problems)}")
    where = f", nothing in {store_dir}" if store_dir is not None else ""
    return f"HTTP 413, image {image.get('status')} without size or checksum{where}"


def step_keystone_limits(ctx: Context) -> str:
    """Unified limits: Glance reports Keystone's limits, and refuses an upload once the
    project's usage is over image_size_total (it checks before the upload, so the upload
    that crosses the limit is still accepted)."""
    table = _limits(ctx)
    wrong = [
        f"{name} is {table[name][0]}, expected {want}"
        for name, want in ctx.opts.keystone_limit_expect
        if table[name][0] != want
    ]
    if wrong:
        raise CheckFailed(f"limits from Keystone: {'; '.join(wrong)}")
    notes = [f"limits from Keystone: {describe_limits(table)}"]
    limit, used = table["image_size_total"]
    fill_mib = limit_fill_mib(limit, used)
    if fill_mib * MIB > ctx.opts.limit_fill_max:
        raise CheckFailed(
            f"image_size_total is {limit} MiB and the project uses {used} MiB: going over "
            f"it takes a {fill_mib} MiB upload, more than --limit-fill-max "
            f"{ctx.opts.limit_fill_max // MIB} MiB; raise --limit-fill-max "
            "(make verify: verify_limit_fill_max) or --skip keystone-limits"
        )
    fill_id = _raw_image(ctx, "limit-fill") if fill_mib else None
    if fill_id is not None:
        status, answer = _upload_generated(ctx, fill_id, fill_mib * MIB, "limit fill")
        if status != 204:
            raise CheckFailed(
                f"the {fill_mib} MiB upload that takes usage from {used} MiB to over {limit} "
                f"was refused ({answer}); Glance checks usage before an upload, so it should "
                "pass"
            )
        over = _limits(ctx)["image_size_total"][1]
        require([] if over > limit else [f"usage is {over} MiB after the fill, not over {limit}"])
        notes.append(
            f"{fill_mib} MiB crossing image_size_total accepted (used {used} -> {over} MiB)"
        )
    else:
        notes.append(f"the project is over image_size_total already ({used} > {limit} MiB)")
    refused_id = _raw_image(ctx, "limit-over")
    notes.append(f"the next 1 MiB upload: {_limit_refusal(ctx, refused_id)}")
    if fill_id is not None:
        ctx.api.delete_image(fill_id)
        require_gone(ctx.api, fill_id)
        status, answer = _upload_generated(ctx, refused_id, MIB, "limit retry")
        if status != 204:
            raise CheckFailed(f"after deleting the fill image, the 1 MiB upload failed: {answer}")
        notes.append("fill image deleted, then the same upload: active, digests match")
    ctx.api.delete_image(refused_id)
    require_gone(ctx.api, refused_id)
    return "; ".join(notes) + "; all deleted"


def _cache_listing(ctx: Context) -> tuple[str, list[dict[str, Any]]]:
    for path in CACHE_PATHS:
        entries = ctx.api.cached_images(path)
        if entries is not None:
            return path, entries
    raise CheckFailed(
        "no cache management API: GET /v2/cache and GET /v2/cached_images answer 404 "
        "(image_cache_dir unset, or no cachemanage filter in the paste pipeline)"
    )


def step_image_cache(ctx: Context) -> str:
    image_id, local, api = ctx.image, ctx.digests, ctx.api
    path, entries = _cache_listing(ctx)
    notes = [f"/v2{path}"]

    def entry() -> Mapping[str, Any] | None:
        return cache_entry(api.cached_images(path) or [], image_id)

    if cache_entry(entries, image_id) is not None:
        api.uncache_image(path, image_id)
        notes.append("was cached already: removed first")

    def uncache() -> None:
        if entry() is not None:
            api.uncache_image(path, image_id)

    ctx.cleanup.push(f"remove image {image_id} from the cache", uncache)
    wait = min(CACHE_WAIT, ctx.opts.timeout)
    got, _ = download_digests(ctx, image_id, local.size, "download 1")
    require(digest_problems(local, got))
    found, first = poll(entry, lambda e: e is not None, wait)
    if first is None:
        raise CheckFailed(
            f"not in the cache listing {wait:g}s after a full download (is the cache filter "
            "in the paste pipeline: flavor keystone+caching or keystone+cachemanagement?)"
        )
    if first.get("size") not in (None, local.size):
        raise CheckFailed(mismatch("cached size", local.size, first.get("size")))
    notes.append("listed after download 1")
    hits = first.get("hits")
    got, _ = download_digests(ctx, image_id, local.size, "download 2")
    require(digest_problems(local, got, "second download"))
    if isinstance(hits, int):
        found, second = poll(entry, lambda e: e is not None and int(e.get("hits", 0)) > hits, wait)
        if not found:
            after = None if second is None else second.get("hits")
            raise CheckFailed(f"download 2 was not a cache hit: hits {hits} -> {after}")
        notes.append(f"download 2 a cache hit (hits {hits} -> {second and second.get('hits')})")
    cache_file = ctx.opts.image_cache_dir / image_id if ctx.opts.image_cache_dir else None
    if cache_file is not None:
        notes.append(require_file_size(cache_file, local.size, "in the image cache"))
    elif not isinstance(hits, int):
        raise CheckFailed("cannot tell a cache hit: no hits in the listing, no --image-cache-dir")
    api.uncache_image(path, image_id)
    gone, _ = poll(entry, lambda e: e is None, wait)
    if not gone:
        raise CheckFailed(f"DELETE /v2{path}/{image_id} answered, but it is still listed")
    if cache_file is not None and cache_file.exists():
        raise CheckFailed(f"removed from the cache, but {cache_file} is still there")
    notes.append("removed via the API, gone from the listing")
    return "; ".join(notes)


def _location_hint(error: str) -> str:
    if "HTTP 403" in error:
        return " (Glance allows location changes only with show_multiple_locations = True)"
    if "HTTP 400" in error:
        return (
            " (is the http store enabled, does the URL answer HEAD with a Content-Length, "
            "and does it pass [import_filtering_opts]: Debian's Zed blocks loopback hosts "
            "unless in allowed_hosts, and ports other than allowed_ports 80,443?)"
        )
    return ""


def step_http_store(ctx: Context) -> str:
    url = ctx.opts.http_url
    if url is None:
        raise CheckFailed("no --http-url")
    progress = ctx.progress if ctx.show_progress else None
    try:
        direct = hash_chunks(
            url_chunks(url, progress=progress, label="GET url"), ctx.opts.hash_algo
        )
    except SourceUnavailable as exc:
        raise CheckFailed(f"GET {url} from here: {exc}") from None
    if direct.size == 0:
        raise CheckFailed(f"GET {url}: empty")
    image = temp_image(ctx, "http")
    image_id = str(image["id"])
    require(queued_image_problems(image))
    seen = [str(image.get("status"))]
    try:
        image = ctx.api.add_location(image_id, url)
    except CheckFailed as exc:
        raise CheckFailed(f"{exc}{_location_hint(str(exc))}") from None
    seen.append(str(image.get("status")))
    deadline = time.monotonic() + ctx.opts.timeout
    while image.get("status") in TRANSIENT and "saving" not in seen:
        if time.monotonic() >= deadline:
            break
        time.sleep(POLL_INTERVAL)
        image = ctx.api.get_image(image_id) or {}
        if image.get("status") != seen[-1]:
            seen.append(str(image.get("status")))
    image = ctx.api.get_image(image_id) or image
    path = " -> ".join(seen)
    if "saving" in seen:
        raise CheckFailed(f"the image went through saving: {path}")
    if image.get("status") != "active":
        raise CheckFailed(f"{mismatch('status', 'active', image.get('status'))} ({path})")
    problems = []
    if image.get("size") != direct.size:
        problems.append(mismatch("size (Glance asks the URL)", direct.size, image.get("size")))
    if image.get("checksum") not in (None, direct.md5):
        problems.append(mismatch("checksum", direct.md5, image.get("checksum")))
    got, _ = download_digests(ctx, image_id, direct.size)
    problems += digest_problems(direct, got, "data downloaded through Glance")
    require(problems)
    ctx.api.delete_image(image_id)
    require_gone(ctx.api, image_id)
    when = "in the PATCH answer" if seen[1] == "active" else "by polling"
    return (
        f"statuses {path}: active {when}, never saving (no data upload: the location was "
        f"added); {direct.size} bytes; md5 and {direct.algo} through Glance = from the URL; "
        "deleted"
    )


# --- the plan -------------------------------------------------------------------------------


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


STEPS: tuple[Step, ...] = (
    Step(
        "release",
        "ask Glance which Image API it serves (GET /versions): the CURRENT version and the "
        "Glance release behind it (v2.15/v2.16: Zed, Debian 12; v2.17: 2025.1, Debian 13)",
        step_release,
    ),
    Step(
        "source",
        "get the image: --image-file, or --image-url (cached), or build a qcow2 with qemu-img "
        "when the URL is unreachable",
        step_source,
        skippable=False,
    ),
    Step(
        "create-empty",
        "create an empty image: status queued, no checksum, no os_hash_value",
        step_create_empty,
        requires=("source",),
        skippable=False,
    ),
    Step(
        "upload",
        "stream the file to the image (hashing it in the same pass): status active, size, "
        "checksum (md5), os_hash_algo and os_hash_value equal the local values",
        step_upload,
        requires=("create-empty",),
        skippable=False,
    ),
    Step(
        "expected-hash",
        "the image's digest equals --expect-hash ALGO:HEX (e.g. a published checksum)",
        step_expected_hash,
        requires=("upload",),
        not_applicable=lambda o: None if o.expect_hash else "no --expect-hash",
    ),
    Step(
        "store-file",
        "the store holds STORE_PATH/<image id> with the image's size",
        step_store_file,
        requires=("upload",),
        not_applicable=lambda o: None if o.store_path else "no --store-path",
    ),
    Step(
        "image-cache",
        "download the image: it appears in Glance's cache listing (GET /v2/cache, else "
        "/v2/cached_images); a second download is a cache hit (hits grow; with "
        "--image-cache-dir the cache file is there); removing it via the API empties it",
        step_image_cache,
        requires=("upload",),
        not_applicable=lambda o: None if o.image_cache else "no --image-cache",
    ),
    Step(
        "list-show",
        "image list (by name) finds it; image show reports the uploaded values",
        step_list_show,
        requires=("upload",),
    ),
    Step(
        "set-property",
        f"image set {PROPERTY_KEY}=<run id>; image show returns it",
        step_set_property,
        requires=("upload",),
    ),
    Step(
        "deactivate",
        "give the image to a temporary project, deactivate it: a member of that project "
        "gets HTTP 403 on download",
        step_deactivate,
        requires=("upload",),
    ),
    Step(
        "reactivate",
        "reactivate: status active, and that member downloads it (HTTP 200)",
        step_reactivate,
        requires=("upload",),
        after=("deactivate",),
        skippable=False,
    ),
    Step(
        "share",
        "visibility shared, add a second temporary project as member; it accepts and sees "
        "the image in its list; remove the member",
        step_share,
        requires=("upload",),
    ),
    Step(
        "download",
        "download (streamed) and compare size, md5 and os_hash of the downloaded bytes",
        step_download,
        requires=("upload",),
    ),
    Step(
        "delete",
        "delete the image; GET answers 404",
        step_delete,
        requires=("create-empty",),
        not_applicable=lambda o: "--keep" if o.keep else None,
    ),
    Step(
        "db-row",
        "the glance database keeps the images row: status deleted, deleted=1",
        step_db_row,
        requires=("delete",),
        not_applicable=lambda o: None if o.db_url else "no --db-url",
    ),
    Step(
        "store-file-gone",
        "STORE_PATH/<image id> is gone from the store",
        step_store_file_gone,
        # Without store-file having found the file, "gone" proves nothing.
        requires=("delete", "store-file"),
        not_applicable=lambda o: None if o.store_path else "no --store-path",
    ),
    Step(
        "store-info",
        "GET /v2/info/stores lists every --backend and marks --default-backend as the "
        "default; with NAME=DIR, /v2/info/stores/detail shows type file and that data_dir",
        step_store_info,
        not_applicable=lambda o: (
            None if o.backends or o.default_backend else "no --backend or --default-backend"
        ),
    ),
    Step(
        "backends",
        "per --backend: upload the image to it (X-Image-Meta-Store): active, stores=NAME, "
        "md5 and os_hash as local; location file://DIR/<id> when shown; DIR/<id> has its "
        "size with --local-stores; delete: 404, file gone",
        step_backends,
        requires=("source",),
        not_applicable=lambda o: None if o.backends else "no --backend",
    ),
    Step(
        "quota",
        "upload --quota + 1 MiB of generated data, with Content-Length and chunked: HTTP "
        "413, the image not active, no file left in the store; a small upload still works",
        step_quota,
        not_applicable=lambda o: None if o.quota else "no --quota",
    ),
    Step(
        "keystone-limits",
        "GET /v2/info/usage reports Keystone's limits (as --keystone-limit); upload until "
        "usage is over image_size_total (Glance checks before an upload, so that one "
        "passes), then 1 MiB: HTTP 413, nothing stored; after deleting the fill it passes",
        step_keystone_limits,
        not_applicable=lambda o: None if o.keystone_limits else "no --keystone-limits",
    ),
    Step(
        "http-store",
        "register --http-url as the location of a queued image: active without passing "
        "through saving; the data downloaded through Glance equals the URL's (md5, os_hash)",
        step_http_store,
        not_applicable=lambda o: None if o.http_url else "no --http-url",
    ),
)

SKIPPABLE = tuple(s.name for s in STEPS if s.skippable)


@dataclass(frozen=True)
class StepResult:
    name: str
    status: Status
    duration: float
    detail: str


@dataclass
class RunResult:
    steps: list[StepResult]
    cleanup: list[CleanupResult]
    started: datetime
    duration: float
    image_id: str | None = None
    image_name: str | None = None
    digests: Digests | None = None
    source: ImageSource | None = None
    interrupted: str | None = None
    transfers: dict[str, Transfer] = field(default_factory=dict)
    #: The Glance release the run talked to (None when step release did not pass).
    release: str | None = None

    @property
    def cleanup_ok(self) -> bool:
        return all(c.ok for c in self.cleanup)

    @property
    def passed(self) -> int:
        return sum(r.status == "pass" for r in self.steps) + (
            1 if self.cleanup and self.cleanup_ok else 0
        )

    @property
    def failed(self) -> int:
        return sum(r.status == "fail" for r in self.steps) + (0 if self.cleanup_ok else 1)

    @property
    def skipped(self) -> int:
        return sum(r.status == "skip" for r in self.steps)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.interrupted is None

    @property
    def first_failure(self) -> StepResult | None:
        return next((r for r in self.steps if r.status == "fail"), None)


def _skip_reason(step: Step, opts: Options, done: dict[str, StepResult]) -> str | None:
    if step.name in opts.skip:
        return "--skip"
    reason = step.not_applicable(opts)
    if reason:
        return reason
    for name in step.requires:
        previous = done.get(name)
        if previous is None or previous.status != "pass":
            state = "skipped" if previous is None or previous.status == "skip" else "failed"
            return f"needs {name} ({state})"
    for name in step.after:
        previous = done.get(name)
        if previous is None or previous.status == "skip":
            return f"{name} did not run"
    return None


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, CheckFailed):
        return str(exc)
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _run_one(step: Step, ctx: Context) -> tuple[StepResult, str | None]:
    """Run one step: its result, and the signal's name if it was interrupted."""
    start = time.monotonic()
    try:
        detail = step.func(ctx)
    except (ConfigError, CloudUnreachable):
        raise
    except Interrupted as exc:
        elapsed = time.monotonic() - start
        return StepResult(step.name, "fail", elapsed, f"interrupted ({exc.signal_name})"), (
            exc.signal_name
        )
    except Exception as exc:  # noqa: BLE001 - any error fails this step only
        return StepResult(step.name, "fail", time.monotonic() - start, _error_text(exc)), None
    return StepResult(step.name, "pass", time.monotonic() - start, detail), None


def run_steps(
    ctx: Context,
    steps: Sequence[Step] = STEPS,
    on_result: Callable[[StepResult], None] | None = None,
) -> RunResult:
    """Run the steps in order, then the cleanups, whatever happened.

    CheckFailed and unexpected errors fail the step and the run goes on with the steps
    that do not depend on it. SIGINT/SIGTERM stop the run. ConfigError and
    CloudUnreachable propagate (after cleanup): they are not verdicts on Glance.
    """
    started = datetime.now(UTC)
    t0 = time.monotonic()
    done: dict[str, StepResult] = {}
    results: list[StepResult] = []
    interrupted: str | None = None

    def record(result: StepResult) -> None:
        done[result.name] = result
        results.append(result)
        if on_result is not None:
            on_result(result)

    with SignalGuard(ctx.notice) as guard:
        try:
            for step in steps:
                if interrupted is not None:
                    record(StepResult(step.name, "skip", 0.0, f"interrupted ({interrupted})"))
                    continue
                reason = _skip_reason(step, ctx.opts, done)
                if reason is not None:
                    record(StepResult(step.name, "skip", 0.0, reason))
                    continue
                result, interrupted = _run_one(step, ctx)
                record(result)
        except Interrupted as exc:  # between two steps
            interrupted = exc.signal_name
            for step in steps:
                if step.name not in done:
                    record(StepResult(step.name, "skip", 0.0, f"interrupted ({interrupted})"))
        except BaseException:
            # A usage/config/reachability error ends the run without a report: still undo,
            # and say what could not be undone.
            guard.defer()
            for item in ctx.cleanup.run():
                if not item.ok:
                    ctx.notice(f"cleanup failed: {item.description}: {item.error}")
            raise
        guard.defer()
        cleanup_results = ctx.cleanup.run()

    return RunResult(
        steps=results,
        cleanup=cleanup_results,
        started=started,
        duration=time.monotonic() - t0,
        image_id=ctx.image_id,
        image_name=ctx.image_name,
        digests=ctx.local,
        source=ctx.source,
        interrupted=interrupted,
        transfers=dict(ctx.transfers),
        release=ctx.release,
    )
