"""Pure helpers of the storage-lab checks: backends, quota sizes, locations, generated data.

Nothing here talks to Glance; the steps that do live in ``lifecycle.py`` and ``labs.py``.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from glance_verify.errors import CheckFailed, ConfigError
from glance_verify.options import Backend, on_host

#: Makes ``n`` bytes of data: os.urandom, a seeded ``random.Random().randbytes``, repeating().
RandomSource = Callable[[int], bytes]

#: Glance's own pattern for ``user_storage_quota`` (glance/api/common.py,
#: get_remaining_quota): digits, optionally B, KB, MB, GB or TB; case-sensitive, no space.
QUOTA_PATTERN = re.compile(r"^(\d+)((K|M|G|T)?B)?$")
#: Glance maps KB/MB/GB/TB to oslo_utils.units Ki/Mi/Gi/Ti: 1024-based.
QUOTA_FACTORS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
#: A backend id is an oslo.config group name in glance-api.conf.
BACKEND_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def parse_quota(text: str) -> int:
    """``user_storage_quota`` as Glance reads it: ``64MB`` is 64 MiB, plain digits are bytes."""
    match = QUOTA_PATTERN.match(text)
    if not match:
        raise ConfigError(
            f"--quota {text!r}: use Glance's user_storage_quota format: digits, optionally "
            "followed by B, KB, MB, GB or TB (upper case, no space), e.g. 64MB"
        )
    value = int(match.group(1)) * QUOTA_FACTORS[match.group(2) or "B"]
    if value == 0:
        raise ConfigError(f"--quota {text}: 0 means no quota in Glance; nothing to check")
    return value


#: The resources Glance (Zed and later) enforces with Keystone unified limits
#: (use_keystone_limits), and whether each counts MiB (else images).
LIMIT_RESOURCES = {
    "image_size_total": True,
    "image_stage_total": True,
    "image_count_total": False,
    "image_count_uploading": False,
}


def parse_limit(text: str) -> tuple[str, int]:
    """``--keystone-limit NAME=N``: a resource of LIMIT_RESOURCES and its expected limit."""
    name, sep, value = text.partition("=")
    if name not in LIMIT_RESOURCES or not sep or not value.isdigit():
        raise ConfigError(
            f"--keystone-limit {text!r}: expected NAME=N with NAME one of "
            f"{', '.join(LIMIT_RESOURCES)} and N a whole number (MiB for the sizes)"
        )
    return name, int(value)


def parse_usage(answer: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """GET /v2/info/usage -> {resource: (limit MiB or count, usage)}.

    CheckFailed when Glance reports no unified limits (with use_keystone_limits off it
    answers ``{"usage": {}}``) or leaves a resource out.
    """
    usage = answer.get("usage")
    if not isinstance(usage, Mapping) or not usage:
        raise CheckFailed(
            "GET /v2/info/usage reports no limits: Keystone unified limits are off in "
            "glance-api.conf (use_keystone_limits)"
        )
    table: dict[str, tuple[int, int]] = {}
    missing = []
    for name in LIMIT_RESOURCES:
        entry = usage.get(name)
        numbers = (
            [
                value
                for value in (entry.get("limit"), entry.get("usage"))
                if isinstance(value, int) and not isinstance(value, bool)
            ]
            if isinstance(entry, Mapping)
            else []
        )
        if len(numbers) == 2:
            table[name] = (numbers[0], numbers[1])
        else:
            missing.append(name)
    if missing:
        raise CheckFailed(f"GET /v2/info/usage has no limit and usage for {', '.join(missing)}")
    return table


def limit_fill_mib(limit_mib: int, usage_mib: int) -> int:
    """MiB to upload so that the project's usage goes over ``limit_mib``.

    Glance (glance/quota/keystone.py) checks usage // MiB before an upload, with no delta:
    an upload is refused only once usage > limit. 0 when usage is over already.
    """
    return max(0, limit_mib - usage_mib + 1)


def describe_limits(table: Mapping[str, tuple[int, int]]) -> str:
    """``image_size_total 48 MiB (used 16), image_count_total 50 (used 4), ...``"""
    parts = []
    for name, (limit, used) in table.items():
        unit = " MiB" if LIMIT_RESOURCES.get(name) else ""
        parts.append(f"{name} {limit}{unit} (used {used})")
    return ", ".join(parts)


#: A Ceph pool name as glance_store's rbd_store_pool takes it (no '/', which would break
#: the rbd://FSID/POOL/IMAGE/SNAP location).
POOL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def check_pool(text: str, flag: str) -> str:
    if not POOL_NAME.match(text):
        raise ConfigError(f"{flag} {text!r}: not a Ceph pool name (letters, digits, _ . -)")
    return text


def parse_backend(text: str) -> Backend:
    """``--backend NAME`` or ``--backend NAME=DIR`` (DIR: its directory on the Glance host)."""
    name, sep, directory = text.partition("=")
    if not BACKEND_NAME.match(name):
        raise ConfigError(f"--backend {text!r}: expected NAME or NAME=DIR (NAME as in "
                          "enabled_backends)")  # fmt: skip
    if not sep:
        return Backend(name)
    if not directory.startswith("/"):
        raise ConfigError(f"--backend {text!r}: DIR must be an absolute path")
    return Backend(name, PurePosixPath(posixpath.normpath(directory)))


def _check_local_stores(backends: Sequence[Backend], root: Path | None = None) -> None:
    """--local-stores: every --backend DIR must be a directory on this machine (under
    --host-root when given)."""
    where = "here" if root is None else f"under --host-root {root}"
    for backend in backends:
        if backend.directory is not None and not on_host(root, backend.directory).is_dir():
            raise ConfigError(
                f"--local-stores: {backend.directory} (backend {backend.name}) "
                f"is not a directory {where}"
            )


def check_backends(
    backends: Sequence[Backend],
    default: str | None,
    *,
    local: bool = False,
    root: Path | None = None,
) -> None:
    if local:
        _check_local_stores(backends, root)
    names = [b.name for b in backends]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"--backend {twice[0]}: given more than once")
    if default is not None and names and default not in names:
        raise ConfigError(
            f"--default-backend {default}: not among the --backend names ({', '.join(names)})"
        )


def image_location_urls(image: Mapping[str, Any]) -> list[str] | None:
    """The image's data locations as the API shows them, or None when it shows none.

    ``locations`` appears with show_multiple_locations=True, ``direct_url`` with
    show_image_direct_url=True (glance/api/v2/images.py, ResponseSerializer._format_image).
    """
    locations = image.get("locations")
    if isinstance(locations, list) and locations:
        return [str(loc.get("url")) for loc in locations if isinstance(loc, Mapping)]
    if image.get("direct_url"):
        return [str(image["direct_url"])]
    return None


def file_url_path(url: str) -> PurePosixPath | None:
    """The path of a ``file://`` location URL, normalised; None for any other scheme."""
    parts = urlsplit(url)
    if parts.scheme != "file":
        return None
    return PurePosixPath(posixpath.normpath(unquote(parts.netloc + parts.path)))


def location_problems(urls: Sequence[str], directory: PurePosixPath, image_id: str) -> list[str]:
    """The file store writes ``file://<datadir>/<image id>`` (glance_store filesystem add)."""
    want = directory / image_id
    if len(urls) != 1:
        return [f"locations: expected one, file://{want}, got {len(urls)}: {', '.join(urls)}"]
    if file_url_path(urls[0]) != want:
        return [f"location: expected file://{want}, got {urls[0]}"]
    return []


#: glance_store's rbd driver writes ``rbd://<fsid>/<pool>/<image>/<snapshot>`` (each part
#: URL-quoted); the image is named by its id and protected by the snapshot ``snap``.
RBD_URL = re.compile(r"^rbd://(?P<fsid>[^/]+)/(?P<pool>[^/]+)/(?P<image>[^/]+)/(?P<snap>[^/]+)$")


def parse_rbd_url(url: str) -> tuple[str, str, str, str] | None:
    """(fsid, pool, image, snapshot) of an rbd location URL; None for any other URL
    (another scheme, or the old ``rbd://<image>`` form without cluster and pool)."""
    match = RBD_URL.match(url)
    if match is None:
        return None
    fsid, pool, image, snap = (unquote(match.group(k)) for k in ("fsid", "pool", "image", "snap"))
    return fsid, pool, image, snap


def rbd_location_problems(urls: Sequence[str], pool: str, image_id: str) -> list[str]:
    """An image in an rbd store has one location, ``rbd://<fsid>/<pool>/<image id>/snap``,
    in the configured pool."""
    want = f"rbd://<fsid>/{pool}/{image_id}/snap"
    if len(urls) != 1:
        return [f"locations: expected one, {want}, got {len(urls)}: {', '.join(urls)}"]
    parts = parse_rbd_url(urls[0])
    if parts is None:
        return [f"location: expected {want}, got {urls[0]}"]
    fsid, got_pool, image, snap = parts
    problems = []
    if got_pool != pool:
        problems.append(f"location {urls[0]}: pool {got_pool}, expected {pool}")
    if image != image_id:
        problems.append(f"location {urls[0]}: image {image}, expected {image_id}")
    if snap != "snap":
        problems.append(f"location {urls[0]}: snapshot {snap}, expected snap")
    if fsid in ("", "None"):
        problems.append(f"location {urls[0]}: no cluster fsid")
    return problems


def cache_entry(entries: Sequence[Mapping[str, Any]], image_id: str) -> Mapping[str, Any] | None:
    """The cache listing's record of ``image_id`` (keys image_id, hits, size, ...), if any."""
    return next((e for e in entries if e.get("image_id") == image_id), None)


def repeating(block: bytes) -> RandomSource:
    """A source that hands out ``block`` over and over, each piece going on where the last
    one ended: cheap data of any length, for uploads whose content does not matter."""
    if not block:
        raise ValueError("block must not be empty")
    offset = 0

    def source(n: int) -> bytes:
        nonlocal offset
        if offset == 0 and n == len(block):
            return block
        out = bytearray()
        while len(out) < n:
            take = min(n - len(out), len(block) - offset)
            out += block[offset : offset + take]
            offset = (offset + take) % len(block)
        return bytes(out)

    return source


class GeneratedData:
    """A file-like ``read(n)`` over ``size`` bytes made as they are read, never held.

    Neither a file on disk nor a buffer of ``size`` bytes, so any size can be streamed
    (e.g. past a storage quota). Each piece comes from ``source``: fresh random bytes
    (os.urandom, the default: glance-ledger's images), or ``repeating(block)`` when only
    the amount matters (the quota step). Give it to HashingReader to upload it.
    """

    def __init__(self, size: int, source: RandomSource = os.urandom) -> None:
        if size < 0:
            raise ValueError("size must not be negative")
        self._left = size
        self._source = source

    def read(self, n: int = -1, /) -> bytes:
        count = self._left if n < 0 else min(n, self._left)
        if count <= 0:
            return b""
        self._left -= count
        return self._source(count)
