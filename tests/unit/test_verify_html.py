"""The HTML report: rendered from the data of a whole run against the in-memory Glance,
checked as parsed HTML, then opened in headless Chromium (Debian's ``chromium``)."""

from __future__ import annotations

import dataclasses
import html.parser
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import FakeContext
from glance_verify.cli import parse_args
from glance_verify.errors import ConfigError
from glance_verify.html_report import find_template, lanes, render
from glance_verify.report import to_dict, write_html
from glance_verify.runner import RunResult, StepResult, run_steps

LIFECYCLE = ["queued", "saving", "active", "deactivated", "active", "deleted"]


class Page(html.parser.HTMLParser):
    """The text of the page, the elements' ids, and every src/href it has."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []
        self.aria: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            if name in ("src", "href") and value:
                self.links.append(value)
            if name == "aria-label" and value:
                self.aria.append(value)

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())


@pytest.fixture
def real_run(make_context: Callable[..., FakeContext], tmp_path: Path) -> tuple[RunResult, Any]:
    """A whole run of every lifecycle step (with the store checks) against FakeGlance."""
    store = tmp_path / "store"
    store.mkdir()
    ctx = make_context(store_path=store)
    ctx.glance.store_dir = store
    run = run_steps(ctx)
    assert run.ok, [(r.name, r.status, r.detail) for r in run.steps]
    return run, ctx.opts


def test_the_run_records_the_lifecycle_states(real_run: tuple[RunResult, Any]) -> None:
    run, _ = real_run
    assert [s["status"] for s in run.image_states] == LIFECYCLE
    assert [s["step"] for s in run.image_states] == [
        "create-empty", "upload", "upload", "deactivate", "reactivate", "delete",
    ]  # fmt: skip
    seconds = [float(s["seconds"]) for s in run.image_states]
    assert seconds == sorted(seconds)


def test_page_shows_deployment_steps_timeline_throughput_hashes(
    real_run: tuple[RunResult, Any],
) -> None:
    run, opts = real_run
    data = to_dict(run, opts)
    page = Page(render(data, find_template()))
    text = " ".join(page.text)
    assert re.search(r"glance-verify\s+PASS", text)
    assert f"{run.passed} passed, 0 failed" in text
    for step in run.steps:
        assert f"step-{step.name}" in page.ids
    assert "step-cleanup" in page.ids
    # The state timeline: one lane for the test image, its statuses in order.
    assert page.aria == [f"test image (lifecycle steps): {' -> '.join(LIFECYCLE)}"]
    assert "svg" in page.tags and page.tags.count("circle") == len(LIFECYCLE)
    assert {"transfer-upload", "transfer-download"} <= page.ids
    digests = run.digests
    assert digests is not None
    for value in (run.image_id, digests.md5, digests.value, str(digests.size)):
        assert value in page.text
    assert "file store directory" in page.text
    # Self-contained: nothing to fetch, no script.
    assert page.links == []
    assert "script" not in page.tags


def test_everything_is_escaped(real_run: tuple[RunResult, Any]) -> None:
    run, opts = real_run
    evil = "<script>alert(1)</script>&"
    run.steps.append(StepResult("quota", "fail", 0.1, evil))
    run.image_states.append({**run.image_states[-1], "status": evil, "note": evil})
    out = render(to_dict(run, opts), find_template())
    assert evil not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;" in out
    assert "script" not in Page(out).tags
    # An unknown status gets no class of its own.
    assert 'class="s-other"' in out
    assert re.search(r"glance-verify\s+<span[^>]*>FAIL", out)


def test_lanes_include_each_import_and_time_spent() -> None:
    report = {
        "image_states": [
            {"status": "queued", "at": "2026-01-02T03:04:05.000+00:00", "step": "create-empty"},
            {"status": "active", "at": "2026-01-02T03:04:06.500+00:00", "step": "upload"},
        ],
        "import_states": {
            "import-glance-direct": [
                {"status": "queued", "at": "2026-01-02T03:04:07.000+00:00", "seconds": 0.0},
                {"status": "active", "at": "2026-01-02T03:04:07.250+00:00", "seconds": 0.25},
            ]
        },
    }
    got = lanes(report)
    assert [lane.title for lane in got] == [
        "test image (lifecycle steps)", "import-glance-direct image",
    ]  # fmt: skip
    first, second = got
    assert [s.stayed for s in first.states] == [1.5, None]
    assert second.states[0].since_start == 2.0 and second.states[0].step == "import-glance-direct"
    assert first.states[1].clock == "03:04:06.500"


def test_missing_template_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--html-template .*: no such file"):
        find_template(tmp_path / "nope.j2")
    broken = tmp_path / "broken.j2"
    broken.write_text("{% for %}")
    with pytest.raises(ConfigError, match="HTML report template"):
        render({}, broken)


def _chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        pytest.skip("chromium is not installed (scripts/install-test-deps.sh installs it)")
    return found


def _headless(*args: str) -> subprocess.CompletedProcess[str]:
    # As root Chromium needs --no-sandbox; --enable-logging=stderr prints the page's
    # console messages as "CONSOLE" lines.
    return subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
         "--v=0", "--user-data-dir=" + args[0], *args[1:]],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_chromium_opens_the_page_without_errors(
    real_run: tuple[RunResult, Any], tmp_path: Path
) -> None:
    run, opts = real_run
    path = tmp_path / "glance-verify.html"
    opts = dataclasses.replace(opts, html_path=path)
    write_html(run, opts, path, find_template())
    profile = str(tmp_path / "profile")
    dom = _headless(profile, "--dump-dom", path.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert console == []
    page = Page(dom.stdout)
    # The DOM Chromium built has the verdict, every step, the timeline and the hashes.
    assert "verdict" in page.ids and "PASS" in page.text
    assert {f"step-{s.name}" for s in run.steps} <= page.ids
    assert page.aria == [f"test image (lifecycle steps): {' -> '.join(LIFECYCLE)}"]
    assert run.digests is not None and run.digests.value in page.text
    shot = tmp_path / "shot.png"
    taken = _headless(profile, f"--screenshot={shot}", "--window-size=1200,1600", path.as_uri())
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # a page with content, not a blank one


@pytest.mark.usefixtures("no_ambient_cloud")
def test_html_report_beside_json_by_default(tmp_path: Path) -> None:
    opts = parse_args(["--json", str(tmp_path / "r" / "glance-verify.json")])
    assert opts.html_path == tmp_path / "r" / "glance-verify.html"
    assert opts.html_template == find_template()
    assert parse_args(["--html", str(tmp_path / "page.html")]).html_path == tmp_path / "page.html"
    off = parse_args(["--json", str(tmp_path / "x.json"), "--no-html"])
    assert off.html_path is None and off.html_template is None
    assert parse_args([]).html_path is None


@pytest.mark.usefixtures("no_ambient_cloud")
@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--html", "{tmp}/p.html", "--html-template", "{tmp}/none.j2"], "no such file"),
        (["--html-template", "{tmp}/none.j2"], "needs --html FILE or --json FILE"),
        (["--no-html", "--html", "{tmp}/p.html"], "--no-html: drop"),
        (["--html", "{tmp}"], "is a directory"),
    ],
)
def test_bad_html_options_fail_before_the_run(tmp_path: Path, argv: list[str], needle: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(needle)):
        parse_args([a.format(tmp=tmp_path) for a in argv])
