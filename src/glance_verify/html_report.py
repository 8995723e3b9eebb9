"""The HTML report: one self-contained page (no scripts, fonts or images from anywhere)
rendered from the JSON report's data with the Jinja template
``templates/glance-verify-report.html.j2``, every value escaped (autoescape).

The template is looked for, in order: ``--html-template FILE``; the directory an
installed wheel puts it in (``<prefix>/share/glance-verify/templates``); the
repository's ``templates/`` when the package runs from its checkout (``pip install -e``,
as ``make bootstrap`` does). This module computes what the page shows (the state
timeline's lanes, the throughput bars); the template only lays it out.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2

from glance_verify.errors import ConfigError

TEMPLATE_NAME = "glance-verify-report.html.j2"


def template_candidates() -> list[Path]:
    """Where the default template may be: installed data, then the repository."""
    return [
        Path(sys.prefix) / "share" / "glance-verify" / "templates" / TEMPLATE_NAME,
        Path(__file__).resolve().parents[2] / "templates" / TEMPLATE_NAME,
    ]


def find_template(given: Path | None = None) -> Path:
    """The template file: ``given`` (--html-template), else the first default found."""
    if given is not None:
        if not given.is_file():
            raise ConfigError(f"--html-template {given}: no such file")
        return given
    for path in template_candidates():
        if path.is_file():
            return path
    tried = ", ".join(str(p) for p in template_candidates())
    raise ConfigError(
        f"the HTML report's template {TEMPLATE_NAME} is not installed (looked in {tried}): "
        "give --html-template FILE, or --no-html"
    )


@dataclass(frozen=True)
class State:
    """One point of a lane: a status, when, and how long the image stayed in it."""

    status: str
    at: str
    clock: str
    since_start: float
    stayed: float | None
    step: str
    note: str


@dataclass(frozen=True)
class Lane:
    """One image's statuses in order: the test image, or an import step's image."""

    title: str
    states: tuple[State, ...]


def _parse(at: str) -> datetime:
    return datetime.fromisoformat(at)


def lanes(report: dict[str, Any]) -> list[Lane]:
    """The timeline's lanes: the lifecycle image, then each import step's image."""
    sources: list[tuple[str, list[dict[str, Any]]]] = [
        ("test image (lifecycle steps)", report.get("image_states") or [])
    ]
    for step, seen in (report.get("import_states") or {}).items():
        sources.append((f"{step} image", [{**s, "step": step} for s in seen]))
    everything = [s for _, seen in sources for s in seen]
    if not everything:
        return []
    first = min(_parse(str(s["at"])) for s in everything)
    result = []
    for title, seen in sources:
        if not seen:
            continue
        times = [_parse(str(s["at"])) for s in seen]
        states = []
        for i, (entry, at) in enumerate(zip(seen, times, strict=True)):
            stayed = (times[i + 1] - at).total_seconds() if i + 1 < len(times) else None
            states.append(
                State(
                    status=str(entry["status"]),
                    at=str(entry["at"]),
                    clock=at.strftime("%H:%M:%S.") + f"{at.microsecond // 1000:03d}",
                    since_start=(at - first).total_seconds(),
                    stayed=stayed,
                    step=str(entry.get("step", "")),
                    note=str(entry.get("note", "")),
                )
            )
        result.append(Lane(title, tuple(states)))
    return result


def deployment_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    """What the run checked, as label and value; only what is set."""
    opts = report.get("options") or {}
    backends = opts.get("backends") or {}
    expect = opts.get("expect_release")
    rows = [
        ("Glance", report.get("glance_release")),
        ("deployed (--config)", f"Debian {expect[0]}, OpenStack {expect[1]}" if expect else None),
        ("cloud", opts.get("cloud")),
        ("settings (--config)", opts.get("config")),
        ("store of the test image", opts.get("store") or "the default store"),
        (
            "backends",
            ", ".join(f"{name} ({path})" if path else name for name, path in backends.items()),
        ),
        ("default backend", opts.get("default_backend")),
        ("file store directory", opts.get("store_path")),
        ("rbd pool", opts.get("rbd_pool")),
        ("user storage quota", opts.get("quota")),
        ("image cache", "on" if opts.get("image_cache") else "off"),
        ("image cache directory", opts.get("image_cache_dir")),
        ("http store URL", opts.get("http_url")),
        ("import methods", ", ".join(opts.get("import_methods") or []) or "none known"),
        ("glance-api nodes", ", ".join(opts.get("api_nodes") or [])),
        ("glance database", opts.get("db_url")),
        ("hash algorithm", opts.get("hash_algo")),
        ("disk / container format", f"{opts.get('disk_format')} / {opts.get('container_format')}"),
    ]
    return [(label, str(value)) for label, value in rows if value]


def throughput(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The bare transfers, each with its bar's width in percent of the fastest."""
    transfers = report.get("transfer") or {}
    fastest = max((float(t.get("mib_per_s", 0)) for t in transfers.values()), default=0.0)
    return [
        {
            "name": name,
            **t,
            "percent": round(100 * float(t.get("mib_per_s", 0)) / fastest, 1) if fastest else 0,
        }
        for name, t in transfers.items()
    ]


def render(report: dict[str, Any], template: Path) -> str:
    """The page for a JSON report's data (``report.to_dict``)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template.parent)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    try:
        page = env.get_template(template.name)
        return page.render(
            report=report,
            deployment=deployment_rows(report),
            lanes=lanes(report),
            throughput=throughput(report),
        )
    except jinja2.TemplateError as exc:
        raise ConfigError(f"HTML report template {template}: {exc}") from None
