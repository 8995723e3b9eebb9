"""The Console both commands write through, and glance-verify's --quiet step lines."""

from __future__ import annotations

import io

from glance_verify.cli import _show_step
from glance_verify.console import Console
from glance_verify.progress import ProgressBar
from glance_verify.runner import StepResult


def make(quiet: bool = False) -> tuple[Console, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Console("tool", quiet=quiet, out=out, err=err), out, err


def test_report_on_stdout_notices_and_errors_on_stderr() -> None:
    console, out, err = make()
    console.line("report")
    console.info("detail")
    console.notice("note")
    console.error("broken")
    assert out.getvalue() == "report\ndetail\n"
    assert err.getvalue() == "tool: note\ntool: error: broken\n"


def test_quiet_keeps_lines_and_failed_steps_only() -> None:
    console, out, _ = make(quiet=True)
    console.info("detail")
    console.line("summary")
    _show_step(console, StepResult("upload", "pass", 1.0, "fine"))
    _show_step(console, StepResult("download", "fail", 1.0, "md5 differs"))
    lines = out.getvalue().splitlines()
    assert lines[0] == "summary"
    assert len(lines) == 2 and lines[1].startswith("FAIL  download")


def test_copy_gets_every_printed_line_as_it_is_printed() -> None:
    """glance-verify --progress-file: make aio follows that file while Ansible holds the
    task's output until it ends."""
    console, out, err = make(quiet=True)
    copy = io.StringIO()
    console.copy = copy
    console.line("PASS  upload")
    assert copy.getvalue() == "PASS  upload\n"  # there already, before anything else
    console.info("left out by --quiet")
    console.notice("note")
    console.error("broken")
    assert copy.getvalue() == "PASS  upload\ntool: note\ntool: error: broken\n"
    assert out.getvalue() == "PASS  upload\n"
    assert err.getvalue() == "tool: note\ntool: error: broken\n"


def test_progress_lines_for_a_followed_file() -> None:
    stream = io.StringIO()
    with ProgressBar("upload", 3 * 1024 * 1024, stream=stream, enabled=True, lines=True) as bar:
        bar(1024 * 1024)  # the first update is drawn at once
        bar(1024 * 1024)  # within LINE_INTERVAL: not drawn
        bar(1024 * 1024)  # the end is always drawn
    lines = stream.getvalue().split("\n")
    assert lines[-1] == ""  # each a whole line; no carriage return, no erase at the end
    assert len(lines) == 3 and "\r" not in stream.getvalue()
    assert " 33%" in lines[0] and "100%" in lines[1] and "3.0 MiB/3.0 MiB" in lines[1]
