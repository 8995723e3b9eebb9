"""Summary lines, JSON and JUnit reports."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest

from glance_verify.cleanup import CleanupResult
from glance_verify.context import Transfer
from glance_verify.db import parse_db_url
from glance_verify.errors import ConfigError
from glance_verify.hashing import Digests
from glance_verify.options import Options
from glance_verify.report import (
    check_writable,
    exit_code,
    step_line,
    summary_lines,
    to_dict,
    write_json,
    write_junit,
)
from glance_verify.runner import RunResult, StepResult

SECRET = "hunter2-db"
DIGESTS = Digests(size=8716288, md5="9e9b" + "0" * 28, algo="sha512", value="1147" + "0" * 124)


def make_run(*, fail: bool = False, cleanup_fail: bool = False) -> RunResult:
    steps = [
        StepResult("source", "pass", 0.09, "file /tmp/x"),
        StepResult("create-empty", "pass", 0.2149, "status=queued, no checksum"),
        StepResult(
            "download",
            "fail" if fail else "pass",
            0.5,
            "downloaded data sha512: expected 1147..., got 0000..." if fail else "match",
        ),
        StepResult("db-row", "skip", 0.0, "no --db-url"),
    ]
    cleanup = [
        CleanupResult("delete image abc", True, 0.1),
        CleanupResult("delete user u", not cleanup_fail, 0.2, "HTTP 500" if cleanup_fail else None),
    ]
    return RunResult(
        steps=steps,
        cleanup=cleanup,
        started=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        duration=1.5,
        image_id="abc",
        image_name="glance-verify-x-image",
        digests=DIGESTS,
        transfers={
            "upload": Transfer(DIGESTS.size, 0.25, 0.0312),
            "download": Transfer(DIGESTS.size, 0.125),
        },
    )


OPTS = Options(cloud="lab", db_url=parse_db_url(f"mysql+pymysql://glance:{SECRET}@db/glance"))


def test_step_line_format() -> None:
    line = step_line(StepResult("create-empty", "pass", 0.2149, "status=queued, no checksum"))
    assert line == "PASS  create-empty       0.21s  status=queued, no checksum"
    assert step_line(StepResult("db-row", "skip", 0, "no --db-url")).startswith("SKIP  db-row ")


def test_summary_ends_with_image_and_counts() -> None:
    lines = summary_lines(make_run())
    assert lines[-3] == (f"image: abc  size=8716288  md5={DIGESTS.md5}  sha512={DIGESTS.value}")
    assert lines[-2] == (
        "transfer: upload 8716288 bytes in 0.25 s (33.2 MiB/s), active 0.03 s later; "
        "download 8716288 bytes in 0.12 s (66.5 MiB/s)"
    )
    assert lines[-1] == "4 passed, 0 failed"  # 3 steps + cleanup
    assert any(line.startswith("PASS  cleanup") for line in lines)


def test_failed_cleanup_counts_and_is_listed() -> None:
    run = make_run(fail=True, cleanup_fail=True)
    lines = summary_lines(run)
    assert lines[-1] == "2 passed, 2 failed"
    assert any("delete user u: HTTP 500" in line for line in lines)
    assert exit_code(run) == 1
    assert run.first_failure is not None and run.first_failure.name == "download"


def test_exit_code_zero_only_when_all_passed() -> None:
    assert exit_code(make_run()) == 0
    assert exit_code(make_run(fail=True)) == 1
    assert exit_code(make_run(cleanup_fail=True)) == 1


def test_json_report(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "report.json"
    write_json(make_run(fail=True), OPTS, path)
    text = path.read_text()
    assert SECRET not in text
    data = json.loads(text)
    assert data["result"] == "fail" and data["exit_code"] == 1
    assert (data["passed"], data["failed"], data["skipped"]) == (3, 1, 1)  # 2 steps + cleanup
    assert data["options"]["db_url"] == "mysql+pymysql://glance:***@db:3306/glance"
    assert data["image"]["os_hash_value"] == DIGESTS.value
    assert data["image"]["checksum"] == DIGESTS.md5
    assert data["transfer"] == {
        "upload": {
            "bytes": 8716288,
            "seconds": 0.25,
            "mib_per_s": 33.2,
            "wait_active_seconds": 0.031,
        },
        "download": {"bytes": 8716288, "seconds": 0.125, "mib_per_s": 66.5},
    }
    assert [s["name"] for s in data["steps"]] == ["source", "create-empty", "download", "db-row"]
    assert data["steps"][2]["status"] == "fail"
    assert data["cleanup"][0] == {
        "action": "delete image abc",
        "ok": True,
        "duration": 0.1,
        "error": None,
    }
    assert to_dict(make_run(), OPTS)["result"] == "pass"


def test_junit_report(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    write_junit(make_run(fail=True, cleanup_fail=True), OPTS, path)
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("tests") == "5"
    assert suite.get("failures") == "2"
    assert suite.get("skipped") == "1"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {"source", "create-empty", "download", "db-row", "cleanup"}
    failure = cases["download"].find("failure")
    assert failure is not None and "expected 1147" in (failure.get("message") or "")
    assert cases["db-row"].find("skipped") is not None
    assert cases["cleanup"].find("failure") is not None
    assert cases["create-empty"].get("time") == "0.215"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["os_hash_value"] == DIGESTS.value
    assert SECRET not in path.read_text()


def test_check_writable(tmp_path: Path) -> None:
    check_writable(tmp_path / "new" / "sub" / "r.json", "--json")
    with pytest.raises(ConfigError, match="is a directory"):
        check_writable(tmp_path, "--json")
