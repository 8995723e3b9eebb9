"""Streaming hashers: same bytes and digests as hashlib over the whole file, in one pass."""

from __future__ import annotations

import hashlib
import io
import random
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from glance_verify.errors import CheckFailed, ConfigError
from glance_verify.hashing import (
    CHUNK_SIZE,
    QUEUE_DEPTH,
    HashingReader,
    HashWorker,
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


# --- the hashing workers (threads fed through bounded queues) --------------------------------

SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 5 * CHUNK_SIZE + 3]


def worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("glance-verify-")]


def pseudo_random(size: int) -> bytes:
    return random.Random(size).randbytes(size)


@pytest.mark.parametrize("size", SIZES)
def test_threaded_digests_equal_hashlib_one_pass(size: int) -> None:
    data = pseudo_random(size)
    want = (
        size,
        hashlib.md5(data, usedforsecurity=False).hexdigest(),
        hashlib.sha512(data).hexdigest(),
    )
    reader = HashingReader(io.BytesIO(data), size, "sha512")
    assert b"".join(reader) == data
    got = reader.digests()
    assert (got.size, got.md5, got.value) == want
    chunks = (data[i : i + 64 * 1024] for i in range(0, size, 64 * 1024))
    got = hash_chunks(chunks, "sha512")
    assert (got.size, got.md5, got.value) == want
    assert worker_threads() == []


def test_reusable_buffers_are_copied_before_a_worker_sees_them() -> None:
    buffer = bytearray(b"a" * 4096)
    with MultiHasher("sha256") as hasher:
        hasher.update(buffer)
        buffer[:] = b"b" * 4096  # the caller reuses its buffer at once
        hasher.update(memoryview(buffer))
        got = hasher.digests()
    data = b"a" * 4096 + b"b" * 4096
    assert got.value == hashlib.sha256(data).hexdigest()


class GatedHash:
    """A hash object whose update waits for ``gate``, then fails if ``fail`` is set."""

    def __init__(self, fail: bool = False) -> None:
        self.gate = threading.Event()
        self.fail = fail
        self.updates = 0

    def update(self, data: bytes, /) -> None:
        if not self.gate.wait(10):
            raise TimeoutError("test gate never opened")
        self.updates += 1
        if self.fail:
            raise OSError("disk on fire")

    def hexdigest(self) -> str:
        return f"{self.updates} updates"


def feed_in_thread(worker: HashWorker, count: int) -> tuple[threading.Thread, list[object]]:
    """Feed ``count`` chunks from another thread; the list gets 'fed' per chunk, or the error."""
    log: list[object] = []

    def produce() -> None:
        try:
            for _ in range(count):
                worker.feed(b"x" * 4096)
                log.append("fed")
        except BaseException as exc:  # recorded for the test
            log.append(exc)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    return thread, log


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_queue_bound_blocks_the_producer() -> None:
    depth = 3
    hasher = GatedHash()
    worker = HashWorker(hasher, depth)
    producer, log = feed_in_thread(worker, 20)
    # One chunk in the worker's hands, ``depth`` waiting: then the producer blocks.
    wait_until(lambda: len(log) == depth + 1)
    time.sleep(0.2)
    assert len(log) == depth + 1 and producer.is_alive()
    assert worker.high_water == depth
    hasher.gate.set()
    producer.join(5)
    assert log == ["fed"] * 20
    assert worker.hexdigest() == "20 updates"
    assert worker.high_water == depth


def test_queue_bound_holds_for_a_whole_stream() -> None:
    with MultiHasher("sha512", depth=2) as hasher:
        for _ in range(64):
            hasher.update(b"y" * 65536)
        assert hasher.digests().size == 64 * 65536
        assert hasher._workers is not None
        assert all(w.high_water <= 2 for w in hasher._workers)


def test_worker_error_reaches_a_blocked_producer() -> None:
    hasher = GatedHash(fail=True)
    worker = HashWorker(hasher, 2)
    producer, log = feed_in_thread(worker, 10)
    wait_until(lambda: len(log) == 3)  # 1 being hashed + 2 queued; the 4th feed blocks
    hasher.gate.set()
    producer.join(5)
    assert not producer.is_alive()
    assert isinstance(log[-1], OSError)
    with pytest.raises(OSError, match="disk on fire"):
        worker.hexdigest()
    wait_until(lambda: not worker._thread.is_alive())


def test_worker_error_surfaces_in_the_main_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    hasher = MultiHasher("sha512")  # checks the algorithm with the real hashlib
    failing = GatedHash(fail=True)
    failing.gate.set()
    monkeypatch.setattr(hashlib, "new", lambda name: failing)
    with pytest.raises(OSError, match="disk on fire"):  # raised by one of the updates
        for _ in range(100):
            hasher.update(b"z" * 4096)
            time.sleep(0.001)
    wait_until(lambda: worker_threads() == [])


def test_worker_error_surfaces_in_digests(monkeypatch: pytest.MonkeyPatch) -> None:
    hasher = MultiHasher("sha512")
    failing = GatedHash(fail=True)
    failing.gate.set()
    monkeypatch.setattr(hashlib, "new", lambda name: failing)
    hasher.update(b"z" * 4096)
    with pytest.raises(OSError, match="disk on fire"):
        hasher.digests()
    assert worker_threads() == []


def test_close_drops_queued_chunks_and_ends_the_thread() -> None:
    hasher = GatedHash()
    worker = HashWorker(hasher, 4)
    for _ in range(5):
        worker.feed(b"x" * 4096)
    closer = threading.Thread(target=worker.close, daemon=True)
    closer.start()
    time.sleep(0.1)
    hasher.gate.set()  # let the chunk in hand finish
    closer.join(5)
    assert not closer.is_alive()
    assert hasher.updates == 1  # the four queued chunks were dropped
    assert not worker._thread.is_alive()
    with pytest.raises(RuntimeError, match="closed"):
        worker.feed(b"x")
    with pytest.raises(RuntimeError, match="closed"):
        worker.hexdigest()


def test_early_close_of_the_reader_stops_the_workers() -> None:
    data = pseudo_random(8 * CHUNK_SIZE)
    reader = HashingReader(io.BytesIO(data), len(data), "sha512")
    chunks = iter(reader)
    next(chunks)
    next(chunks)
    assert len(worker_threads()) == 2
    chunks.close()  # what a dropped or failed upload body amounts to
    assert worker_threads() == []
    with pytest.raises(CheckFailed, match="stopped after"):
        reader.digests()


def test_a_failing_source_stops_the_workers() -> None:
    class Broken(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            if self.tell() >= 2 * CHUNK_SIZE:
                raise OSError("read error")
            return super().read(size)

    data = pseudo_random(4 * CHUNK_SIZE)
    reader = HashingReader(Broken(data), len(data), "md5")
    with pytest.raises(OSError, match="read error"):
        list(reader)
    assert worker_threads() == []


def test_unfed_multihasher_starts_no_thread() -> None:
    with MultiHasher("sha512") as hasher:
        assert worker_threads() == []
        assert hasher.digests().value == hashlib.sha512(b"").hexdigest()
