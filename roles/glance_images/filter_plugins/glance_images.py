"""What the glance_images role decides, as filters of plain data.

The role's tasks feed these the variables and the results of stock modules
(`stat` of the source files, `openstack.cloud.image_info` per name) and loop
`openstack.cloud.image` over what comes back. Unit tests:
tests/unit/test_glance_images_filters.py.
"""

from __future__ import annotations

import hashlib
import posixpath
from typing import Any
from urllib.parse import urlsplit


def glance_images_entries(images: list[dict[str, Any]], download_dir: str) -> list[dict[str, Any]]:
    """glance_images_list with every default filled in, and `source`: the
    entry's file, or where its URL is downloaded to (a short hash of the whole
    URL, then the URL's file name, in download_dir)."""
    entries = []
    for image in images:
        if "file" in image:
            source = image["file"]
        elif "url" in image:
            url = image["url"]
            digest = hashlib.sha1(url.encode(), usedforsecurity=False).hexdigest()[:12]
            source = f"{download_dir}/{digest}-{posixpath.basename(urlsplit(url).path)}"
        else:
            source = ""
        entries.append(
            {
                "name": image["name"],
                "state": image.get("state", "present"),
                "url": image.get("url", ""),
                "source": source,
                "disk_format": image.get("disk_format", ""),
                "container_format": image.get("container_format", "bare"),
                "visibility": image.get("visibility", "private"),
                "properties": image.get("properties", {}),
                "sha512": image.get("sha512", "").lower(),
            }
        )
    return entries


def _source_sha512(stats: list[dict[str, Any]], name: str) -> str:
    """The sha512 `stat` found for the source file of the entry `name`."""
    for result in stats:
        if result["item"]["name"] == name:
            return str(result.get("stat", {}).get("checksum", ""))
    return ""


def _same_name(found: dict[str, Any]) -> list[dict[str, Any]]:
    """The images image_info found whose name is the entry's (not a prefix match)."""
    return [image for image in found.get("images", []) if image.get("name") == found["item"]["name"]]


def glance_images_stale(found_results: list[dict[str, Any]], stats: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The images to delete, each with why: for an entry to keep, every image
    of its name whose data is not the source's (os_hash_value is not the
    file's sha512) and any second copy; for an entry with state absent, all."""
    stale = []
    for found in found_results:
        entry = found["item"]
        want = _source_sha512(stats, entry["name"]) if entry["state"] == "present" else ""
        kept = None
        for image in _same_name(found):
            if entry["state"] == "absent":
                why = "state absent"
            elif image.get("hash_value") != want:
                have = image.get("hash_value") or "none"
                why = f"status {image.get('status')}, sha512 {have[:16]}..., the source has {want[:16]}..."
            elif kept is not None:
                why = f"second copy of {kept}"
            else:
                kept = image["id"]
                continue
            stale.append({"name": image["name"], "id": image["id"], "why": why})
    return stale


def glance_images_missing_properties(
    found_results: list[dict[str, Any]], stats: list[dict[str, Any]]
) -> dict[str, dict[str, str]]:
    """Per entry to keep, the properties its kept image lacks or holds with
    another value ({} when it has them all, or every property when there is
    no kept image yet). Only those go to openstack.cloud.image: it compares a
    property with the image's attribute of that name, which Glance's own
    properties have (os_distro) and any other (description) has not, so
    passing them all would set those again, and report changed, on every run."""
    missing = {}
    for found in found_results:
        entry = found["item"]
        if entry["state"] != "present":
            continue
        want = _source_sha512(stats, entry["name"])
        have = next((image for image in _same_name(found) if image.get("hash_value") == want), {})
        have_props = have.get("properties") or {}
        missing[entry["name"]] = {
            key: value
            for key, value in entry["properties"].items()
            if (have_props[key] if key in have_props else have.get(key)) != value
        }
    return missing


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "glance_images_entries": glance_images_entries,
            "glance_images_stale": glance_images_stale,
            "glance_images_missing_properties": glance_images_missing_properties,
        }
