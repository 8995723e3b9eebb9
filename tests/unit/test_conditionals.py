"""Every conditional in the playbooks, roles and scenarios is a string (or a boolean).

A plain YAML list item such as `- x | regex_findall(': y') | length == 2`
holds ": ", so YAML reads it as a mapping; Ansible only says "Conditional
expressions must be strings" when the task runs, which for an upgrade
rehearsal is twenty minutes in (seen in the multinode upgrade side effect).
ansible-lint and --syntax-check do not catch it: this does, for every task
file in the repository.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONDITIONAL_KEYS = ("when", "that", "failed_when", "changed_when", "until")
YAML_DIRS = ("playbooks", "roles", "molecule")


class Loader(yaml.SafeLoader):
    """SafeLoader that reads Ansible's tags (!unsafe, !vault) as their plain value."""


def _tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    return loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else None


Loader.add_multi_constructor("!", _tagged)


def yaml_files() -> list[Path]:
    return sorted(
        path
        for top in YAML_DIRS
        for path in (ROOT / top).rglob("*.yml")
        if "templates" not in path.parts and path.name != "molecule.yml"
    )


def conditionals(node: Any, where: str) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in CONDITIONAL_KEYS and value is not None:
                for item in value if isinstance(value, list) else [value]:
                    yield f"{where}/{key}", item
            yield from conditionals(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from conditionals(item, f"{where}[{index}]")


def test_files_found() -> None:
    assert len(yaml_files()) > 50, "found few YAML files: the paths no longer match the layout"


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_conditionals_are_strings(path: Path) -> None:
    bad = [
        (where, item)
        for where, item in conditionals(yaml.load(path.read_text(), Loader=Loader), "")  # noqa: S506 (a SafeLoader)
        if not isinstance(item, (str, bool))
    ]
    assert not bad, f"conditionals YAML did not read as strings (quote them): {bad}"
