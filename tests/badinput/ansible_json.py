"""Read ``ansible-playbook`` output written by the ``ansible.posix.json`` stdout callback.

The callback prints one JSON document when the run ends (also when a play fails):
``plays`` (each with ``play.name`` and ``tasks``, each task with ``task.name`` and
``hosts``: the module result per host) and ``stats`` (per host: ok, changed,
failures, unreachable, skipped, rescued, ignored). Warnings go to stderr.
"""

from __future__ import annotations

import json
from typing import Any

#: Select the callback for one run (ansible.cfg keeps the default callback for people).
ENV = {"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"}


class NoJsonOutputError(ValueError):
    """The run printed no JSON document (ansible-playbook stopped before any play ran)."""


def load(stdout: str) -> dict[str, Any]:
    """The callback's document; NoJsonOutputError when stdout holds none."""
    try:
        data = json.loads(stdout)
    except json.JSONDecodeError as exc:
        raise NoJsonOutputError(f"no JSON on stdout ({exc}): {stdout[-500:]!r}") from None
    if not isinstance(data, dict) or "plays" not in data or "stats" not in data:
        raise NoJsonOutputError(f"not the json callback's output: {stdout[-500:]!r}")
    return data


def play_names(data: dict[str, Any]) -> list[str]:
    """The plays the run started, in order."""
    return [str(play["play"]["name"]) for play in data["plays"]]


def changed_counts(data: dict[str, Any]) -> dict[str, int]:
    """changed= of every host in the recap."""
    return {host: int(s["changed"]) for host, s in data["stats"].items()}


def failed_results(data: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(task name, host, result) of every failed or unreachable task result, in run order."""
    return [
        (str(task["task"]["name"]), host, result)
        for play in data["plays"]
        for task in play["tasks"]
        for host, result in task["hosts"].items()
        if result.get("failed") or result.get("unreachable")
    ]


def result_messages(result: dict[str, Any]) -> list[str]:
    """The ``msg`` of a failed result: of each failed loop item, else the result's own."""
    items = [
        str(item["msg"]).strip()
        for item in result.get("results") or []
        if isinstance(item, dict) and item.get("failed") and "msg" in item
    ]
    if items:
        return items
    return [str(result["msg"]).strip()] if "msg" in result else []


def fatal_message(data: dict[str, Any]) -> str:
    """The ``msg`` of the first failed task (its first failed loop item for a loop)."""
    failed = failed_results(data)
    if not failed:
        return "(no failed task in the output)"
    messages = result_messages(failed[0][2])
    return messages[0] if messages else "(the failed task has no msg)"
