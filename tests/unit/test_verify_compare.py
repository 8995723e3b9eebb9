"""Comparisons: matching data passes, and tampered values are caught."""

from __future__ import annotations

import pytest

from glance_verify.compare import (
    deleted_row_problems,
    digest_problems,
    expected_hash_problems,
    image_record_problems,
    queued_image_problems,
    require,
    short,
)
from glance_verify.errors import CheckFailed
from glance_verify.hashing import Digests

LOCAL = Digests(size=1234, md5="a" * 32, algo="sha512", value="b" * 128)
ACTIVE = {
    "status": "active",
    "size": 1234,
    "checksum": "a" * 32,
    "os_hash_algo": "sha512",
    "os_hash_value": "b" * 128,
}


def test_queued_image_ok() -> None:
    image = {"status": "queued", "checksum": None, "os_hash_value": None, "size": None}
    assert queued_image_problems(image) == []


def test_queued_image_with_data_is_reported() -> None:
    # What `glance image-create` without --file under a non-tty stdin gives: active, 0 bytes.
    image = {"status": "active", "checksum": "d41d8cd9", "os_hash_value": "cf83e135", "size": 0}
    problems = queued_image_problems(image)
    assert len(problems) == 4
    assert problems[0] == "status: expected queued, got active"


def test_image_record_matches() -> None:
    assert image_record_problems(LOCAL, ACTIVE) == []


@pytest.mark.parametrize(
    ("field", "tampered"),
    [
        ("size", 1233),
        ("checksum", "c" * 32),
        ("os_hash_algo", "sha256"),
        ("os_hash_value", "0" * 128),
        ("status", "killed"),
    ],
)
def test_image_record_tampered_field_is_caught(field: str, tampered: object) -> None:
    problems = image_record_problems(LOCAL, {**ACTIVE, field: tampered})
    assert len(problems) == 1
    assert problems[0].startswith(f"{field}: expected")
    with pytest.raises(CheckFailed, match=field):
        require(problems)


def test_digest_problems_equal() -> None:
    assert digest_problems(LOCAL, Digests(1234, "a" * 32, "sha512", "b" * 128)) == []


def test_digest_problems_wrong_hash_of_downloaded_bytes() -> None:
    """Tampered data: a wrong expected hash must make the check fail."""
    downloaded = Digests(1234, "a" * 32, "sha512", "e" * 128)
    problems = digest_problems(LOCAL, downloaded)
    assert problems == [f"downloaded data sha512: expected {'b' * 16}..., got {'e' * 16}..."]
    with pytest.raises(CheckFailed):
        require(problems)


def test_digest_problems_reports_every_difference() -> None:
    other = Digests(1, "c" * 32, "sha256", "e" * 64)
    assert len(digest_problems(LOCAL, other)) == 4


def test_expected_hash() -> None:
    assert expected_hash_problems(LOCAL, "md5", "a" * 32) == []
    assert expected_hash_problems(LOCAL, "sha512", "b" * 128) == []
    assert expected_hash_problems(LOCAL, "sha512", "f" * 128) != []
    assert "only md5 or" in expected_hash_problems(LOCAL, "sha256", "f" * 64)[0]


@pytest.mark.parametrize(
    ("row", "count"),
    [
        ({"status": "deleted", "deleted": 1}, 0),
        ({"status": "deleted", "deleted": True}, 0),
        ({"status": "active", "deleted": 0}, 2),
        ({"status": "deleted", "deleted": 0}, 1),
        (None, 1),
    ],
)
def test_deleted_row(row: dict[str, object] | None, count: int) -> None:
    assert len(deleted_row_problems(row)) == count


def test_require_passes_quietly_and_joins_problems() -> None:
    require([])
    with pytest.raises(CheckFailed, match=r"^one; two$"):
        require(["one", "two"])


def test_short() -> None:
    assert short("abc") == "abc"
    assert short("x" * 40) == "x" * 16 + "..."
