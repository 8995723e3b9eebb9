"""The storage-lab steps: store-info, backends, quota, keystone-limits, image-cache and
http-store. Each runs only when the options say the deployment enables its feature
(see ``plan.py``); they follow the same rules as the lifecycle steps (``lifecycle.py``).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from glance_verify.cloud import POLL_INTERVAL, TRANSIENT, poll, wait_for_status
from glance_verify.compare import (
    digest_problems,
    image_record_problems,
    mismatch,
    queued_image_problems,
    require,
    short,
)
from glance_verify.context import Context
from glance_verify.errors import CheckFailed
from glance_verify.hashing import MIB, HashingReader, hash_chunks
from glance_verify.lifecycle import download_digests, require_file_size, require_gone, upload_source
from glance_verify.options import Backend, on_host
from glance_verify.progress import human_bytes
from glance_verify.source import SourceUnavailable, url_chunks
from glance_verify.storage import (
    GeneratedData,
    cache_entry,
    describe_limits,
    image_location_urls,
    limit_fill_mib,
    location_problems,
    parse_usage,
    rbd_location_problems,
    repeating,
)

#: How long the cache listing may lag behind a finished download (seconds, at most --timeout).
CACHE_WAIT = 30.0
#: The cache management APIs of Glance Zed, preferred first: ``/v2/cache`` (Image API 2.14,
#: always routed) and ``/v2/cached_images`` (the ``cachemanage`` paste filter).
CACHE_PATHS = ("/cache", "/cached_images")


def temp_image(ctx: Context, suffix: str, **attrs: Any) -> dict[str, Any]:
    """An extra image of this run (``<run id>-<suffix>``), deleted at the end in any case."""
    fields = {"disk_format": ctx.opts.disk_format, "container_format": ctx.opts.container_format}
    image = ctx.api.create_image(name=f"{ctx.run_id}-{suffix}", **{**fields, **attrs})
    image_id = str(image["id"])
    ctx.temp_images[suffix] = image_id
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


def local_store_dir(ctx: Context, directory: object) -> Path | None:
    """``directory`` as a local Path with --local-stores (an all-in-one host), else None."""
    if directory is None or not ctx.opts.local_stores:
        return None
    path = on_host(ctx.opts.host_root, str(directory))
    return path if path.is_dir() else None


def _check_backend(ctx: Context, backend: Backend) -> str:
    name = backend.name
    image_id = str(temp_image(ctx, f"backend-{name}")["id"])
    local, _ = upload_source(ctx, image_id, name, f"upload {name}")
    image = wait_for_status(ctx.api, image_id, "active", ctx.opts.timeout)
    problems = image_record_problems(local, image)
    if image.get("stores") != name:
        problems.append(mismatch("stores", name, image.get("stores")))
    notes = [f"active, stores={name}, checksum and {local.algo} = local"]
    urls = image_location_urls(image)
    if backend.pool is not None and urls is not None:
        problems += rbd_location_problems(urls, backend.pool, image_id)
        notes.append(f"location rbd://<fsid>/{backend.pool}/<id>/snap")
    if backend.directory is not None:
        if urls is None:
            notes.append("location not shown (show_multiple_locations, show_image_direct_url off)")
        else:
            problems += location_problems(urls, backend.directory, image_id)
            notes.append(f"location file://{backend.directory}/<id>")
    require(problems)
    local_dir = local_store_dir(ctx, backend.directory)
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
    return local_store_dir(ctx, default.directory) if default is not None else None


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
