"""playbooks/upgrade.yml converges with playbooks/site.yml's roles, in site.yml's order.

The upgrade re-lists the roles inside one block (its rescue must catch a
failure of any of them), so a role added to site.yml would silently be left
out of the upgrade's converge. This keeps the two lists equal, except for the
roles the upgrade refuses or does not need, each named with its reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"

# Roles of site.yml that the upgrade leaves out, and why.
NOT_IN_UPGRADE = {
    ("ceph", None): "upgrade.yml refuses an inventory with a ceph group (all-in-one only)",
    ("haproxy", None): "upgrade.yml refuses an inventory with a loadbalancer group",
    (
        "glance_images",
        None,
    ): "the images kept in the cloud are data the upgrade keeps; make aio re-runs the role",
}

Role = tuple[str, str | None]


def _tasks_roles(tasks: list[dict[str, Any]]) -> Iterator[Role]:
    for task in tasks or []:
        for key in ("block", "rescue", "always"):
            if key in task:
                yield from _tasks_roles(task[key])
        for module in ("ansible.builtin.include_role", "ansible.builtin.import_role"):
            if module in task:
                args = task[module]
                yield args["name"], args.get("tasks_from")


# Both playbooks import it (the upgrade with its own checks after it).
SHARED = "preflight.yml"


def playbook_roles(path: Path) -> Iterator[Role]:
    """Every role a playbook runs, in order, following import_playbook (but not SHARED)."""
    for play in yaml.safe_load(path.read_text()):
        if "ansible.builtin.import_playbook" in play:
            if play["ansible.builtin.import_playbook"] != SHARED:
                yield from playbook_roles(path.parent / play["ansible.builtin.import_playbook"])
            continue
        for entry in play.get("roles") or []:
            yield (entry if isinstance(entry, str) else entry["role"]), None
        for section in ("pre_tasks", "tasks", "post_tasks"):
            yield from _tasks_roles(play.get(section) or [])


def test_both_run_the_same_preflight() -> None:
    for name in ("site.yml", "upgrade.yml"):
        plays = yaml.safe_load((PLAYBOOKS / name).read_text())
        imports = [play.get("ansible.builtin.import_playbook") for play in plays]
        assert SHARED in imports, name


def test_upgrade_converges_site_roles_in_order() -> None:
    site = [role for role in playbook_roles(PLAYBOOKS / "site.yml") if role not in NOT_IN_UPGRADE]
    assert site, "found no roles in playbooks/site.yml: the parser no longer matches it"
    assert list(playbook_roles(PLAYBOOKS / "upgrade.yml")) == site


def test_every_exception_is_still_in_site() -> None:
    """An exception for a role site.yml no longer runs is stale."""
    assert set(NOT_IN_UPGRADE) <= set(playbook_roles(PLAYBOOKS / "site.yml"))
