"""The image lifecycle, step by step, and the runner that times, skips and cleans up.

Each step function takes the run's Context, raises CheckFailed when a check does not
hold, and returns a one-line description of what it saw. Whatever a step creates is
registered on the cleanup stack right after it exists.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from glance_verify.cleanup import CleanupResult, CleanupStack, SignalGuard
from glance_verify.cloud import GlanceApi, TempUser, admin_domain_id, create_temp_user
from glance_verify.compare import (
    deleted_row_problems,
    digest_problems,
    expected_hash_problems,
    image_record_problems,
    mismatch,
    queued_image_problems,
    require,
)
from glance_verify.db import ImageDatabase
from glance_verify.errors import CheckFailed, CloudUnreachable, ConfigError, Interrupted
from glance_verify.hashing import CHUNK_SIZE, Digests, HashingReader, hash_chunks
from glance_verify.options import Options
from glance_verify.progress import ProgressBar, human_bytes
from glance_verify.source import ImageSource, remove_scratch, resolve_source

Status = Literal["pass", "fail", "skip"]
#: The image property that step set-property writes and reads back.
PROPERTY_KEY = "glance_verify_check"
#: States an image passes through on its way to active.
TRANSIENT = frozenset({"queued", "saving", "importing", "uploading"})
POLL_INTERVAL = 0.5


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
    owner_user: TempUser | None = None
    share_user: TempUser | None = None
    deleted: bool = False
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
        )

    def image_exists(self) -> bool:
        return self.image_id is not None and self.api.get_image(self.image_id) is not None


# --- the steps ------------------------------------------------------------------------------


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


def step_upload(ctx: Context) -> str:
    source = ctx.source
    if source is None:
        raise CheckFailed("no image source")
    opts = ctx.opts
    with source.path.open("rb") as handle, ctx.progress("upload", source.size) as bar:
        reader = HashingReader(handle, source.size, opts.hash_algo, progress=bar)
        try:
            ctx.api.upload(ctx.image, reader, store=opts.store)
        except CheckFailed as exc:
            if "HTTP 410" in str(exc):
                raise CheckFailed(f"{exc} (can glance write its store directory?)") from None
            raise
    ctx.local = reader.digests()
    image = wait_for_status(ctx.api, ctx.image, "active", opts.timeout)
    require(image_record_problems(ctx.local, image))
    if opts.store and opts.store not in str(image.get("stores", "")).split(","):
        raise CheckFailed(mismatch("stores", opts.store, image.get("stores")))
    where = f", store {opts.store}" if opts.store else ""
    return (
        f"status=active, size={ctx.local.size}, checksum and {ctx.local.algo} "
        f"= local digests (one pass){where}"
    )


def step_expected_hash(ctx: Context) -> str:
    if ctx.opts.expect_hash is None:
        raise CheckFailed("no --expect-hash")
    algo, value = ctx.opts.expect_hash
    require(expected_hash_problems(ctx.digests, algo, value))
    return f"image {algo} equals --expect-hash"


def step_store_file(ctx: Context) -> str:
    if ctx.opts.store_path is None:
        raise CheckFailed("no --store-path")
    path = ctx.opts.store_path / ctx.image
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise CheckFailed(f"{path}: no such file in the store") from None
    except PermissionError:
        raise CheckFailed(f"{path}: permission denied") from None
    require([mismatch(f"{path} size", ctx.digests.size, size)] if size != ctx.digests.size else [])
    return f"{path} exists, {size} bytes"


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


def step_download(ctx: Context) -> str:
    local = ctx.digests
    with ctx.api.download(ctx.image) as resp, ctx.progress("download", local.size) as bar:
        got = hash_chunks(resp.iter_content(CHUNK_SIZE), local.algo, progress=bar)
        header_md5 = resp.headers.get("Content-MD5")
    ctx.downloaded = got
    problems = digest_problems(local, got)
    if header_md5 and header_md5 != local.md5:
        problems.append(mismatch("Content-MD5 header", local.md5, header_md5))
    require(problems)
    return f"{got.size} bytes streamed; md5 and {got.algo} of the downloaded bytes match"


def step_delete(ctx: Context) -> str:
    ctx.api.delete_image(ctx.image)
    ctx.deleted = True
    if ctx.api.get_image(ctx.image) is not None:
        raise CheckFailed("deleted (HTTP 204) but GET still finds the image")
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
        requires=("delete",),
        not_applicable=lambda o: None if o.store_path else "no --store-path",
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
    )
