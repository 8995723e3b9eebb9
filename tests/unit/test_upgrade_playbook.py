"""playbooks/upgrade.yml converges with playbooks/site.yml's roles, in site.yml's order.

The upgrade re-lists the roles inside a block per play (its rescue must catch
a failure of any of them), so a role added to site.yml would silently be left
out of the upgrade's converge. This keeps the lists equal: the controller's
play has site.yml's roles, except those the upgrade leaves alone, each named
with its reason; the glance nodes' play has those of site.yml's play on the
glance hosts.
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
    ("ceph", None): "the Ceph hosts are left as they are (their cluster is upgraded on its own)",
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


def plays(path: Path) -> Iterator[dict[str, Any]]:
    """A playbook's plays, in order, following import_playbook (but not SHARED)."""
    for play in yaml.safe_load(path.read_text()):
        if "ansible.builtin.import_playbook" in play:
            if play["ansible.builtin.import_playbook"] != SHARED:
                yield from plays(path.parent / play["ansible.builtin.import_playbook"])
            continue
        yield play


def play_roles(play: dict[str, Any]) -> Iterator[Role]:
    for entry in play.get("roles") or []:
        yield (entry if isinstance(entry, str) else entry["role"]), None
    for section in ("pre_tasks", "tasks", "post_tasks"):
        yield from _tasks_roles(play.get(section) or [])


def playbook_roles(path: Path) -> Iterator[Role]:
    """Every role a playbook runs, in order."""
    for play in plays(path):
        yield from play_roles(play)


def upgrade_play(name: str) -> dict[str, Any]:
    found = [play for play in plays(PLAYBOOKS / "upgrade.yml") if play["name"] == name]
    assert len(found) == 1, f"upgrade.yml has {len(found)} plays named {name!r}"
    return found[0]


def test_both_run_the_same_preflight() -> None:
    for name in ("site.yml", "upgrade.yml"):
        plays = yaml.safe_load((PLAYBOOKS / name).read_text())
        imports = [play.get("ansible.builtin.import_playbook") for play in plays]
        assert SHARED in imports, name


def test_controller_converges_site_roles_in_order() -> None:
    site = [role for role in playbook_roles(PLAYBOOKS / "site.yml") if role not in NOT_IN_UPGRADE]
    assert site, "found no roles in playbooks/site.yml: the parser no longer matches it"
    assert list(play_roles(upgrade_play("Upgrade the controller"))) == site


def test_glance_nodes_converge_the_glance_hosts_roles() -> None:
    """The rolling part: the roles site.yml's play on the glance hosts has."""
    site = [
        play
        for play in plays(PLAYBOOKS / "site.yml")
        if play["hosts"] == "glance" and play.get("roles")
    ]
    assert len(site) == 1, "site.yml should have one play with roles on the glance hosts"
    nodes = upgrade_play("Upgrade the glance nodes behind the load balancer, one at a time")
    assert list(play_roles(nodes)) == list(play_roles(site[0]))
    assert nodes["serial"] == 1, "the glance nodes are upgraded one at a time"


def test_every_exception_is_still_in_site() -> None:
    """An exception for a role site.yml no longer runs is stale."""
    assert set(NOT_IN_UPGRADE) <= set(playbook_roles(PLAYBOOKS / "site.yml"))
