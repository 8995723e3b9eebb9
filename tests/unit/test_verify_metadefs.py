"""Step metadefs against a fake catalog (the real one: molecule's verify), and its pure
parts: what the definition files say, what a namespace lacks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from glance_verify.context import Context
from glance_verify.errors import CheckFailed
from glance_verify.metadefs import (
    Namespace,
    namespace_of,
    namespace_problems,
    read_definitions,
    standard_namespaces,
    step_metadefs,
)
from glance_verify.options import Options
from glance_verify.plan import STEPS
from glance_verify.runner import run_steps

LIBVIRT: dict[str, Any] = {
    "namespace": "OS::Compute::Libvirt",
    "resource_type_associations": [{"name": "OS::Glance::Image", "prefix": "hw_"}],
    "properties": {"serial_port_count": {"type": "integer"}, "boot_menu": {"type": "string"}},
}
DBMS: dict[str, Any] = {
    "namespace": "OS::Software::DBMS",
    "objects": [{"name": "MySQL", "properties": {}}],
}


class FakeCatalog:
    """The metadefs calls of GlanceApi over a dict of namespace documents."""

    def __init__(self, *docs: dict[str, Any]) -> None:
        self.docs = {str(d["namespace"]): json.loads(json.dumps(d)) for d in docs}
        self.deleted: list[str] = []

    def metadef_namespaces(self, **query: Any) -> list[dict[str, Any]]:
        wanted = query.get("resource_types")
        return [
            {"namespace": name}
            for name, doc in self.docs.items()
            if wanted is None
            or wanted in [r["name"] for r in doc.get("resource_type_associations", [])]
        ]

    def metadef_namespace(self, name: str) -> dict[str, Any] | None:
        return self.docs.get(name)

    def create_metadef_namespace(self, **attrs: Any) -> dict[str, Any]:
        if attrs["namespace"] in self.docs:
            raise CheckFailed("POST /v2/metadefs/namespaces: HTTP 409")
        self.docs[attrs["namespace"]] = dict(attrs)
        return dict(attrs)

    def add_metadef_property(self, namespace: str, **attrs: Any) -> dict[str, Any]:
        self.docs[namespace].setdefault("properties", {})[attrs["name"]] = attrs
        return attrs

    def associate_metadef_resource_type(self, namespace: str, **attrs: Any) -> dict[str, Any]:
        self.docs[namespace].setdefault("resource_type_associations", []).append(attrs)
        return attrs

    def delete_metadef_namespace(self, name: str, missing_ok: bool = False) -> None:
        if self.docs.pop(name, None) is None and not missing_ok:
            raise CheckFailed(f"DELETE /v2/metadefs/namespaces/{name}: HTTP 404")
        self.deleted.append(name)


def _context(catalog: FakeCatalog, **opts: Any) -> Context:
    api: Any = catalog
    return Context(Options(metadefs=True, **opts), admin=None, api=api, run_id="gv-test1")


def _write(directory: Path, *docs: dict[str, Any]) -> Path:
    for doc in docs:
        name = str(doc["namespace"]).replace("::", "-").lower()
        (directory / f"{name}.json").write_text(json.dumps(doc), encoding="utf-8")
    return directory


def test_definitions_read_by_name(tmp_path: Path) -> None:
    (tmp_path / "README").write_text("not a definition")
    found = read_definitions(_write(tmp_path, LIBVIRT, DBMS))
    assert found == (
        Namespace(
            "OS::Compute::Libvirt",
            frozenset({"OS::Glance::Image"}),
            frozenset({"serial_port_count", "boot_menu"}),
        ),
        Namespace("OS::Software::DBMS", objects=frozenset({"MySQL"})),
    )


def test_no_definitions_or_a_bad_one_fails(tmp_path: Path) -> None:
    with pytest.raises(CheckFailed, match=r"no \*\.json file"):
        read_definitions(tmp_path)
    (tmp_path / "x.json").write_text('{"display_name": "no namespace"}')
    with pytest.raises(CheckFailed, match=r"x\.json: no namespace"):
        read_definitions(tmp_path)


def test_namespace_problems_name_what_is_missing() -> None:
    want = namespace_of(LIBVIRT)
    assert namespace_problems(want, None) == ["OS::Compute::Libvirt: not in the catalog"]
    lacking = {**LIBVIRT, "properties": {"boot_menu": {}}, "resource_type_associations": []}
    assert namespace_problems(want, namespace_of(lacking)) == [
        "OS::Compute::Libvirt: resource type associations missing: OS::Glance::Image",
        "OS::Compute::Libvirt: properties missing: serial_port_count",
    ]
    # More than the files say (an admin's addition) is fine.
    more = {**LIBVIRT, "properties": {**LIBVIRT["properties"], "extra": {}}}
    assert namespace_problems(want, namespace_of(more)) == []


def test_step_passes_on_the_files_catalog_and_cleans_up(tmp_path: Path) -> None:
    catalog = FakeCatalog(LIBVIRT, DBMS)
    ctx = _context(catalog, metadefs_path=_write(tmp_path, LIBVIRT, DBMS))
    detail = step_metadefs(ctx)
    assert "every one of the 2 files in" in detail
    assert catalog.deleted == ["OS::Verify::gv_test1"]
    assert set(catalog.docs) == {"OS::Compute::Libvirt", "OS::Software::DBMS"}


def test_step_fails_on_a_catalog_that_lacks_a_file(tmp_path: Path) -> None:
    catalog = FakeCatalog(LIBVIRT)
    ctx = _context(catalog, metadefs_path=_write(tmp_path, LIBVIRT, DBMS))
    with pytest.raises(CheckFailed, match="OS::Software::DBMS: not in the catalog"):
        step_metadefs(ctx)


def test_step_without_files_wants_the_standard_namespaces() -> None:
    with pytest.raises(CheckFailed, match="expected the 4 standard ones"):
        step_metadefs(_context(FakeCatalog(LIBVIRT)))
    detail = step_metadefs(_context(FakeCatalog(*_standard_docs())))
    assert "every one of the 4 standard ones" in detail


def _standard_docs() -> list[dict[str, Any]]:
    return [
        {
            "namespace": ns.name,
            "resource_type_associations": [{"name": r} for r in ns.resource_types],
            "properties": {p: {} for p in ns.properties},
        }
        for ns in standard_namespaces()
    ]


def test_own_namespace_left_behind_by_a_failure_is_cleaned_up() -> None:
    """The association does not show: the step fails, the run's cleanup deletes it."""

    class NoAssociation(FakeCatalog):
        def associate_metadef_resource_type(self, namespace: str, **attrs: Any) -> Any:
            return attrs

    catalog = NoAssociation(*_standard_docs())
    run = run_steps(_context(catalog), [s for s in STEPS if s.name == "metadefs"])
    [step] = run.steps
    assert step.status == "fail" and "not listed for resource_types" in step.detail
    assert "OS::Verify::gv_test1" not in catalog.docs
    assert [c.ok for c in run.cleanup] == [True]
