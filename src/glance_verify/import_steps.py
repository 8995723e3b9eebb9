"""The image import steps: glance-direct (stage, then import), web-download from an HTTP
server the step starts on this machine, and a web-download the filters must refuse.

Each records the statuses the image was seen in, with their times (``ctx.timelines``,
in the JSON report), and deletes its image. What the filters allow is reasoned about in
``imports.py``; ``plan.py`` runs a step only for a method the deployment enables.
"""

from __future__ import annotations

import contextlib
import http.server
import re
import shutil
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glance_verify.cloud import TRANSIENT, poll, wait_for_status
from glance_verify.compare import digest_problems, image_record_problems, mismatch, short
from glance_verify.context import Context
from glance_verify.errors import CheckFailed
from glance_verify.hashing import DOWNLOAD_CHUNK_SIZE, Digests, HashingReader, hash_chunks
from glance_verify.imports import (
    IMPORT_PATHS,
    Timeline,
    http_url,
    missed_note,
    refused_url,
    timeline_problems,
)
from glance_verify.labs import local_store_dir, temp_image
from glance_verify.lifecycle import require_file_size, require_gone, upload_source
from glance_verify.options import Backend, Options

#: How long the staged file may outlive the image turning active (seconds).
STAGED_GONE_WAIT = 30.0
#: The image property an import task holds while it works on the image (its lock).
IMPORT_LOCK = "os_glance_import_task"

#: Seconds between two looks at an importing image (an import of a small image can be
#: over in well under a second).
IMPORT_POLL = 0.1
#: What Glance says when the filters refuse a web-download URL at the import call.
FILTER_REFUSAL = re.compile(r"filter", re.I)


@dataclass
class ServedFile:
    """The HTTP server of a web-download step: its URL and the requests it answered."""

    url: str
    requests: list[str] = field(default_factory=list)

    @property
    def gets(self) -> int:
        return sum(r.startswith("GET ") for r in self.requests)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _answer(self, *, body: bool) -> None:
        srv = self.server
        srv.served.requests.append(f"{self.command} {self.path} from {self.client_address[0]}")
        if srv.path is None or self.path != srv.url_path:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(srv.path.stat().st_size))
        self.end_headers()
        if body:
            with srv.path.open("rb") as handle:
                shutil.copyfileobj(handle, self.wfile, DOWNLOAD_CHUNK_SIZE)

    def log_message(self, format: str, *args: Any) -> None:
        return


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: str, port: int, path: Path | None, url_path: str) -> None:
        if ":" in address:
            self.address_family = socket.AF_INET6
        self.path, self.url_path = path, url_path
        self.served = ServedFile(http_url(address, port, url_path))
        super().__init__((address, port), _Handler)


@contextlib.contextmanager
def serve_file(path: Path | None, address: str, port: int, url_path: str) -> Iterator[ServedFile]:
    """Serve ``path`` at http://ADDRESS:PORT/URL_PATH (``path`` None: answer 404 to
    everything, only to see whether anyone asks) until the block ends."""
    try:
        server = _Server(address, port, path, "/" + url_path.lstrip("/"))
    except OSError as exc:
        raise CheckFailed(
            f"cannot serve on {address}:{port} here ({exc.strerror}); give --serve-address "
            "and --serve-port"
        ) from None
    thread = threading.Thread(target=server.serve_forever, name="web-download", daemon=True)
    thread.start()
    try:
        yield server.served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def file_digests(path: Path, algo: str) -> Digests:
    with path.open("rb") as handle:
        return hash_chunks(iter(lambda: handle.read(DOWNLOAD_CHUNK_SIZE), b""), algo)


def _require_offered(ctx: Context, method: str) -> None:
    offered = ctx.api.import_methods()
    if method not in offered:
        raise CheckFailed(
            f"{method} is enabled in the settings, but GET /v2/info/import offers "
            f"[{', '.join(offered)}]"
        )


def step_import_methods(ctx: Context) -> str:
    """GET /v2/info/import offers exactly the methods the deployment enables."""
    offered = ctx.api.import_methods()
    enabled = list(ctx.opts.import_methods)
    if sorted(offered) != sorted(enabled):
        raise CheckFailed(
            f"GET /v2/info/import offers [{', '.join(offered)}], the settings enable "
            f"[{', '.join(enabled)}]"
        )
    return f"GET /v2/info/import offers {', '.join(offered)}, as enabled"


def _timeline(ctx: Context, step: str) -> Timeline:
    timeline = Timeline()
    ctx.timelines[step] = timeline
    return timeline


def follow_import(ctx: Context, image_id: str, timeline: Timeline) -> dict[str, Any]:
    """Look at the image until it leaves the transient statuses (or --timeout): the image
    as last seen. A web-download that failed leaves it ``queued`` with
    ``os_glance_failed_import`` set: that ends the wait too."""
    deadline = time.monotonic() + ctx.opts.timeout
    while True:
        image = ctx.api.get_image(image_id)
        if image is None:
            raise CheckFailed(f"image {image_id} disappeared (GET answers 404)")
        status = image.get("status")
        timeline.see(status)
        # Called after Glance took the import on: queued again means it failed.
        settled = status not in TRANSIENT or (status == "queued" and _import_failed(ctx, image))
        if settled or time.monotonic() >= deadline:
            return image
        time.sleep(IMPORT_POLL)


def delete_when_released(ctx: Context, image_id: str) -> None:
    """Delete the image once its import task has let go of it (IMPORT_LOCK gone).

    The task still writes to the image after it turns active (its last tasks, then
    dropping the lock); a DELETE in between can fail with HTTP 500 (seen on Zed).
    """
    released, image = poll(
        lambda: ctx.api.get_image(image_id) or {}, lambda i: IMPORT_LOCK not in i, STAGED_GONE_WAIT
    )
    if not released:
        raise CheckFailed(
            f"import task {image.get(IMPORT_LOCK)} still holds image {image_id} "
            f"{STAGED_GONE_WAIT:.0f} s after the import ended ({IMPORT_LOCK})"
        )
    ctx.api.delete_image(image_id)


def _import_failed(ctx: Context, image: dict[str, Any]) -> bool:
    if image.get("os_glance_failed_import"):
        return True
    tasks = ctx.api.image_tasks(str(image["id"]))
    return any(task.get("status") == "failure" for task in tasks)


def _states_and_hashes(
    timeline: Timeline, method: str, local: Digests, image: dict[str, Any]
) -> None:
    problems = timeline_problems(timeline.statuses, IMPORT_PATHS[method])
    if image.get("status") == "active":
        problems += image_record_problems(local, image)
    if problems:
        failed = image.get("os_glance_failed_import")
        why = f"; os_glance_failed_import={failed}" if failed else ""
        raise CheckFailed(f"{'; '.join(problems)} ({timeline.text()}{why})")


def _staged_file(ctx: Context, image_id: str) -> Path | None:
    return ctx.opts.staging_path / image_id if ctx.opts.staging_path is not None else None


def step_import_glance_direct(ctx: Context) -> str:
    """Create, stage (PUT /stage), import (glance-direct): queued -> uploading ->
    importing -> active; size and hashes as the local file's; the staged file is in the
    staging area between stage and import, and gone after."""
    _require_offered(ctx, "glance-direct")
    source = ctx.source
    if source is None:
        raise CheckFailed("no image source")
    timeline = _timeline(ctx, "import-glance-direct")
    image = temp_image(ctx, "import-direct")
    image_id = str(image["id"])
    timeline.see(image.get("status"))
    with source.path.open("rb") as handle, ctx.progress("stage", source.size) as bar:
        reader = HashingReader(handle, source.size, ctx.opts.hash_algo, progress=bar)
        ctx.api.stage(image_id, reader)
    local = reader.digests()
    timeline.see((ctx.api.get_image(image_id) or {}).get("status"))
    notes = []
    staged = _staged_file(ctx, image_id)
    if staged is not None:
        require_file_size(staged, local.size, "in the staging area")
        notes.append(f"staged as {staged} ({local.size} bytes)")
    status, answer = ctx.api.try_import(image_id, {"name": "glance-direct"})
    if status != 202:
        raise CheckFailed(f"{answer} ({timeline.text()})")
    image = follow_import(ctx, image_id, timeline)
    _states_and_hashes(timeline, "glance-direct", local, image)
    notes.append(f"size, checksum and {local.algo} = local")
    if staged is not None:
        # Glance removes the staged data in the import flow's last task, which may
        # run just after the image turned active (seen on 2025.1 with unified limits).
        gone, _ = poll(staged.exists, lambda there: not there, STAGED_GONE_WAIT)
        if not gone:
            raise CheckFailed(
                f"{staged} is still in the staging area {STAGED_GONE_WAIT:.0f} s after the import"
            )
        notes.append("staged file gone")
    missed = missed_note(timeline.statuses, IMPORT_PATHS["glance-direct"])
    delete_when_released(ctx, image_id)
    require_gone(ctx.api, image_id)
    return "; ".join([timeline.text(), *([missed] if missed else []), *notes, "deleted"])


def step_import_web_download(ctx: Context) -> str:
    """Serve the image here, import it with web-download: queued -> importing -> active,
    Glance fetched it from the server, size and hashes as the local file's."""
    _require_offered(ctx, "web-download")
    opts, source = ctx.opts, ctx.source
    if source is None:
        raise CheckFailed("no image source")
    local = file_digests(source.path, opts.hash_algo)
    timeline = _timeline(ctx, "import-web-download")
    name = f"{ctx.run_id}.{opts.disk_format}"
    with serve_file(source.path, opts.serve_address, opts.serve_port, name) as served:
        image = temp_image(ctx, "import-web")
        image_id = str(image["id"])
        timeline.see(image.get("status"))
        status, answer = ctx.api.try_import(image_id, {"name": "web-download", "uri": served.url})
        if status != 202:
            raise CheckFailed(f"{answer} ({timeline.text()})")
        image = follow_import(ctx, image_id, timeline)
    _states_and_hashes(timeline, "web-download", local, image)
    if served.gets == 0:
        raise CheckFailed(f"active, but Glance never fetched {served.url}: {served.requests}")
    missed = missed_note(timeline.statuses, IMPORT_PATHS["web-download"])
    delete_when_released(ctx, image_id)
    require_gone(ctx.api, image_id)
    asked = ", ".join(sorted(set(served.requests)))
    return "; ".join(
        [
            timeline.text(),
            *([missed] if missed else []),
            f"served {served.url} ({asked})",
            f"size, checksum and {local.algo} = local",
            "server stopped, image deleted",
        ]
    )


def _failure_seen(ctx: Context, image_id: str, image: dict[str, Any]) -> str | None:
    """What tells the user the import failed: os_glance_failed_import, else a failed
    task's message."""
    failed = image.get("os_glance_failed_import")
    if failed:
        return f"os_glance_failed_import={failed}"
    for task in ctx.api.image_tasks(image_id):
        if task.get("status") == "failure" and task.get("message"):
            return f"task {task.get('id')}: {short(str(task['message']), 160)}"
    return None


def _refused_problems(ctx: Context, image_id: str, image: dict[str, Any]) -> list[str]:
    problems = []
    if image.get("status") == "active":
        problems.append("the image is active")
    kept = [k for k in ("size", "checksum", "os_hash_value") if image.get(k)]
    if kept:
        problems.append(f"Glance recorded {', '.join(f'{k}={short(image[k])}' for k in kept)}")
    if image.get("stores"):
        problems.append(f"the image lists stores {image['stores']}")
    staged = _staged_file(ctx, image_id)
    if staged is not None and staged.exists():
        problems.append(f"{staged} is in the staging area")
    if ctx.opts.store_path is not None and (ctx.opts.store_path / image_id).exists():
        problems.append(f"{ctx.opts.store_path / image_id} is in the store")
    return problems


@contextlib.contextmanager
def _listen_if_ours(ctx: Context, url: str) -> Iterator[ServedFile | None]:
    """Listen on the refused URL when it is on this machine's --serve-address, to see
    that Glance never asks; None when it is elsewhere or the port cannot be bound."""
    parts = urllib.parse.urlsplit(url)
    with contextlib.ExitStack() as stack:
        served = None
        if parts.hostname == ctx.opts.serve_address and parts.port is not None:
            # Only the bind may fail quietly; a failure in the block is the step's.
            with contextlib.suppress(CheckFailed):
                served = stack.enter_context(
                    serve_file(None, ctx.opts.serve_address, parts.port, parts.path)
                )
        yield served


def step_import_refused(ctx: Context) -> str:
    """web-download from a URL the filters refuse: refused at the import call (HTTP 400)
    or by the import task; the image is not active, the failure is visible, nothing is
    stored or staged, nothing was fetched; the image is deleted."""
    _require_offered(ctx, "web-download")
    opts = ctx.opts
    found = refused_url(opts.import_filters, opts.serve_address, opts.serve_port, "refused")
    if found is None:
        raise CheckFailed("the import filters refuse none of the URLs this step tries")
    url, reason = found
    timeline = _timeline(ctx, "import-refused")
    with _listen_if_ours(ctx, url) as served:
        image = temp_image(ctx, "import-refused")
        image_id = str(image["id"])
        timeline.see(image.get("status"))
        status, answer = ctx.api.try_import(image_id, {"name": "web-download", "uri": url})
        if status == 202:
            image = follow_import(ctx, image_id, timeline)
        else:
            image = ctx.api.get_image(image_id) or {}
            timeline.see(image.get("status"))
    problems = _refused_problems(ctx, image_id, image)
    if status == 202:
        visible = _failure_seen(ctx, image_id, image)
        if visible is None:
            problems.append(
                f"import taken on (HTTP 202) and ended {image.get('status')} without "
                "os_glance_failed_import or a failed task's message"
            )
        how = f"taken on (HTTP 202), then failed: {visible}"
    elif status == 400 and FILTER_REFUSAL.search(answer):
        how = f"refused at the import call: {answer}"
    else:
        problems.append(f"expected HTTP 400 (filtering) or 202 then a failure, got {answer}")
        how = answer
    if served is not None and served.requests:
        problems.append(f"Glance asked the refused URL anyway: {served.requests}")
    if problems:
        raise CheckFailed(f"{url} ({reason}): {'; '.join(problems)} ({timeline.text()})")
    ctx.api.delete_image(image_id)
    require_gone(ctx.api, image_id)
    notes = [f"{url} ({reason})", how, f"{timeline.text()}, not active, no size or checksum"]
    where = [p for p in (opts.staging_path, opts.store_path) if p is not None]
    if where:
        notes.append(f"nothing in {' or '.join(str(p) for p in where)}")
    if served is not None:
        notes.append("nothing asked of the server listening there")
    notes.append("deleted")
    return "; ".join(notes)


def copy_stores(opts: Options) -> tuple[Backend, Backend] | None:
    """The store step import-copy-image uploads to (the default backend, else the first)
    and the one it copies to (the next); None with fewer than two."""
    if len(opts.backends) < 2:
        return None
    names = [b.name for b in opts.backends]
    first = names.index(opts.default_backend) if opts.default_backend in names else 0
    source = opts.backends[first]
    target = next(b for b in opts.backends if b.name != source.name)
    return source, target


def _stores(image: dict[str, Any], key: str = "stores") -> list[str]:
    return [s for s in str(image.get(key) or "").split(",") if s]


def _copy_state(image: dict[str, Any]) -> str:
    """``active stores=fast copying to legacy``: the status with the image's stores (a
    copy leaves the status active), what it is being copied to, a failure."""
    text = f"{image.get('status')} stores={','.join(_stores(image)) or '-'}"
    importing = _stores(image, "os_glance_importing_to_stores")
    failed = _stores(image, "os_glance_failed_import")
    return (
        text
        + (f" copying to {','.join(importing)}" if importing else "")
        + (f" failed {','.join(failed)}" if failed else "")
    )


def _follow_copy(ctx: Context, image_id: str, target: str, timeline: Timeline) -> dict[str, Any]:
    """Look at the image until ``target`` is among its stores, or the copy failed (or
    --timeout): the image as last seen."""
    deadline = time.monotonic() + ctx.opts.timeout
    while True:
        image = ctx.api.get_image(image_id)
        if image is None:
            raise CheckFailed(f"image {image_id} disappeared (GET answers 404)")
        timeline.see(_copy_state(image))
        failed = target in _stores(image, "os_glance_failed_import")
        if target in _stores(image) or failed or time.monotonic() >= deadline:
            return image
        time.sleep(IMPORT_POLL)


def _store_bytes(ctx: Context, image_id: str, backends: tuple[Backend, ...], local: Digests) -> str:
    """Hash the image's file in each file store here: as the uploaded data."""
    hashed, problems = [], []
    for backend in backends:
        directory = local_store_dir(ctx, backend.directory)
        if directory is None:
            continue
        path = directory / image_id
        if not path.is_file():
            problems.append(f"{path}: no such file")
            continue
        problems += digest_problems(local, file_digests(path, local.algo), str(path))
        hashed.append(backend.name)
    if problems:
        raise CheckFailed("; ".join(problems))
    if not hashed:
        return "store files not here (no --local-stores or --host-root): bytes not hashed"
    return f"the files in {' and '.join(hashed)}: size, md5 and {local.algo} = local"


def step_import_copy_image(ctx: Context) -> str:
    """Upload to one store, copy the active image to another with copy-image: the image
    stays active and then lists both stores, the bytes in each store hash as the
    uploaded data; delete: 404, the files gone."""
    _require_offered(ctx, "copy-image")
    pair = copy_stores(ctx.opts)
    if pair is None:
        raise CheckFailed("copy-image needs two stores (--backend, or --config backends)")
    source, target = pair
    api = ctx.api
    timeline = _timeline(ctx, "import-copy-image")
    image_id = str(temp_image(ctx, "import-copy")["id"])
    local, _ = upload_source(ctx, image_id, source.name, f"upload {source.name}")
    image = wait_for_status(api, image_id, "active", ctx.opts.timeout)
    timeline.see(_copy_state(image))
    status, answer = api.try_import(image_id, {"name": "copy-image"}, stores=[target.name])
    if status != 202:
        raise CheckFailed(f"{answer} ({timeline.text()})")
    image = _follow_copy(ctx, image_id, target.name, timeline)
    problems = image_record_problems(local, image)
    both = sorted([source.name, target.name])
    if sorted(_stores(image)) != both:
        problems.append(mismatch("stores", ",".join(both), image.get("stores")))
    if problems:
        raise CheckFailed(f"{'; '.join(problems)} ({timeline.text()})")
    hashed = _store_bytes(ctx, image_id, (source, target), local)
    delete_when_released(ctx, image_id)
    require_gone(api, image_id)
    left = [
        str(d / image_id)
        for d in (local_store_dir(ctx, b.directory) for b in (source, target))
        if d is not None and (d / image_id).exists()
    ]
    if left:
        raise CheckFailed(f"still there after delete: {', '.join(left)}")
    return "; ".join(
        [
            f"uploaded to {source.name}, copied to {target.name}: {timeline.text()}",
            f"size, checksum and {local.algo} = local",
            hashed,
            "deleted" + (", files gone" if "not hashed" not in hashed else ""),
        ]
    )
