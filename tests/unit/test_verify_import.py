"""Image import: the filter reasoning, the status timelines, which import steps the plan
runs, and the steps against the in-memory Glance (with a real HTTP server for
web-download)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from conftest import FakeContext, FakeGlance, free_port
from glance_verify import import_steps
from glance_verify.deployment import parse_deployment
from glance_verify.errors import CheckFailed
from glance_verify.explain import OSC7, explain_lines
from glance_verify.import_steps import copy_stores
from glance_verify.imports import (
    IMPORT_PATHS,
    ImportFilters,
    Timeline,
    http_url,
    is_loopback,
    missed_note,
    refused_url,
    timeline_problems,
)
from glance_verify.options import Backend, Options
from glance_verify.plan import (
    STEPS,
    enabled_steps,
    refused_not_applicable,
    web_download_not_applicable,
)
from glance_verify.report import to_dict
from glance_verify.runner import run_steps

MakeContext = Callable[..., FakeContext]
DEFAULTS = ImportFilters()

# --- the filters ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "url", "reason"),
    [
        # Glance's defaults: http(s), ports 80 and 443 (when the URL names a port).
        (DEFAULTS, "http://192.0.2.1/img", None),
        (DEFAULTS, "https://192.0.2.1:443/img", None),
        (DEFAULTS, "http://192.0.2.1:8089/img", "port 8089 is not in allowed_ports [80, 443]"),
        (DEFAULTS, "ftp://192.0.2.1/img", "scheme ftp is not in allowed_schemes [http, https]"),
        # Debian's Glance refuses loopback and link-local unless allowed_hosts lists it.
        (DEFAULTS, "http://127.0.0.1/img", "host 127.0.0.1 is a loopback or link-local"),
        (DEFAULTS, "http://[::ffff:127.0.0.1]/img", "is a loopback or link-local"),
        (DEFAULTS, "http://169.254.169.254/latest", "is a loopback or link-local"),
        (ImportFilters(allowed_hosts=("127.0.0.1",)), "http://127.0.0.1/img", None),
        # Private addresses are not refused: Glance's filters take no ranges.
        (DEFAULTS, "http://10.0.0.5/img", None),
        # An allowed list wins over the disallowed one, as in Glance.
        (
            ImportFilters(allowed_hosts=("a.example",), disallowed_hosts=("a.example",)),
            "http://a.example/img",
            None,
        ),
        (
            ImportFilters(disallowed_hosts=("b.example",)),
            "http://b.example/img",
            "host b.example is in disallowed_hosts",
        ),
        (
            ImportFilters(allowed_ports=(), disallowed_ports=(8089,)),
            "http://192.0.2.1:8089/img",
            "port 8089 is in disallowed_ports",
        ),
        (ImportFilters(allowed_ports=()), "http://192.0.2.1:8089/img", None),
    ],
)
def test_refusal_follows_glance_s_order_and_rules(
    filters: ImportFilters, url: str, reason: str | None
) -> None:
    got = filters.refusal(url)
    if reason is None:
        assert got is None
    else:
        assert got is not None
        assert reason in got


def test_loopback_refusal_can_be_left_out() -> None:
    # A step that needs a refusal does not count on Debian's patch.
    assert DEFAULTS.refusal("http://127.0.0.1/x", loopback_refused=False) is None
    assert is_loopback("localhost")
    assert is_loopback("::1")
    assert not is_loopback("192.0.2.1")
    assert not is_loopback("controller")


def test_http_url_brackets_ipv6() -> None:
    assert http_url("::1", 8089, "a.img") == "http://[::1]:8089/a.img"
    assert http_url("192.0.2.1", 80) == "http://192.0.2.1:80/"


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        # The server's own URL, when refused by its port.
        (DEFAULTS, "http://127.0.0.1:8089/r"),
        # Its port allowed: the next port that is not.
        (ImportFilters(allowed_ports=(80, 443, 8089, 8090)), "http://127.0.0.1:8091/r"),
        # Any port allowed: a disallowed one, else a disallowed host.
        (ImportFilters(allowed_ports=(), disallowed_ports=(22,)), "http://127.0.0.1:22/r"),
        (
            ImportFilters(allowed_ports=(), disallowed_hosts=("192.0.2.9",)),
            "http://192.0.2.9:8089/r",
        ),
        (ImportFilters(allowed_schemes=("http",), allowed_ports=()), "https://127.0.0.1:8089/r"),
    ],
)
def test_refused_url_picks_one_the_filters_refuse(filters: ImportFilters, expected: str) -> None:
    found = refused_url(filters, "127.0.0.1", 8089, "r")
    assert found is not None
    assert found[0] == expected
    assert filters.refusal(found[0], loopback_refused=False) == found[1]


def test_refused_url_none_when_the_filters_refuse_nothing() -> None:
    assert refused_url(ImportFilters(allowed_ports=()), "127.0.0.1", 8089) is None


# --- timelines ------------------------------------------------------------------------------


def test_timeline_records_each_change_with_its_time() -> None:
    ticks = iter([10.0, 10.2, 10.4, 10.9, 11.5])
    start = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)
    clock_now = iter(start + timedelta(seconds=s) for s in (0, 0.4, 0.9, 1.5))
    timeline = Timeline(clock=lambda: next(ticks), now=lambda: next(clock_now))
    assert timeline.see("queued")
    assert not timeline.see("queued")  # the same status again: not a new entry
    for status in ("uploading", "importing", "active"):
        assert timeline.see(status)
    assert timeline.statuses == ["queued", "uploading", "importing", "active"]
    assert timeline.text() == "queued 0.00s -> uploading 0.40s -> importing 0.90s -> active 1.50s"
    assert timeline.seen[1].as_dict() == {
        "status": "uploading",
        "at": "2026-12-01T13:00:00.400+00:00",
        "seconds": 0.4,
    }


@pytest.mark.parametrize(
    ("seen", "problem"),
    [
        (["queued", "uploading", "importing", "active"], None),
        # importing may pass between two polls
        (["queued", "uploading", "active"], None),
        (["queued", "importing", "active"], "never seen: uploading"),
        (["queued", "uploading", "importing", "killed"], "status killed is not on the way"),
        (["queued", "uploading", "importing"], "never seen: active"),
        (["uploading", "queued", "active"], "statuses out of order"),
    ],
)
def test_glance_direct_timeline_problems(seen: list[str], problem: str | None) -> None:
    problems = timeline_problems(seen, IMPORT_PATHS["glance-direct"])
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


def test_missed_note_names_what_passed_unseen() -> None:
    path = IMPORT_PATHS["web-download"]
    assert missed_note(["queued", "active"], path) == (
        "importing not seen (passed between two polls)"
    )
    assert missed_note(["queued", "importing", "active"], path) is None


# --- the plan -------------------------------------------------------------------------------


def test_import_steps_run_only_for_enabled_methods() -> None:
    none = Options()
    assert "import-glance-direct" not in enabled_steps(none)
    direct = Options(import_methods=("glance-direct",))
    assert {"import-methods", "import-glance-direct"} == {
        s for s in enabled_steps(direct) if "import" in s
    }
    reason = web_download_not_applicable(direct)
    assert reason == "web-download is not an enabled import method (glance-direct)"


def test_web_download_needs_the_filters_to_let_the_server_through() -> None:
    default = Options(import_methods=("web-download",))
    reason = web_download_not_applicable(default)
    assert reason is not None
    assert "refuse http://127.0.0.1:8089/: port 8089 is not in allowed_ports" in reason
    # The refused step has its URL: the server's own.
    assert refused_not_applicable(default) is None
    allowed = Options(
        import_methods=("web-download",),
        import_filters=ImportFilters(allowed_hosts=("127.0.0.1",), allowed_ports=(80, 443, 8089)),
    )
    assert web_download_not_applicable(allowed) is None
    assert {"import-web-download", "import-refused"} <= set(enabled_steps(allowed))
    open_filters = Options(
        import_methods=("web-download",),
        serve_address="192.0.2.4",
        import_filters=ImportFilters(allowed_ports=()),
    )
    assert refused_not_applicable(open_filters) == (
        "the import filters refuse no URL this step could try"
    )


def test_config_image_import_turns_the_steps_on() -> None:
    text = json.dumps(
        {
            "format": 1,
            "image_import": {
                "methods": ["glance-direct", "web-download"],
                "filters": {"allowed_hosts": ["192.0.2.10"], "allowed_ports": [80, 8089]},
            },
        }
    )
    dep = parse_deployment(text, "f")
    assert dep.import_methods == ("glance-direct", "web-download")
    assert dep.import_filters == ImportFilters(
        allowed_hosts=("192.0.2.10",), allowed_ports=(80, 8089)
    )
    with pytest.raises(Exception, match=r"image_import.filters.allowed_ports\[0\]"):
        parse_deployment(
            json.dumps({"format": 1, "image_import": {"filters": {"allowed_ports": ["80"]}}}),
            "f",
        )


# --- the steps against the fake Glance ------------------------------------------------------


@pytest.fixture
def import_lab(fake_glance: FakeGlance, tmp_path: Path) -> dict[str, Any]:
    staging = tmp_path / "staging"
    staging.mkdir()
    store = tmp_path / "store"
    store.mkdir()
    fake_glance.staging_dir = staging
    fake_glance.store_dir = store
    port = free_port()
    filters = ImportFilters(allowed_hosts=("127.0.0.1",), allowed_ports=(80, 443, port))
    fake_glance.import_filters = filters
    return {
        "import_methods": ("glance-direct", "web-download", "copy-image"),
        "import_filters": filters,
        "serve_port": port,
        "staging_path": staging,
        "store_path": store,
        "timeout": 2.0,
    }


def _run_import_steps(ctx: FakeContext) -> dict[str, tuple[str, str]]:
    run = run_steps(ctx)
    return {r.name: (r.status, r.detail) for r in run.steps if r.name.startswith("import-")}


def test_import_steps_pass_and_leave_nothing(
    make_context: MakeContext, fake_glance: FakeGlance, import_lab: dict[str, Any]
) -> None:
    ctx = make_context(**import_lab)
    run = run_steps(ctx)
    results = {r.name: r for r in run.steps}
    for name in ("import-glance-direct", "import-web-download", "import-refused"):
        assert results[name].status == "pass", results[name].detail
    direct = results["import-glance-direct"].detail
    assert direct.startswith("queued 0.00s -> uploading ")
    assert "-> importing " in direct and "-> active " in direct
    assert "staged as" in direct and "staged file gone" in direct
    web = results["import-web-download"].detail
    assert f"served http://127.0.0.1:{import_lab['serve_port']}/" in web
    assert "GET /glance-verify-test.qcow2 from 127.0.0.1" in web
    refused = results["import-refused"].detail
    assert f"http://127.0.0.1:{import_lab['serve_port'] + 1}/refused" in refused
    assert "refused at the import call: POST /v2/images/" in refused
    assert "nothing asked of the server listening there" in refused
    # Every image gone; the report carries the statuses with their times.
    assert run.ok
    assert fake_glance.images == {}
    states = to_dict(run, ctx.opts)["import_states"]
    assert [s["status"] for s in states["import-glance-direct"]] == [
        "queued",
        "uploading",
        "importing",
        "active",
    ]
    assert set(states) == {"import-glance-direct", "import-web-download", "import-refused"}
    assert all("at" in s and "seconds" in s for s in states["import-web-download"])


def test_glance_direct_waits_for_the_staged_file_to_go(
    make_context: MakeContext, fake_glance: FakeGlance, import_lab: dict[str, Any]
) -> None:
    # 2025.1 removed the staged data just after the image turned active (storage lab).
    fake_glance.staged_kept_for = 0.5
    status, detail = _run_import_steps(make_context(**import_lab))["import-glance-direct"]
    assert status == "pass", detail
    assert "staged file gone" in detail


def test_glance_direct_fails_when_the_staged_file_stays(
    make_context: MakeContext,
    fake_glance: FakeGlance,
    import_lab: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(import_steps, "STAGED_GONE_WAIT", 0.3)
    fake_glance.staged_kept_for = None
    status, detail = _run_import_steps(make_context(**import_lab))["import-glance-direct"]
    assert status == "fail"
    assert "is still in the staging area 0 s after the import" in detail


def test_imports_delete_only_once_the_task_lets_go_of_the_image(
    make_context: MakeContext, fake_glance: FakeGlance, import_lab: dict[str, Any]
) -> None:
    # Zed: the task held os_glance_import_task a moment after active; a DELETE then
    # answered 500 (molecule-default, once).
    fake_glance.import_lock_looks = 3
    results = _run_import_steps(make_context(**import_lab))
    for step in ("import-glance-direct", "import-web-download"):
        status, detail = results[step]
        assert status == "pass", (step, detail)
    assert fake_glance.images == {}


def test_imports_fail_when_the_task_never_lets_go(
    make_context: MakeContext,
    fake_glance: FakeGlance,
    import_lab: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(import_steps, "STAGED_GONE_WAIT", 0.3)
    fake_glance.import_lock_looks = None
    status, detail = _run_import_steps(make_context(**import_lab))["import-glance-direct"]
    assert status == "fail"
    assert "import task task-1 still holds image" in detail
    assert "os_glance_import_task" in detail


def test_glance_direct_fails_when_glance_does_not_offer_it(
    make_context: MakeContext, fake_glance: FakeGlance, import_lab: dict[str, Any]
) -> None:
    fake_glance.import_methods = ("web-download",)
    results = _run_import_steps(make_context(**import_lab))
    status, detail = results["import-glance-direct"]
    assert status == "fail"
    assert "GET /v2/info/import offers [web-download]" in detail


def test_refused_step_catches_a_glance_that_fetches_anyway(
    make_context: MakeContext, fake_glance: FakeGlance, import_lab: dict[str, Any]
) -> None:
    fake_glance.filters_ignored = True
    fake_glance.import_task_fails = True
    status, detail = _run_import_steps(make_context(**import_lab))["import-refused"]
    assert status == "fail"
    assert "Glance asked the refused URL anyway: ['GET /refused from 127.0.0.1']" in detail


def test_refused_by_the_task_shows_its_message(
    make_context: MakeContext, fake_glance: FakeGlance, import_lab: dict[str, Any]
) -> None:
    # The refused URL is on a disallowed host, elsewhere: Glance takes the import on and
    # its task fails (as a redirect to a refused address does).
    filters = ImportFilters(allowed_ports=(), disallowed_hosts=("192.0.2.9",))
    fake_glance.import_filters = ImportFilters(allowed_ports=())
    fake_glance.import_task_fails = True
    opts = {**import_lab, "import_filters": filters}
    status, detail = _run_import_steps(make_context(**opts))["import-refused"]
    assert status == "pass", detail
    assert "http://192.0.2.9:" in detail
    assert "taken on (HTTP 202), then failed: os_glance_failed_import=" in detail or (
        "task task-1: Failed to fetch" in detail
    )


def test_serving_on_a_busy_port_fails_with_the_option_to_change(
    make_context: MakeContext, import_lab: dict[str, Any]
) -> None:
    ctx = make_context(**import_lab)
    with (
        import_steps.serve_file(None, "127.0.0.1", import_lab["serve_port"], "x"),
        pytest.raises(CheckFailed, match="give --serve-address and --serve-port"),
        import_steps.serve_file(None, "127.0.0.1", import_lab["serve_port"], "x"),
    ):
        pass
    assert ctx.opts.serve_port == import_lab["serve_port"]


def test_refused_listener_lets_the_step_s_own_failure_through(
    make_context: MakeContext, import_lab: dict[str, Any]
) -> None:
    ctx = make_context(**import_lab)
    url = http_url("127.0.0.1", import_lab["serve_port"], "r")
    with pytest.raises(CheckFailed, match="from the step"), import_steps._listen_if_ours(ctx, url):
        raise CheckFailed("from the step")
    # A port that cannot be bound: no listener, no failure.
    with (
        import_steps.serve_file(None, "127.0.0.1", import_lab["serve_port"], "x"),
        import_steps._listen_if_ours(ctx, url) as served,
    ):
        assert served is None


def test_import_methods_step_compares_what_glance_offers(
    make_context: MakeContext, fake_glance: FakeGlance, import_lab: dict[str, Any]
) -> None:
    ctx = make_context(**import_lab)
    assert import_steps.step_import_methods(ctx) == (
        "GET /v2/info/import offers glance-direct, web-download, copy-image, as enabled"
    )
    fake_glance.import_methods = ("glance-direct",)
    with pytest.raises(CheckFailed, match=r"offers \[glance-direct\], the settings enable"):
        import_steps.step_import_methods(ctx)


@pytest.mark.usefixtures("no_ambient_cloud")
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--serve-address", "0.0.0.0"], "--serve-address '0.0.0.0': give the address"),  # noqa: S104 - the bad input
        (["--serve-port", "70000"], "--serve-port 70000: give a TCP port"),
        (
            ["--import-methods", "glance-direct,ftp"],
            "--import-methods glance-direct,ftp: unknown ftp",
        ),
    ],
)
def test_import_options_are_checked_before_the_cloud(argv: list[str], message: str) -> None:
    from glance_verify.cli import parse_args  # noqa: PLC0415
    from glance_verify.errors import ConfigError  # noqa: PLC0415

    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_args(["--os-cloud", "x", *argv])


def test_import_methods_option_wins_over_the_file(tmp_path: Path) -> None:
    from glance_verify.cli import parse_args  # noqa: PLC0415

    config = tmp_path / "c.json"
    config.write_text(json.dumps({"format": 1, "image_import": {"methods": ["copy-image"]}}))
    opts = parse_args(["--os-cloud", "x", "--config", str(config)])
    assert opts.import_methods == ("copy-image",)
    assert opts.import_filters == ImportFilters()  # the file names none: Glance's defaults
    opts = parse_args(
        ["--os-cloud", "x", "--config", str(config), "--import-methods", "glance-direct"]
    )
    assert opts.import_methods == ("glance-direct",)


# --- import-copy-image ------------------------------------------------------------------------


def test_copy_stores_default_first_then_another() -> None:
    fast, slow = Backend("fast"), Backend("slow")
    assert copy_stores(Options(backends=(fast,))) is None
    assert copy_stores(Options(backends=(fast, slow))) == (fast, slow)
    assert copy_stores(Options(backends=(fast, slow), default_backend="slow")) == (slow, fast)


def _copy_run(ctx: FakeContext) -> tuple[str, str, dict[str, Any]]:
    run = run_steps(ctx, [s for s in STEPS if s.name in ("source", "import-copy-image")])
    [copy] = [r for r in run.steps if r.name == "import-copy-image"]
    return copy.status, copy.detail, to_dict(run, ctx.opts)["import_states"]


def test_copy_image_lists_both_stores_with_the_same_bytes(
    make_context: MakeContext, fake_glance: FakeGlance, storage_lab: dict[str, Any]
) -> None:
    status, detail, states = _copy_run(make_context(**storage_lab))
    assert status == "pass", detail
    assert detail.startswith("uploaded to fast, copied to slow: active stores=fast 0.00s")
    assert "-> active stores=fast copying to slow " in detail
    assert "-> active stores=fast,slow " in detail
    assert "the files in fast and slow: size, md5 and sha512 = local" in detail
    assert detail.endswith("deleted, files gone")
    assert [s["status"] for s in states["import-copy-image"]] == [
        "active stores=fast",
        "active stores=fast copying to slow",
        "active stores=fast,slow",
    ]
    assert fake_glance.images == {}
    assert [list(d.iterdir()) for d in fake_glance.backends.values()] == [[], []]


def test_copy_image_fails_when_the_copy_differs(
    make_context: MakeContext, fake_glance: FakeGlance, storage_lab: dict[str, Any]
) -> None:
    fake_glance.copy_corrupts = True
    status, detail, _ = _copy_run(make_context(**storage_lab))
    assert status == "fail"
    assert "backend-slow/" in detail and "md5" in detail
    assert fake_glance.images == {}  # the run's cleanup deleted it


def test_copy_image_fails_when_the_copy_never_lands(
    make_context: MakeContext, fake_glance: FakeGlance, storage_lab: dict[str, Any]
) -> None:
    fake_glance.copy_never_lands = True
    status, detail, _ = _copy_run(make_context(**storage_lab))
    assert status == "fail"
    assert "stores: expected fast,slow, got fast" in detail
    assert "copying to slow" in detail


def test_explain_gives_the_import_steps_client_forms_with_the_real_ids(
    make_context: MakeContext, import_lab: dict[str, Any]
) -> None:
    ctx = make_context(**import_lab)
    lines: dict[str, list[str]] = {}
    run = run_steps(ctx, on_result=lambda r: lines.update({r.name: explain_lines(r.name, ctx)}))
    assert run.ok
    direct = ctx.temp_images["import-direct"]
    path = ctx.source.path if ctx.source else None
    assert lines["import-glance-direct"][1:4] == [
        "glance image-create --name glance-verify-test-import-direct --disk-format qcow2 "
        "--container-format bare",
        f"glance image-stage --file {path} --progress {direct}",
        f"glance image-import --import-method glance-direct {direct}",
    ]
    assert (
        f"{OSC7} openstack image import --method glance-direct {direct}"
        in lines["import-glance-direct"]
    )
    web = ctx.temp_images["import-web"]
    url = f"http://127.0.0.1:{import_lab['serve_port']}/glance-verify-test.qcow2"
    assert (
        f"glance image-import --import-method web-download --uri {url} {web}"
        in lines["import-web-download"]
    )
    assert lines["import-methods"] == ["glance import-info", f"{OSC7} openstack image import info"]
    assert f"glance image-tasks {ctx.temp_images['import-refused']}" in lines["import-refused"]


def test_explain_copy_image_backends_and_cache(make_context: MakeContext, tmp_path: Path) -> None:
    backends = (Backend("fast", PurePosixPath("/srv/fast")), Backend("slow"))
    ctx = make_context(backends=backends, default_backend="fast")
    ctx.temp_images.update({"import-copy": "c0py", "backend-fast": "f1", "backend-slow": "s1"})
    ctx.image_id = "1mage"
    copy = explain_lines("import-copy-image", ctx)
    assert "glance image-import --import-method copy-image --stores slow c0py" in copy
    assert f"{OSC7} openstack image import --method copy-image --store slow c0py" in copy
    assert any(line.startswith("glance image-upload --file ") and "--store fast c0py" in line
               for line in copy)  # fmt: skip
    stored = explain_lines("backends", ctx)
    assert [line for line in stored if line.startswith("glance image-upload")] == [
        f"glance image-upload --file {ctx.opts.image_file} --store fast f1",
        f"glance image-upload --file {ctx.opts.image_file} --store slow s1",
    ]
    assert explain_lines("store-info", ctx) == [
        "glance stores-info",
        "glance stores-info --detail",
        f"{OSC7} openstack image stores list",
    ]
    cache = explain_lines("image-cache", ctx)
    assert cache[:2] == ["glance image-download --file /dev/null 1mage", "glance cache-list"]
    assert "glance cache-delete 1mage" in cache
    assert f"{OSC7} openstack cached image delete 1mage" in cache
