"""The project's own Ansible modules document themselves (ansible-doc parses the YAML)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(ROOT.glob("roles/*/library/*.py"))


def docs(path: Path) -> dict[str, str]:
    """DOCUMENTATION, EXAMPLES and RETURN as written in the module."""
    found = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in {
                    "DOCUMENTATION",
                    "EXAMPLES",
                    "RETURN",
                }:
                    found[target.id] = str(node.value.value)
    return found


def test_there_are_modules() -> None:
    assert {p.name for p in MODULES} >= {"keystone_registered_limits.py"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_documentation_examples_and_return_are_yaml(path: Path) -> None:
    blocks = docs(path)
    assert set(blocks) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}
    doc = yaml.safe_load(blocks["DOCUMENTATION"])
    assert doc["module"] == path.stem
    assert doc["options"]
    assert isinstance(yaml.safe_load(blocks["EXAMPLES"]), list)
    assert isinstance(yaml.safe_load(blocks["RETURN"]), dict)
