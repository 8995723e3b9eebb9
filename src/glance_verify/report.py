"""Reports of a run: the readable summary, JSON and JUnit XML (for CI)."""

from __future__ import annotations

import json
import os
import socket
import xml.etree.ElementTree as ET
from dataclasses import asdict
from pathlib import Path
from typing import Any

from glance_verify import __version__
from glance_verify.cleanup import CleanupResult
from glance_verify.context import Transfer
from glance_verify.errors import ConfigError
from glance_verify.html_report import render
from glance_verify.options import Options
from glance_verify.runner import RunResult, StepResult

NAME_WIDTH = 16


def step_line(result: StepResult) -> str:
    """``PASS  create-empty       0.21s  status=queued, no checksum``."""
    duration = "-" if result.status == "skip" else f"{result.duration:.2f}s"
    return f"{result.status.upper():<5} {result.name:<{NAME_WIDTH}} {duration:>7}  {result.detail}"


def cleanup_lines(results: list[CleanupResult]) -> list[str]:
    if not results:
        return []
    total = sum(r.duration for r in results)
    failures = [r for r in results if not r.ok]
    if not failures:
        what = "action" if len(results) == 1 else "actions"
        detail = f"{len(results)} undo {what} done, none failed"
        return [step_line(StepResult("cleanup", "pass", total, detail))]
    lines = [
        step_line(
            StepResult("cleanup", "fail", total, f"{len(failures)} of {len(results)} undo failed")
        )
    ]
    lines += [f"      left behind? {r.description}: {r.error}" for r in failures]
    return lines


def image_line(run: RunResult) -> str | None:
    if run.image_id is None:
        return None
    if run.digests is None:
        return f"image: {run.image_id}  (no data uploaded)"
    d = run.digests
    return f"image: {run.image_id}  size={d.size}  md5={d.md5}  {d.algo}={d.value}"


def transfer_line(run: RunResult) -> str | None:
    """``transfer: upload 536870912 bytes in 1.93 s (265.3 MiB/s), active 0.02 s later; ...``"""
    parts = []
    for name, transfer in run.transfers.items():
        wait = transfer.wait_seconds
        later = "" if wait is None else f", active {wait:.2f} s later"
        parts.append(f"{name} {transfer.text()}{later}")
    return "transfer: " + "; ".join(parts) if parts else None


def counts_line(run: RunResult) -> str:
    return f"{run.passed} passed, {run.failed} failed"


def summary_lines(run: RunResult, *, include_steps: bool = True) -> list[str]:
    """The whole readable summary; ``include_steps=False`` when steps were already printed."""
    lines = [step_line(r) for r in run.steps] if include_steps else []
    lines += cleanup_lines(run.cleanup)
    if run.interrupted:
        lines.append(f"interrupted by {run.interrupted}: remaining steps not run")
    release = f"glance: {run.release}" if run.release else None
    for line in (release, image_line(run), transfer_line(run)):
        if line:
            lines.append(line)
    lines += [f"required step {r.name} did not run: {r.detail}" for r in run.unmet]
    lines.append(counts_line(run))
    return lines


def exit_code(run: RunResult) -> int:
    return 0 if run.ok else 1


def options_summary(opts: Options) -> dict[str, Any]:
    """The options as reported: paths as strings, the DB password masked."""
    return {
        "cloud": opts.cloud,
        "image_file": opts.image_file,
        "image_url": None if opts.image_file else opts.image_url,
        "disk_format": opts.disk_format,
        "container_format": opts.container_format,
        "visibility": opts.visibility,
        "store": opts.store,
        "hash_algo": opts.hash_algo,
        "db_url": opts.db_url.masked() if opts.db_url else None,
        "store_path": str(opts.store_path) if opts.store_path else None,
        "backends": {b.name: str(b.directory) if b.directory else None for b in opts.backends},
        "default_backend": opts.default_backend,
        "quota": opts.quota_text,
        "image_cache": opts.image_cache,
        "image_cache_dir": str(opts.image_cache_dir) if opts.image_cache_dir else None,
        "http_url": opts.http_url,
        "rbd_pool": opts.rbd_pool,
        "api_nodes": list(opts.api_nodes),
        "served_by_header": opts.served_by_header,
        "import_methods": list(opts.import_methods),
        "import_filters": opts.import_filters.as_dict(),
        "serve": f"{opts.serve_address}:{opts.serve_port}",
        "skip": sorted(opts.skip),
        "config": str(opts.config_path) if opts.config_path else None,
        "expect_release": list(opts.expect_release) if opts.expect_release else None,
        "require_enabled": opts.require_enabled,
        "keep": opts.keep,
        "timeout": opts.timeout,
    }


def transfer_dict(transfer: Transfer) -> dict[str, Any]:
    """One entry of the report's ``transfer`` section (see Transfer for what is timed)."""
    data: dict[str, Any] = {
        "bytes": transfer.size,
        "seconds": round(transfer.seconds, 3),
        "mib_per_s": round(transfer.mib_per_s, 1),
    }
    if transfer.wait_seconds is not None:
        data["wait_active_seconds"] = round(transfer.wait_seconds, 3)
    return data


def to_dict(run: RunResult, opts: Options) -> dict[str, Any]:
    d = run.digests
    source = run.source
    return {
        "tool": "glance-verify",
        "version": __version__,
        "started": run.started.isoformat(timespec="seconds"),
        "duration": round(run.duration, 3),
        "result": "pass" if run.ok else "fail",
        "exit_code": exit_code(run),
        "passed": run.passed,
        "failed": run.failed,
        "skipped": run.skipped,
        "interrupted": run.interrupted,
        "glance_release": run.release,
        # --require-enabled: the steps that had to pass, and those that were skipped.
        "required_steps": list(run.required),
        "unmet_required": [r.name for r in run.unmet],
        "options": options_summary(opts),
        # Steps api-nodes ({url: "pass" or the problems}) and lb-spread (answers per server).
        "api_nodes": run.nodes.get("api_nodes"),
        "lb_spread": run.nodes.get("lb_spread"),
        "source": None
        if source is None
        else {
            "path": str(source.path),
            "origin": source.origin,
            "size": source.size,
            "note": source.note,
        },
        "image": None
        if run.image_id is None
        else {
            "id": run.image_id,
            "name": run.image_name,
            "size": d.size if d else None,
            "checksum": d.md5 if d else None,
            "os_hash_algo": d.algo if d else None,
            "os_hash_value": d.value if d else None,
        },
        "steps": [{**asdict(r), "duration": round(r.duration, 3)} for r in run.steps],
        # The bare PUT / GET of steps upload and download; their step durations also hold
        # the wait for status active and the checks.
        "transfer": {name: transfer_dict(t) for name, t in run.transfers.items()},
        # The test image's statuses through the lifecycle, each with its time and step.
        "image_states": run.image_states,
        # The statuses each import step saw its image in, in order, with their times.
        "import_states": run.import_states,
        "cleanup": [
            {
                "action": c.description,
                "ok": c.ok,
                "duration": round(c.duration, 3),
                "error": c.error,
            }
            for c in run.cleanup
        ],
    }


def to_junit(run: RunResult, opts: Options) -> ET.ElementTree[ET.Element]:
    """JUnit XML: one testcase per step, plus one for cleanup."""
    cases: list[ET.Element] = []
    unmet = run.unmet
    for r in run.steps:
        case = ET.Element(
            "testcase", classname="glance_verify", name=r.name, time=f"{r.duration:.3f}"
        )
        if r.status == "fail":
            ET.SubElement(case, "failure", message=r.detail, type="CheckFailed").text = r.detail
        elif r in unmet:
            text = f"required (--require-enabled), but skipped: {r.detail}"
            ET.SubElement(case, "failure", message=text, type="RequiredStepSkipped").text = text
        elif r.status == "skip":
            ET.SubElement(case, "skipped", message=r.detail)
        else:
            ET.SubElement(case, "system-out").text = r.detail
        cases.append(case)
    if run.cleanup:
        total = sum(c.duration for c in run.cleanup)
        case = ET.Element(
            "testcase", classname="glance_verify", name="cleanup", time=f"{total:.3f}"
        )
        failures = [c for c in run.cleanup if not c.ok]
        if failures:
            text = "\n".join(f"{c.description}: {c.error}" for c in failures)
            ET.SubElement(
                case, "failure", message=f"{len(failures)} undo failed", type="CleanupFailed"
            ).text = text
        cases.append(case)

    failures_n = sum(1 for c in cases if c.find("failure") is not None)
    skipped_n = sum(1 for c in cases if c.find("skipped") is not None)
    attrs = {
        "name": "glance-verify",
        "tests": str(len(cases)),
        "failures": str(failures_n),
        "errors": "0",
        "skipped": str(skipped_n),
        "time": f"{run.duration:.3f}",
    }
    root = ET.Element("testsuites", attrs)
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            **attrs,
            "timestamp": run.started.isoformat(timespec="seconds"),
            "hostname": socket.gethostname(),
        },
    )
    props = ET.SubElement(suite, "properties")
    for key, value in (
        ("version", __version__),
        ("cloud", opts.cloud or ""),
        ("image_id", run.image_id or ""),
        ("image_md5", run.digests.md5 if run.digests else ""),
        ("os_hash_algo", run.digests.algo if run.digests else ""),
        ("os_hash_value", run.digests.value if run.digests else ""),
        ("source", run.source.note if run.source else ""),
    ):
        ET.SubElement(props, "property", name=key, value=value)
    suite.extend(cases)
    ET.SubElement(suite, "system-out").text = "\n".join(summary_lines(run))
    ET.indent(root)
    return ET.ElementTree(root)


def check_writable(path: Path, flag: str) -> None:
    """Fail early (usage error) when a report file could not be written at the end."""
    parent = path.parent if str(path.parent) else Path()
    if path.is_dir():
        raise ConfigError(f"{flag} {path}: is a directory")
    existing = parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {path}: cannot write in {existing}")
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(f"{flag} {path}: not writable")


def _write(path: Path, write: Any) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        write(tmp)
        tmp.replace(path)
    except OSError as exc:
        raise ConfigError(f"cannot write report {path}: {exc.strerror}") from None


def json_text(run: RunResult, opts: Options) -> str:
    return json.dumps(to_dict(run, opts), indent=2) + "\n"


def write_json(run: RunResult, opts: Options, path: Path) -> None:
    text = json_text(run, opts)
    _write(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_junit(run: RunResult, opts: Options, path: Path) -> None:
    tree = to_junit(run, opts)
    _write(path, lambda p: tree.write(p, encoding="utf-8", xml_declaration=True))


def write_html(run: RunResult, opts: Options, path: Path, template: Path) -> None:
    """The HTML report: the JSON report's data as a page (html_report.py)."""
    text = render(to_dict(run, opts), template)
    _write(path, lambda p: p.write_text(text, encoding="utf-8"))
