"""The Console both commands write through, and glance-verify's --quiet step lines."""

from __future__ import annotations

import io

from glance_verify.cli import _show_step
from glance_verify.console import Console
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
