"""The storage-lab checks (store-info, backends, quota, image-cache, http-store) against the
fake Glance: each passes where Glance behaves, and fails, saying why, where it does not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from conftest import FakeContext, FakeGlance
from glance_verify.cloud import GlanceApi
from glance_verify.errors import ConfigError
from glance_verify.hashing import CHUNK_SIZE, MIB
from glance_verify.options import Backend, Options
from glance_verify.plan import STEPS
from glance_verify.report import options_summary
from glance_verify.runner import RunResult, run_steps
from glance_verify.storage import (
    GeneratedData,
    file_url_path,
    image_location_urls,
    location_problems,
    parse_backend,
    parse_quota,
    repeating,
)

MakeContext = Callable[..., FakeContext]
#: What the image-cache step needs before it.
MAIN = ("source", "create-empty", "upload")


def run_named(ctx: FakeContext, *names: str) -> RunResult:
    return run_steps(ctx, [s for s in STEPS if s.name in names])


def result(run: RunResult, name: str) -> tuple[str, str]:
    step = next(r for r in run.steps if r.name == name)
    return step.status, step.detail


def left_over(fake: FakeGlance) -> list[str]:
    """Images and cache entries still there after a run (its cleanup included)."""
    return [*fake.images, *fake.cache]


# --- pure helpers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("64MB", 64 * 1024**2),
        ("1GB", 1024**3),
        ("2TB", 2 * 1024**4),
        ("10KB", 10 * 1024),
        ("123", 123),
        ("123B", 123),
    ],
)
def test_parse_quota_reads_units_as_glance_does(text: str, size: int) -> None:
    assert parse_quota(text) == size


@pytest.mark.parametrize("text", ["64M", "64mb", "1 GB", "-1MB", "1.5GB", "GB", "", "0", "0MB"])
def test_parse_quota_rejects_what_glance_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="--quota"):
        parse_quota(text)


def test_parse_backend() -> None:
    assert parse_backend("fast") == Backend("fast")
    assert parse_backend("fast=/srv/glance//fast/") == Backend(
        "fast", PurePosixPath("/srv/glance/fast")
    )
    for bad in ("=/x", "fast=relative/dir", "a,b", "fast=", " x"):
        with pytest.raises(ConfigError, match="--backend"):
            parse_backend(bad)


def test_location_helpers() -> None:
    image_id = "0b7e"
    assert image_location_urls({"locations": [{"url": "file:///a/0b7e", "metadata": {}}]}) == [
        "file:///a/0b7e"
    ]
    assert image_location_urls({"locations": [], "direct_url": "file:///b/x"}) == ["file:///b/x"]
    assert image_location_urls({"id": image_id}) is None
    assert file_url_path("file:///srv//g/0b7e") == PurePosixPath("/srv/g/0b7e")
    assert file_url_path("http://h/x") is None
    directory = PurePosixPath("/srv/g")
    assert location_problems(["file:///srv/g/0b7e"], directory, image_id) == []
    assert location_problems(["file:///srv/other/0b7e"], directory, image_id) == [
        "location: expected file:///srv/g/0b7e, got file:///srv/other/0b7e"
    ]
    assert "expected one" in location_problems([], directory, image_id)[0]


def test_generated_data_gives_exactly_size_bytes_in_pieces() -> None:
    calls: list[int] = []

    def source(n: int) -> bytes:
        calls.append(n)
        return b"x" * n

    data = GeneratedData(10, source)
    assert data.read(4) == b"xxxx"
    assert data.read(100) == b"x" * 6
    assert data.read(4) == b""
    assert calls == [4, 6]
    assert GeneratedData(3, source).read() == b"xxx"
    with pytest.raises(ValueError, match="negative"):
        GeneratedData(-1)


def test_generated_data_is_fresh_random_by_default() -> None:
    data = GeneratedData(3 * MIB + 5)
    chunks = [data.read(CHUNK_SIZE) for _ in range(5)]
    assert [len(c) for c in chunks] == [CHUNK_SIZE] * 3 + [5, 0]
    assert len(set(chunks[:3])) == 3


def test_repeating_source_goes_on_where_it_ended() -> None:
    source = repeating(b"abcdef")
    assert source(4) == b"abcd"
    assert source(6) == b"efabcd"
    assert source(2) == b"ef"
    assert source(6) == b"abcdef"
    data = GeneratedData(2 * MIB + 7, repeating(bytes(range(256)) * 4096))
    body = b"".join(iter(lambda: data.read(CHUNK_SIZE), b""))
    assert body == (bytes(range(256)) * 4096 * 3)[: 2 * MIB + 7]
    with pytest.raises(ValueError, match="empty"):
        repeating(b"")


def test_try_upload_reports_a_broken_connection_as_status_0() -> None:
    import keystoneauth1.exceptions as ksa  # noqa: PLC0415

    class Image:
        def request(self, path: str, method: str, **kwargs: Any) -> Any:
            raise ksa.ConnectFailure("Connection reset by peer")

    class Conn:
        image = Image()

    status, text = GlanceApi(Conn()).try_upload("abc", [b"x"])
    assert status == 0
    assert "connection broke" in text and "reset by peer" in text


# --- store-info ------------------------------------------------------------------------------


def test_store_info_passes_and_names_the_default(
    make_context: MakeContext, storage_lab: dict[str, Any]
) -> None:
    status, detail = result(run_named(make_context(**storage_lab), "store-info"), "store-info")
    assert status == "pass", detail
    assert "lists fast, slow" in detail and "default fast" in detail
    assert "data_dir as given" in detail


def test_store_info_fails_for_a_backend_not_listed_and_a_wrong_default(
    make_context: MakeContext, storage_lab: dict[str, Any]
) -> None:
    lab = {**storage_lab, "backends": (*storage_lab["backends"], Backend("cold"))}
    lab["default_backend"] = "slow"
    status, detail = result(run_named(make_context(**lab), "store-info"), "store-info")
    assert status == "fail"
    assert "not listed: cold (listed: fast, slow)" in detail
    assert "default store: expected slow, got fast" in detail


def test_store_info_fails_for_another_data_dir(
    make_context: MakeContext, storage_lab: dict[str, Any]
) -> None:
    lab = {**storage_lab, "backends": (Backend("fast", PurePosixPath("/srv/elsewhere")),)}
    status, detail = result(run_named(make_context(**lab), "store-info"), "store-info")
    assert status == "fail"
    assert "fast data_dir: expected /srv/elsewhere, got" in detail


def test_store_info_fails_without_multiple_stores(make_context: MakeContext) -> None:
    ctx = make_context(backends=(Backend("fast"),))
    status, detail = result(run_named(ctx, "store-info"), "store-info")
    assert status == "fail"
    assert "HTTP 404" in detail and "enabled_backends" in detail


# --- backends --------------------------------------------------------------------------------


def test_backends_upload_to_each_and_leave_nothing(
    make_context: MakeContext, fake_glance: FakeGlance, storage_lab: dict[str, Any]
) -> None:
    run = run_named(make_context(**storage_lab), "source", "backends")
    status, detail = result(run, "backends")
    assert status == "pass", detail
    for name in ("fast", "slow"):
        assert f"{name}: active, stores={name}" in detail
    assert detail.count("file there with its size") == 2
    assert "location file://" in detail
    assert run.cleanup_ok and left_over(fake_glance) == []
    assert all(list(d.iterdir()) == [] for d in fake_glance.backends.values())


def test_backends_without_local_stores_never_look_at_local_files(
    make_context: MakeContext, fake_glance: FakeGlance, storage_lab: dict[str, Any]
) -> None:
    # A directory of the same name on the deploy host may belong to another Glance
    # (this host's all-in-one while molecule tests a container): not a proof either way.
    run = run_named(make_context(**{**storage_lab, "local_stores": False}), "source", "backends")
    status, detail = result(run, "backends")
    assert status == "pass", detail
    assert "file there with its size" not in detail
    assert "location file://" in detail


def test_backends_stores_mismatch_fails(
    make_context: MakeContext, fake_glance: FakeGlance, storage_lab: dict[str, Any]
) -> None:
    fake_glance.wrong_stores = "slow"
    run = run_named(make_context(**storage_lab), "source", "backends")
    status, detail = result(run, "backends")
    assert status == "fail"
    assert "fast: stores: expected fast, got slow" in detail
    assert run.cleanup_ok and left_over(fake_glance) == []


def test_backends_location_in_another_directory_fails(
    make_context: MakeContext, fake_glance: FakeGlance, storage_lab: dict[str, Any]
) -> None:
    lab = {**storage_lab, "backends": (Backend("slow", PurePosixPath("/srv/not-here")),)}
    run = run_named(make_context(**lab), "source", "backends")
    status, detail = result(run, "backends")
    assert status == "fail"
    assert "slow: location: expected file:///srv/not-here/" in detail
    assert run.cleanup_ok and left_over(fake_glance) == []


def test_backends_without_shown_locations_say_so(
    make_context: MakeContext, fake_glance: FakeGlance, storage_lab: dict[str, Any]
) -> None:
    fake_glance.show_locations = False
    status, detail = result(
        run_named(make_context(**storage_lab), "source", "backends"), "backends"
    )
    assert status == "pass", detail
    assert "location not shown" in detail


def test_one_failing_backend_does_not_hide_the_others(
    make_context: MakeContext, fake_glance: FakeGlance, storage_lab: dict[str, Any]
) -> None:
    lab = {**storage_lab, "backends": (Backend("cold"), *storage_lab["backends"])}
    run = run_named(make_context(**lab), "source", "backends")
    status, detail = result(run, "backends")
    assert status == "fail"
    assert detail.startswith("cold: PUT /v2/images/") and "HTTP 400" in detail
    assert detail.endswith("(passed: fast, slow)")
    assert run.cleanup_ok and left_over(fake_glance) == []


# --- quota -----------------------------------------------------------------------------------


def test_quota_refuses_both_ways_and_takes_a_small_image(
    make_context: MakeContext, fake_glance: FakeGlance, storage_lab: dict[str, Any]
) -> None:
    run = run_named(make_context(**storage_lab), "quota")
    status, detail = result(run, "quota")
    assert status == "pass", detail
    assert "9.0 MiB over 8MB refused" in detail
    assert "declared: HTTP 413, image queued" in detail
    assert "chunked: HTTP 413, image saving" in detail
    assert "(storage quota)" in detail
    # Just under what is left of the quota (nothing used yet: 8 MiB - 1 MiB) is accepted.
    assert "7.0 MiB just under it: active" in detail
    # Streamed in chunks, never as one buffer: 2 x (8 MiB + 1 MiB) + 7 MiB went out.
    assert sum(fake_glance.upload_consumed) == 2 * (9 * MIB) + 7 * MIB
    assert max(fake_glance.upload_consumed) <= CHUNK_SIZE
    assert run.cleanup_ok and left_over(fake_glance) == []


def test_quota_accepted_when_it_should_be_refused_fails(
    make_context: MakeContext, fake_glance: FakeGlance, storage_lab: dict[str, Any]
) -> None:
    fake_glance.quota = None
    run = run_named(make_context(**storage_lab), "quota")
    status, detail = result(run, "quota")
    assert status == "fail"
    assert "(with Content-Length) over --quota 8MB" in detail
    assert "expected HTTP 413, got HTTP 204: accepted" in detail
    assert "the image is active" in detail and "Glance recorded size=" in detail
    assert run.cleanup_ok and left_over(fake_glance) == []


def test_quota_refusal_that_leaves_the_file_fails(
    make_context: MakeContext, fake_glance: FakeGlance, storage_lab: dict[str, Any]
) -> None:
    fake_glance.quota_leaves_file = True
    status, detail = result(run_named(make_context(**storage_lab), "quota"), "quota")
    assert status == "fail"
    assert "(chunked) over --quota 8MB" in detail and "is in the store" in detail


def test_quota_that_refuses_everything_fails(
    make_context: MakeContext, fake_glance: FakeGlance, storage_lab: dict[str, Any]
) -> None:
    fake_glance.quota = 512 * 1024  # Glance's real limit is far below --quota
    status, detail = result(run_named(make_context(**storage_lab), "quota"), "quota")
    assert status == "fail"
    assert "1 MiB under what is left of --quota 8MB, was refused" in detail
    assert "HTTP 413" in detail and "already hold about" in detail


def test_quota_that_refuses_just_under_it_fails(
    make_context: MakeContext, fake_glance: FakeGlance, storage_lab: dict[str, Any]
) -> None:
    fake_glance.quota = 6 * MIB  # Glance's real limit is below --quota, above 1 MiB
    status, detail = result(run_named(make_context(**storage_lab), "quota"), "quota")
    assert status == "fail"
    assert f"an upload of {7 * MIB} bytes, 1 MiB under what is left of --quota 8MB" in detail
    assert "HTTP 413" in detail and "already hold about 0 bytes" in detail


def test_quota_413_for_another_reason_fails(
    make_context: MakeContext, fake_glance: FakeGlance, storage_lab: dict[str, Any]
) -> None:
    fake_glance.quota_message = "HTTP 413 The incoming image is too large"  # image_size_cap
    status, detail = result(run_named(make_context(**storage_lab), "quota"), "quota")
    assert status == "fail"
    assert "HTTP 413, but not for the reason expected (quota)" in detail


def test_quota_counts_what_the_project_holds(
    make_context: MakeContext, fake_glance: FakeGlance, storage_lab: dict[str, Any]
) -> None:
    fake_glance.quota = 16 * MIB
    ctx = make_context(**{**storage_lab, "quota": 16 * MIB, "quota_text": "16MB"})
    held = ctx.api.create_image(name="held", disk_format="raw", container_format="bare")
    ctx.api.upload(str(held["id"]), [b"x" * MIB] * 4)
    status, detail = result(run_named(ctx, "quota"), "quota")
    assert status == "pass", detail
    # 16 MiB quota, 4 MiB held: 13 MiB over is refused, 11 MiB is accepted.
    assert "13.0 MiB over 16MB (the project holds 4.0 MiB) refused" in detail
    assert "11.0 MiB just under it: active" in detail


# --- image cache -----------------------------------------------------------------------------


def test_image_cache_prefers_the_new_api(
    make_context: MakeContext, fake_glance: FakeGlance, storage_lab: dict[str, Any]
) -> None:
    ctx = make_context(**storage_lab)
    run = run_named(ctx, *MAIN, "image-cache")
    status, detail = result(run, "image-cache")
    assert status == "pass", detail
    assert detail.startswith("/v2/cache; listed after download 1; ")
    assert "download 2 a cache hit (hits 0 -> 1)" in detail
    assert f"image-cache/{ctx.image} exists" in detail
    assert ("DELETE", f"/cache/{ctx.image}") in fake_glance.requests
    assert fake_glance.cache == {}
    assert list(storage_lab["image_cache_dir"].iterdir()) == []


def test_image_cache_falls_back_to_cached_images(
    make_context: MakeContext, fake_glance: FakeGlance, storage_lab: dict[str, Any]
) -> None:
    fake_glance.cache_paths = ("/cached_images",)
    lab = {**storage_lab, "image_cache_dir": None}
    status, detail = result(run_named(make_context(**lab), *MAIN, "image-cache"), "image-cache")
    assert status == "pass", detail
    assert detail.startswith("/v2/cached_images;")


def test_image_cache_already_cached_is_removed_first(
    make_context: MakeContext, fake_glance: FakeGlance, storage_lab: dict[str, Any]
) -> None:
    fake_glance.cache_on_upload = True
    run = run_named(make_context(**storage_lab), *MAIN, "image-cache")
    status, detail = result(run, "image-cache")
    assert status == "pass", detail
    assert "was cached already: removed first" in detail
    assert run.cleanup_ok and left_over(fake_glance) == []


@pytest.mark.parametrize(
    ("misbehaviour", "needle"),
    [
        ("no-api", "no cache management API"),
        ("never-fills", "not in the cache listing 0.2s after a full download"),
        ("never-hits", "download 2 was not a cache hit: hits 0 -> 0"),
    ],
)
def test_image_cache_failures(
    make_context: MakeContext,
    fake_glance: FakeGlance,
    storage_lab: dict[str, Any],
    misbehaviour: str,
    needle: str,
) -> None:
    if misbehaviour == "no-api":
        fake_glance.cache_paths = ()
    fake_glance.cache_never_fills = misbehaviour == "never-fills"
    fake_glance.cache_never_hits = misbehaviour == "never-hits"
    run = run_named(make_context(**storage_lab), *MAIN, "image-cache", "delete")
    status, detail = result(run, "image-cache")
    assert status == "fail"
    assert needle in detail
    assert run.cleanup_ok and left_over(fake_glance) == []


# --- http store ------------------------------------------------------------------------------


def test_http_store_goes_active_without_saving_and_serves_the_urls_bytes(
    make_context: MakeContext,
    fake_glance: FakeGlance,
    storage_lab: dict[str, Any],
    web_root: tuple[Path, str],
) -> None:
    run = run_named(make_context(**storage_lab), "http-store")
    status, detail = result(run, "http-store")
    assert status == "pass", detail
    size = (web_root[0] / "served.img").stat().st_size
    assert detail.startswith("statuses queued -> active: active in the PATCH answer, never saving")
    assert f"{size} bytes" in detail
    assert run.cleanup_ok and left_over(fake_glance) == []


@pytest.mark.parametrize(
    ("setup", "needle"),
    [
        ("saving", "the image went through saving: queued -> saving"),
        ("hidden", "HTTP 403 It's not allowed to add locations"),
        ("invalid", "HTTP 400 Invalid location (is the http store enabled"),
        ("tampered", "data downloaded through Glance md5: expected"),
        ("unreachable", "from here: HTTP 404"),
    ],
)
def test_http_store_failures(
    make_context: MakeContext,
    fake_glance: FakeGlance,
    storage_lab: dict[str, Any],
    setup: str,
    needle: str,
) -> None:
    lab = dict(storage_lab)
    if setup == "saving":
        fake_glance.location_statuses = ("saving", "active")
    elif setup == "hidden":
        fake_glance.locations_allowed = False
    elif setup == "invalid":
        fake_glance.http_fetch = None
    elif setup == "tampered":
        fake_glance.tamper_download = lambda body: b"x" + body[1:]
    else:
        lab["http_url"] = lab["http_url"].replace("served.img", "missing.img")
    run = run_named(make_context(**lab), "http-store")
    status, detail = result(run, "http-store")
    assert status == "fail"
    assert needle in detail
    if setup == "hidden":
        assert "show_multiple_locations = True" in detail
    assert run.cleanup_ok and left_over(fake_glance) == []


def test_storage_steps_can_be_skipped(
    make_context: MakeContext, storage_lab: dict[str, Any]
) -> None:
    names = ("image-cache", "store-info", "backends", "quota", "http-store")
    ctx = make_context(**storage_lab, skip=frozenset(names))
    run = run_named(ctx, *MAIN, *names)
    assert {n: result(run, n) for n in names} == dict.fromkeys(names, ("skip", "--skip"))


def test_report_options_name_the_storage_labs(tmp_path: Path) -> None:
    opts = Options(
        backends=(Backend("fast", PurePosixPath("/srv/fast")), Backend("web")),
        default_backend="fast",
        quota=64 * MIB,
        quota_text="64MB",
        image_cache=True,
        image_cache_dir=tmp_path,
        http_url="http://10.0.0.5/x.img",
    )
    summary = options_summary(opts)
    assert summary["backends"] == {"fast": "/srv/fast", "web": None}
    assert (summary["default_backend"], summary["quota"]) == ("fast", "64MB")
    assert summary["image_cache"] and summary["image_cache_dir"] == str(tmp_path)
    assert summary["http_url"] == "http://10.0.0.5/x.img"


def test_try_upload_sends_the_body_once_even_when_a_retry_is_configured() -> None:
    """The SDK retries an image request answered 503 (image_status_code_retries 5). The
    first try consumed the body, so a retry sent an empty one and Glance made an active,
    empty image of it (failover.yml). A real keystoneauth adapter with those retries, a
    local server that answers 503: one PUT, answered 503, no second one."""
    import http.server  # noqa: PLC0415
    import io  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from keystoneauth1 import adapter, session  # noqa: PLC0415

    seen: list[tuple[str | None, int]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            length = self.headers.get("Content-Length")
            seen.append((length, len(self.rfile.read(int(length or 0)))))
            self.send_response(503 if len(seen) == 1 else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        image = adapter.Adapter(
            session.Session(),
            endpoint_override=f"http://127.0.0.1:{server.server_address[1]}/v2",
            status_code_retries=5,
            retriable_status_codes=[503],
            status_code_retry_delay=0.01,
        )

        class Conn:
            pass

        conn = Conn()
        conn.image = image  # type: ignore[attr-defined]
        status, text = GlanceApi(conn).try_upload("abc", io.BytesIO(b"x" * 4096))
    finally:
        server.shutdown()
        server.server_close()
    assert status == 503, text
    assert seen == [("4096", 4096)]
