"""Streaming hashers: same bytes and digests as hashlib over the whole file, in one pass."""

from __future__ import annotations

import hashlib
import io
import tracemalloc
from pathlib import Path

import pytest

from glance_verify.errors import CheckFailed, ConfigError
from glance_verify.hashing import (
    CHUNK_SIZE,
    QUEUE_DEPTH,
    HashingReader,
    MultiHasher,
    check_algorithm,
    hash_chunks,
    parse_expected_hash,
)


def whole_file_digests(path: Path, algo: str) -> tuple[str, str]:
    data = path.read_bytes()
    return hashlib.md5(data, usedforsecurity=False).hexdigest(), hashlib.new(algo, data).hexdigest()


@pytest.mark.parametrize("algo", ["sha512", "sha256", "sha3_256", "md5"])
def test_reader_yields_the_same_bytes_and_digests_as_hashlib(image_file: Path, algo: str) -> None:
    size = image_file.stat().st_size
    with image_file.open("rb") as handle:
        reader = HashingReader(handle, size, algo, chunk_size=64 * 1024)
        sent = b"".join(reader)
    assert sent == image_file.read_bytes()
    md5, value = whole_file_digests(image_file, algo)
    digests = reader.digests()
    assert (digests.size, digests.md5, digests.algo, digests.value) == (size, md5, algo, value)


def test_reader_len_is_the_file_size_for_content_length(image_file: Path) -> None:
    size = image_file.stat().st_size
    with image_file.open("rb") as handle:
        assert len(HashingReader(handle, size, "sha512")) == size


class SpyFile(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads: list[int] = []

    def read(self, size: int | None = -1) -> bytes:
        self.reads.append(-1 if size is None else size)
        return super().read(size)


def test_reader_reads_in_bounded_chunks_and_reports_progress() -> None:
    data = bytes(range(256)) * 4096 * 5  # 5 MiB
    spy = SpyFile(data)
    seen: list[int] = []
    reader = HashingReader(spy, len(data), "sha512", chunk_size=CHUNK_SIZE, progress=seen.append)
    chunks = list(reader)
    assert all(0 < size <= CHUNK_SIZE for size in spy.reads)
    assert max(len(c) for c in chunks) == CHUNK_SIZE
    assert sum(seen) == len(data)
    assert reader.digests().size == len(data)


def test_reader_is_single_pass(image_file: Path) -> None:
    with image_file.open("rb") as handle:
        reader = HashingReader(handle, image_file.stat().st_size, "sha512")
        list(reader)
        with pytest.raises(RuntimeError, match="single pass"):
            iter(reader)


def test_digests_refused_when_the_upload_stopped_early(image_file: Path) -> None:
    with image_file.open("rb") as handle:
        reader = HashingReader(handle, image_file.stat().st_size, "sha512", chunk_size=1024)
        first = next(iter(reader))
        assert len(first) == 1024
        with pytest.raises(CheckFailed, match="stopped after 1024"):
            reader.digests()


def test_digests_refused_when_the_file_changed_size() -> None:
    reader = HashingReader(io.BytesIO(b"x" * 100), 150, "sha512")
    list(reader)
    with pytest.raises(CheckFailed, match="changed during upload"):
        reader.digests()


def test_memory_does_not_scale_with_the_file_size(tmp_path: Path) -> None:
    """Stream a 48 MiB file: the peak of Python allocations stays within the hashers'
    bound (QUEUE_DEPTH + 2 chunks alive, see MultiHasher), far below the file size."""
    path = tmp_path / "big.img"
    with path.open("wb") as out:
        block = hashlib.sha512(b"x").digest() * 16384  # 1 MiB
        for i in range(48):
            out.write(block[i:] + block[:i])
    size = path.stat().st_size
    tracemalloc.start()
    try:
        with path.open("rb") as handle:
            reader = HashingReader(handle, size, "sha512")
            for _chunk in reader:
                pass
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert reader.digests().size == size
    assert peak < (QUEUE_DEPTH + 3) * CHUNK_SIZE, f"peak {peak} bytes for a {size}-byte file"


def test_hash_chunks_matches_hashlib_and_counts_progress(image_file: Path) -> None:
    data = image_file.read_bytes()
    seen: list[int] = []
    chunks = (data[i : i + 1000] for i in range(0, len(data), 1000))
    digests = hash_chunks(chunks, "sha512", progress=seen.append)
    md5, value = whole_file_digests(image_file, "sha512")
    assert (digests.md5, digests.value, digests.size) == (md5, value, len(data))
    assert sum(seen) == len(data)


def test_multihasher_of_nothing() -> None:
    d = MultiHasher("sha512").digests()
    assert d.size == 0
    assert d.md5 == hashlib.md5(b"", usedforsecurity=False).hexdigest()


@pytest.mark.parametrize("name", ["nope", "", "shake_128"])
def test_check_algorithm_rejects(name: str) -> None:
    with pytest.raises(ConfigError):
        check_algorithm(name)


def test_check_algorithm_normalises() -> None:
    assert check_algorithm(" SHA512 ") == "sha512"


def test_parse_expected_hash() -> None:
    value = hashlib.sha256(b"x").hexdigest()
    assert parse_expected_hash(f"SHA256:{value.upper()}") == ("sha256", value)
    assert parse_expected_hash("md5:" + "a" * 32) == ("md5", "a" * 32)


@pytest.mark.parametrize(
    "text", ["sha512", "sha512:", ":abc", "md5:" + "a" * 31, "md5:" + "g" * 32, "foo:" + "a" * 32]
)
def test_parse_expected_hash_rejects(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_expected_hash(text)
