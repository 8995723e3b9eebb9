"""Pure comparisons between what we computed and what Glance (or its database) reports.

Each ``*_problems`` function returns a list of human-readable mismatches (empty when
everything matches); ``require`` turns a non-empty list into a CheckFailed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from glance_verify.errors import CheckFailed
from glance_verify.hashing import Digests


def short(value: object, width: int = 16) -> str:
    """Shorten long digests for messages: ``0123456789abcdef...`` keeps lines readable."""
    text = str(value)
    return text if len(text) <= width else text[:width] + "..."


def mismatch(field: str, expected: object, actual: object) -> str:
    return f"{field}: expected {short(expected)}, got {short(actual)}"


def require(problems: Iterable[str]) -> None:
    """Raise CheckFailed with every problem on one line if there is any."""
    found = list(problems)
    if found:
        raise CheckFailed("; ".join(found))


def queued_image_problems(image: Mapping[str, Any]) -> list[str]:
    """An empty image: status queued, no data, so no size, checksum or os_hash_value."""
    problems = []
    if image.get("status") != "queued":
        problems.append(mismatch("status", "queued", image.get("status")))
    for field in ("checksum", "os_hash_value", "size"):
        if image.get(field) is not None:
            problems.append(f"{field}: expected none before upload, got {short(image[field])}")
    return problems


def image_record_problems(
    local: Digests, image: Mapping[str, Any], status: str = "active"
) -> list[str]:
    """Glance's image record against the digests computed locally while uploading."""
    problems = []
    if image.get("status") != status:
        problems.append(mismatch("status", status, image.get("status")))
    expected: list[tuple[str, object]] = [
        ("size", local.size),
        ("checksum", local.md5),
        ("os_hash_algo", local.algo),
        ("os_hash_value", local.value),
    ]
    for field, want in expected:
        got = image.get(field)
        if got != want:
            problems.append(mismatch(field, want, got))
    return problems


def digest_problems(expected: Digests, actual: Digests, what: str = "downloaded data") -> list[str]:
    """Two sets of digests of the same bytes (e.g. uploaded vs downloaded)."""
    problems = []
    if expected.algo != actual.algo:
        problems.append(mismatch(f"{what} hash algorithm", expected.algo, actual.algo))
    for field in ("size", "md5", "value"):
        want, got = getattr(expected, field), getattr(actual, field)
        if want != got:
            label = expected.algo if field == "value" else field
            problems.append(mismatch(f"{what} {label}", want, got))
    return problems


def expected_hash_problems(local: Digests, algo: str, value: str) -> list[str]:
    """A published digest (``--expect-hash``) against the locally computed ones."""
    if algo == "md5":
        got = local.md5
    elif algo == local.algo:
        got = local.value
    else:
        return [f"--expect-hash {algo}: only md5 or the --hash-algo ({local.algo}) is computed"]
    return [] if got == value else [mismatch(f"image {algo}", value, got)]


def deleted_row_problems(row: Mapping[str, Any] | None) -> list[str]:
    """The ``images`` row of a deleted image: kept, status deleted, deleted=1."""
    if row is None:
        return ["images row: not found (expected it to stay, with status deleted)"]
    problems = []
    if row.get("status") != "deleted":
        problems.append(mismatch("images.status", "deleted", row.get("status")))
    if row.get("deleted") not in (1, True):
        problems.append(mismatch("images.deleted", 1, row.get("deleted")))
    return problems
