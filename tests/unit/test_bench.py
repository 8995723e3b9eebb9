"""scripts/bench.py reads ansible-playbook's JSON output (the ansible.posix.json callback).

The fixtures are real captures: tests/unit/data/bench-sample.sh runs
tests/unit/data/bench-sample.yml three times the way the bench runs its playbooks
(a first run with changes and a handler, a no-op re-run, a failed run).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench", ROOT / "scripts" / "bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench", module)
    spec.loader.exec_module(module)
    return module


def capture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / f"bench-sample-{name}.json").read_text())
    return data


def test_first_run_recap_and_changed_tasks(bench: ModuleType) -> None:
    parsed = bench.parse_ansible_json(capture("first"))
    assert parsed["recap"] == {"localhost": {"ok": 6, "changed": 4, "unreachable": 0, "failed": 0}}
    assert (parsed["ok"], parsed["changed"], parsed["failed"]) == (6, 4, 0)
    # In run order, the loop task once, the handler too; the read-only command is not.
    assert parsed["changed_tasks"] == [
        "Create the directory",
        "Write a file",
        "Write files in a loop",
        "Write the marker",
    ]


def test_task_times_cover_every_task_slowest_first(bench: ModuleType) -> None:
    tasks = bench.parse_ansible_json(capture("first"))["tasks"]
    names = {t["task"] for t in tasks}
    assert names == {
        "Create the directory",
        "Write a file",
        "Write files in a loop",
        "Wait a little",
        "Never runs",
        "Fail when asked to",
        "Write the marker",
    }
    seconds = [t["seconds"] for t in tasks]
    assert seconds == sorted(seconds, reverse=True)
    wait = next(t for t in tasks if t["task"] == "Wait a little")
    assert wait["seconds"] >= 0.5  # the task runs `sleep 0.5`


def test_noop_run_reports_no_change(bench: ModuleType) -> None:
    parsed = bench.parse_ansible_json(capture("noop"))
    assert parsed["changed"] == 0
    assert parsed["changed_tasks"] == []
    assert parsed["recap"]["localhost"]["ok"] == 5


def test_failed_run_counts_and_names_the_failure(bench: ModuleType) -> None:
    data = capture("failed")
    parsed = bench.parse_ansible_json(data)
    assert parsed["failed"] == 1
    assert bench.failure_lines(data) == [
        "localhost: Fail when asked to: sample_fail is true: the run stops here"
    ]
