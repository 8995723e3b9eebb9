"""Each role's declared interface: its argument specs and its defaults agree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p.parent.parent for p in ROOT.glob("roles/*/meta/argument_specs.yml"))


def specs(role: Path) -> dict[str, Any]:
    loaded = yaml.safe_load((role / "meta/argument_specs.yml").read_text())
    return dict(loaded["argument_specs"])


def defaults(role: Path) -> dict[str, Any]:
    path = role / "defaults/main.yml"
    return dict(yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def test_every_role_has_argument_specs() -> None:
    assert {r.name for r in ROLES} == {p.name for p in ROOT.glob("roles/*") if p.is_dir()}


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_spec_defaults_equal_defaults_main(role: Path) -> None:
    """A default written in a spec is the one in defaults/main.yml (no second copy that drifts)."""
    values = defaults(role)
    mismatched = []
    for entry, spec in specs(role).items():
        for name, option in (spec.get("options") or {}).items():
            if "default" not in option:
                continue
            if name not in values:
                mismatched.append(f"{entry}.{name}: has a default but defaults/main.yml has none")
            elif option["default"] != values[name]:
                mismatched.append(f"{entry}.{name}: {option['default']!r} != {values[name]!r}")
    assert mismatched == []


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_every_default_is_declared(role: Path) -> None:
    """Every variable in defaults/main.yml is an option of some entry point."""
    declared = {name for spec in specs(role).values() for name in (spec.get("options") or {})}
    assert sorted(set(defaults(role)) - declared) == []


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_required_options_have_no_default(role: Path) -> None:
    """Secrets and other required inputs have no default value anywhere."""
    values = defaults(role)
    wrong = [
        f"{entry}.{name}"
        for entry, spec in specs(role).items()
        for name, option in (spec.get("options") or {}).items()
        if option.get("required") and (name in values or "default" in option)
    ]
    assert wrong == []
