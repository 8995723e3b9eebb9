"""The glance_images role's decisions (roles/glance_images/filter_plugins/glance_images.py):
which source file each entry has, which images are stale, which properties to set."""

from __future__ import annotations

import hashlib
import importlib.util
from types import ModuleType
from typing import Any

import pytest

from templating import ROOT

SHA_A = "a" * 128
SHA_B = "b" * 128


@pytest.fixture(scope="module")
def filters() -> ModuleType:
    path = ROOT / "roles/glance_images/filter_plugins/glance_images.py"
    spec = importlib.util.spec_from_file_location("glance_images_filters", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def entry(name: str, state: str = "present", **properties: str) -> dict[str, Any]:
    return {"name": name, "state": state, "properties": properties}


def found(item: dict[str, Any], *images: dict[str, Any]) -> dict[str, Any]:
    """One result of the looped openstack.cloud.image_info."""
    return {"item": item, "images": list(images)}


def stat(name: str, checksum: str) -> dict[str, Any]:
    """One result of the looped stat of the source files."""
    return {"item": {"name": name}, "stat": {"isreg": True, "checksum": checksum}}


def image(name: str, id_: str, hash_value: str | None, **extra: Any) -> dict[str, Any]:
    return {"name": name, "id": id_, "hash_value": hash_value, "status": "active", **extra}


def test_the_filters_are_registered(filters: ModuleType) -> None:
    assert set(filters.FilterModule().filters()) == {
        "glance_images_entries",
        "glance_images_stale",
        "glance_images_missing_properties",
    }


def test_entries_fill_in_the_defaults_and_name_the_download(filters: ModuleType) -> None:
    url = "http://example.org/images/cirros-0.6.3-x86_64-disk.img"
    entries = filters.glance_images_entries(
        [
            {
                "name": "local",
                "file": "/srv/images/a.qcow2",
                "disk_format": "qcow2",
                "sha512": SHA_A.upper(),
            },
            {
                "name": "cirros",
                "url": url,
                "disk_format": "qcow2",
                "visibility": "public",
                "properties": {"os_distro": "cirros"},
            },
            {"name": "gone", "state": "absent"},
        ],
        "/root/.cache/glance-lab/images",
    )
    assert entries[0] == {
        "name": "local",
        "state": "present",
        "url": "",
        "source": "/srv/images/a.qcow2",
        "disk_format": "qcow2",
        "container_format": "bare",
        "visibility": "private",
        "properties": {},
        "sha512": SHA_A,
    }
    digest = hashlib.sha1(url.encode(), usedforsecurity=False).hexdigest()[:12]
    assert (
        entries[1]["source"]
        == f"/root/.cache/glance-lab/images/{digest}-cirros-0.6.3-x86_64-disk.img"
    )
    assert (entries[1]["url"], entries[1]["visibility"], entries[1]["properties"]) == (
        url,
        "public",
        {"os_distro": "cirros"},
    )
    assert (entries[2]["state"], entries[2]["source"]) == ("absent", "")


def test_an_image_holding_its_source_is_kept(filters: ModuleType) -> None:
    results = [found(entry("cirros"), image("cirros", "id-1", SHA_A))]
    assert filters.glance_images_stale(results, [stat("cirros", SHA_A)]) == []


def test_an_image_whose_data_is_not_its_source_goes(filters: ModuleType) -> None:
    results = [
        found(entry("cirros"), image("cirros", "id-old", SHA_B), image("cirros", "id-none", None))
    ]
    stale = filters.glance_images_stale(results, [stat("cirros", SHA_A)])
    assert [s["id"] for s in stale] == ["id-old", "id-none"]
    assert (
        stale[0]["why"] == f"status active, sha512 {SHA_B[:16]}..., the source has {SHA_A[:16]}..."
    )
    assert "sha512 none..." in stale[1]["why"]


def test_a_second_copy_goes_and_the_first_stays(filters: ModuleType) -> None:
    results = [
        found(entry("cirros"), image("cirros", "id-1", SHA_A), image("cirros", "id-2", SHA_A))
    ]
    assert filters.glance_images_stale(results, [stat("cirros", SHA_A)]) == [
        {"name": "cirros", "id": "id-2", "why": "second copy of id-1"}
    ]


def test_state_absent_removes_every_image_of_the_name_and_no_other(filters: ModuleType) -> None:
    # image_info's name filter may return other names too: only the exact name counts.
    results = [
        found(
            entry("old", state="absent"),
            image("old", "id-1", SHA_A),
            image("old", "id-2", SHA_B),
            image("old-but-other", "id-3", SHA_A),
        ),
    ]
    stale = filters.glance_images_stale(results, [])
    assert [(s["id"], s["why"]) for s in stale] == [
        ("id-1", "state absent"),
        ("id-2", "state absent"),
    ]


def test_properties_only_those_the_kept_image_lacks(filters: ModuleType) -> None:
    kept = image(
        "cirros", "id-1", SHA_A, os_distro="cirros", properties={"description": "old text"}
    )
    results = [
        found(
            entry("cirros", os_distro="cirros", description="new text", hw_rng_model="virtio"), kept
        )
    ]
    assert filters.glance_images_missing_properties(results, [stat("cirros", SHA_A)]) == {
        "cirros": {"description": "new text", "hw_rng_model": "virtio"}
    }


def test_properties_all_when_no_image_holds_the_source(filters: ModuleType) -> None:
    results = [
        found(
            entry("cirros", os_distro="cirros"),
            image("cirros", "id-old", SHA_B, os_distro="cirros"),
        ),
        found(entry("gone", state="absent"), image("gone", "id-2", SHA_A)),
    ]
    assert filters.glance_images_missing_properties(results, [stat("cirros", SHA_A)]) == {
        "cirros": {"os_distro": "cirros"}
    }
