"""The metadata definitions catalog (``/v2/metadefs``): what the definition files the
glance role loads say should be there, how the catalog differs from that, and the step
that checks it and has an admin make and delete a namespace of its own."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glance_verify.compare import require
from glance_verify.context import Context
from glance_verify.errors import CheckFailed

#: Namespaces Debian 12's (Zed) and 13's (2025.1) glance-common both ship, with their
#: resource type associations and properties: expected when the files cannot be read.
STANDARD: tuple[tuple[str, frozenset[str], frozenset[str]], ...] = (
    (
        "OS::Compute::Libvirt",
        frozenset({"OS::Glance::Image", "OS::Nova::Flavor"}),
        frozenset({"serial_port_count", "boot_menu"}),
    ),
    ("OS::Compute::Hypervisor", frozenset({"OS::Glance::Image"}), frozenset({"hypervisor_type"})),
    (
        "OS::OperatingSystem",
        frozenset({"OS::Glance::Image", "OS::Cinder::Volume"}),
        frozenset({"os_distro", "os_version"}),
    ),
    ("OS::Glance::CommonImageProperties", frozenset(), frozenset({"kernel_id", "ramdisk_id"})),
)


@dataclass(frozen=True)
class Namespace:
    """A namespace as a definition file (or the catalog) has it, by names."""

    name: str
    resource_types: frozenset[str] = frozenset()
    properties: frozenset[str] = frozenset()
    objects: frozenset[str] = frozenset()


def namespace_of(data: Mapping[str, Any]) -> Namespace:
    """The names in a definition file's JSON, or in Glance's answer to GET
    /v2/metadefs/namespaces/NAME (the same shape)."""
    return Namespace(
        str(data.get("namespace")),
        frozenset(str(r.get("name")) for r in data.get("resource_type_associations") or []),
        frozenset(str(p) for p in data.get("properties") or {}),
        frozenset(str(o.get("name")) for o in data.get("objects") or []),
    )


def standard_namespaces() -> tuple[Namespace, ...]:
    return tuple(Namespace(name, types, props) for name, types, props in STANDARD)


def read_definitions(directory: Path) -> tuple[Namespace, ...]:
    """The namespaces of the ``*.json`` files in ``directory`` (what glance-manage
    loads); CheckFailed for none or a file that is not a definition."""
    found = []
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CheckFailed(f"metadata definitions: {path}: cannot read it ({exc})") from None
        if not isinstance(data, dict) or not data.get("namespace"):
            raise CheckFailed(f"metadata definitions: {path}: no namespace")
        found.append(namespace_of(data))
    if not found:
        raise CheckFailed(f"metadata definitions: no *.json file in {directory}")
    return tuple(found)


def namespace_problems(want: Namespace, got: Namespace | None) -> list[str]:
    """What the catalog's namespace lacks of the definition (more is fine: an admin may
    add to it)."""
    if got is None:
        return [f"{want.name}: not in the catalog"]
    problems = []
    for what, expected, there in (
        ("resource type associations", want.resource_types, got.resource_types),
        ("properties", want.properties, got.properties),
        ("objects", want.objects, got.objects),
    ):
        missing = sorted(expected - there)
        if missing:
            problems.append(f"{want.name}: {what} missing: {', '.join(missing)}")
    return problems


def _catalog_problems(ctx: Context, expected: tuple[Namespace, ...]) -> tuple[int, list[str]]:
    listed = {str(n.get("namespace")) for n in ctx.api.metadef_namespaces()}
    problems = []
    for want in expected:
        data = ctx.api.metadef_namespace(want.name) if want.name in listed else None
        problems += namespace_problems(want, namespace_of(data) if data is not None else None)
    return len(listed), problems


def _own_namespace(ctx: Context) -> str:
    """Create a namespace with a property and an image association, see it listed for
    OS::Glance::Image with both, delete it: 404 after."""
    name = f"OS::Verify::{ctx.run_id.replace('-', '_')}"
    api = ctx.api
    api.create_metadef_namespace(
        namespace=name,
        display_name=f"{ctx.run_id} (temporary, made by glance-verify)",
        visibility="private",
        protected=False,
    )
    ctx.cleanup.push(
        f"delete metadefs namespace {name}",
        lambda: api.delete_metadef_namespace(name, missing_ok=True),
    )
    api.add_metadef_property(name, name="verify_run", title="Run", type="string")
    api.associate_metadef_resource_type(name, name="OS::Glance::Image", prefix="verify_")
    for_images = {
        str(n.get("namespace")) for n in api.metadef_namespaces(resource_types="OS::Glance::Image")
    }
    data = api.metadef_namespace(name)
    got = namespace_of(data) if data is not None else None
    want = Namespace(name, frozenset({"OS::Glance::Image"}), frozenset({"verify_run"}))
    problems = namespace_problems(want, got)
    if name not in for_images:
        problems.append(f"{name}: not listed for resource_types=OS::Glance::Image")
    require(problems)
    api.delete_metadef_namespace(name)
    if api.metadef_namespace(name) is not None:
        raise CheckFailed(f"{name}: still there after DELETE")
    return name


def step_metadefs(ctx: Context) -> str:
    """The catalog holds every namespace of the definition files (else the standard
    ones) with their resource type associations, properties and objects; an admin
    creates a namespace, gives it a property and an association, and deletes it."""
    directory = ctx.opts.metadefs_path
    if directory is not None:
        expected = read_definitions(directory)
        source = f"the {len(expected)} files in {directory}"
    else:
        expected = standard_namespaces()
        source = f"the {len(expected)} standard ones"
    listed, problems = _catalog_problems(ctx, expected)
    if problems:
        more = f"; ... ({len(problems)} in all)" if len(problems) > 5 else ""
        shown = "; ".join(problems[:5]) + more
        raise CheckFailed(f"{shown} (expected {source}; the catalog lists {listed})")
    own = _own_namespace(ctx)
    return (
        f"{listed} namespaces; every one of {source} there with its resource type "
        f"associations, properties and objects; {own} created (a property, "
        "OS::Glance::Image association), listed, deleted (404)"
    )
