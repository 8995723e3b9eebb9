"""Streaming hashers: md5 (Glance's ``checksum``) plus the configured ``os_hash_algo``.

Everything here is pure: bytes in, digests out. Data is consumed chunk by chunk and
never kept, so memory use does not depend on the image size.

Each algorithm runs in its own worker thread (hashlib releases the GIL while it hashes
a buffer of 2 KiB or more), so md5, the other digest and the thread that reads the
socket or the file use separate cores instead of taking turns on one. The workers are
fed through bounded queues: see MultiHasher for the memory bound.
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from glance_verify.errors import CheckFailed, ConfigError

#: One mebibyte: the unit of sizes throughout the verifier.
MIB = 1024 * 1024
#: Read and send the image in 1 MiB pieces.
CHUNK_SIZE = MIB
#: Read downloads in pieces of this size (requests' iter_content).
DOWNLOAD_CHUNK_SIZE = CHUNK_SIZE
#: Chunks a hashing worker may have waiting before the producer blocks.
QUEUE_DEPTH = 4

ProgressCallback = Callable[[int], None]


class Readable(Protocol):
    """What HashingReader reads from: a binary file, or any source with ``read(n)``."""

    def read(self, n: int = -1, /) -> bytes: ...


class Hash(Protocol):
    """The part of a hashlib object a HashWorker uses."""

    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


@dataclass(frozen=True)
class Digests:
    """What Glance records about image data: size, md5 checksum and os_hash_algo/value."""

    size: int
    md5: str
    algo: str
    value: str


def check_algorithm(name: str) -> str:
    """Return ``name`` normalised if hashlib can compute it with a fixed-length digest."""
    algo = name.strip().lower()
    try:
        hasher = hashlib.new(algo)
    except (ValueError, TypeError):
        raise ConfigError(
            f"unknown hash algorithm {name!r} (Glance's hashing_algorithm, e.g. sha512, sha256)"
        ) from None
    if hasher.digest_size == 0 or algo.startswith("shake"):
        raise ConfigError(f"hash algorithm {name!r} has no fixed digest length")
    return algo


class HashWorker:
    """One hash object updated in its own thread, fed through a queue of ``depth`` chunks.

    ``feed`` blocks while ``depth`` chunks are waiting, so the worker holds at most
    ``depth + 1`` chunks (the waiting ones and the one it is hashing). An exception in
    the worker is raised again in the thread that calls ``feed`` or ``hexdigest``.
    ``close`` stops the worker without hashing what is still queued; the thread ends in
    every case (finished, failed, closed) and never waits for a producer that has gone.
    """

    def __init__(self, hasher: Hash, depth: int = QUEUE_DEPTH, name: str = "hash") -> None:
        if depth < 1:
            raise ValueError("depth must be at least 1")
        self._hasher = hasher
        self._depth = depth
        self._queue: deque[bytes] = deque()
        self._cond = threading.Condition()
        self._no_more = False
        self._closed = False
        self._error: BaseException | None = None
        #: The most chunks that were ever waiting at once (at most ``depth``).
        self.high_water = 0
        self._thread = threading.Thread(target=self._run, name=f"glance-verify-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._no_more and not self._closed:
                    self._cond.wait()
                if self._closed or not self._queue:
                    return
                chunk = self._queue.popleft()
                self._cond.notify_all()
            try:
                self._hasher.update(chunk)
            except BaseException as exc:  # noqa: BLE001 - handed to the feeding thread
                with self._cond:
                    self._error = exc
                    self._queue.clear()
                    self._cond.notify_all()
                return

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def feed(self, chunk: bytes) -> None:
        """Queue ``chunk`` (a bytes object: never changed afterwards, so it is not copied)."""
        with self._cond:
            while len(self._queue) >= self._depth and self._error is None and not self._closed:
                self._cond.wait()
            self._raise_error()
            if self._closed or self._no_more:
                raise RuntimeError("HashWorker: fed after it was finished or closed")
            self._queue.append(chunk)
            self.high_water = max(self.high_water, len(self._queue))
            self._cond.notify_all()

    def hexdigest(self) -> str:
        """Wait until everything fed is hashed; the digest, or the worker's exception."""
        with self._cond:
            if self._closed:
                raise RuntimeError("HashWorker: closed before it finished")
            self._no_more = True
            self._cond.notify_all()
        self._thread.join()
        self._raise_error()
        return self._hasher.hexdigest()

    def close(self) -> None:
        """Stop now, dropping what is queued; the thread has ended when this returns."""
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._cond.notify_all()
        self._thread.join()


class MultiHasher:
    """md5 and one other algorithm over the same bytes, in one pass, one thread each.

    Memory: ``update`` hands the same bytes object to both workers and blocks while a
    worker has ``depth`` chunks waiting, so at most ``depth + 2`` chunks are alive at a
    time (the waiting ones, the one the slower worker is hashing, the caller's newest):
    with 1 MiB chunks and QUEUE_DEPTH 4, 6 MiB whatever the image size. The workers
    start with the first chunk; use the hasher as a context manager (or call
    ``close``) so that they end when the stream stops early.
    """

    def __init__(self, algo: str, *, depth: int = QUEUE_DEPTH) -> None:
        self.algo = check_algorithm(algo)
        self.size = 0
        self._depth = depth
        self._workers: tuple[HashWorker, HashWorker] | None = None
        self._result: Digests | None = None

    def update(self, chunk: bytes | bytearray | memoryview) -> None:
        if self._result is not None:
            raise RuntimeError("MultiHasher: updated after digests()")
        if not chunk:
            return
        if not isinstance(chunk, bytes):
            chunk = bytes(chunk)  # a caller's reusable buffer must not change under a worker
        if self._workers is None:
            self._workers = (
                HashWorker(hashlib.md5(usedforsecurity=False), self._depth, "md5"),
                HashWorker(hashlib.new(self.algo), self._depth, self.algo),
            )
        for worker in self._workers:
            try:
                worker.feed(chunk)
            except BaseException:
                self.close()
                raise
        self.size += len(chunk)

    def digests(self) -> Digests:
        """Wait for the workers: the digests of everything fed (a worker's error, raised)."""
        if self._result is None:
            if self._workers is None:
                md5 = hashlib.md5(usedforsecurity=False).hexdigest()
                value = hashlib.new(self.algo).hexdigest()
            else:
                try:
                    md5, value = (worker.hexdigest() for worker in self._workers)
                finally:
                    self.close()
            self._result = Digests(size=self.size, md5=md5, algo=self.algo, value=value)
        return self._result

    def close(self) -> None:
        """End the workers (dropping queued chunks); digests() is not possible after this."""
        if self._workers is not None:
            for worker in self._workers:
                worker.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def hash_chunks(
    chunks: Iterable[bytes], algo: str, progress: ProgressCallback | None = None
) -> Digests:
    """Hash an iterable of byte chunks (e.g. an HTTP response body) without keeping it."""
    with MultiHasher(algo) as hasher:
        for chunk in chunks:
            if chunk:
                hasher.update(chunk)
                if progress is not None:
                    progress(len(chunk))
        return hasher.digests()


class HashingReader:
    """Iterate a binary file in chunks, hashing each chunk as the consumer takes it.

    Given as the body of an HTTP PUT, the upload and the hashing are one pass over the
    file: each chunk is read once, handed to the hashing workers and to the socket, and
    dropped. ``len()`` is the expected size so that the HTTP client sends a
    Content-Length instead of chunked encoding. The reader can be iterated only once;
    when the iteration stops early (an error, or the iterator is closed or dropped) the
    hashing workers are stopped with it.
    """

    def __init__(
        self,
        fileobj: Readable,
        size: int,
        algo: str,
        *,
        chunk_size: int = CHUNK_SIZE,
        progress: ProgressCallback | None = None,
    ) -> None:
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        self._file = fileobj
        self._size = size
        self._chunk_size = chunk_size
        self._progress = progress
        self._hasher = MultiHasher(algo)
        self._started = False
        self._finished = False

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Generator[bytes, None, None]:
        if self._started:
            raise RuntimeError("HashingReader is single pass; it was already consumed")
        self._started = True
        return self._chunks()

    def _chunks(self) -> Generator[bytes, None, None]:
        with self._hasher:
            while True:
                chunk = self._file.read(self._chunk_size)
                if not chunk:
                    break
                self._hasher.update(chunk)
                if self._progress is not None:
                    self._progress(len(chunk))
                yield chunk
            self._hasher.digests()  # wait for the workers while the upload is still "on"
        self._finished = True

    @property
    def finished(self) -> bool:
        """True once the whole file went through."""
        return self._finished

    def digests(self) -> Digests:
        """The digests of everything read. Raises CheckFailed if the read was incomplete."""
        if not self._finished:
            self._hasher.close()
            raise CheckFailed(f"upload stopped after {self._hasher.size} of {self._size} bytes")
        if self._hasher.size != self._size:
            raise CheckFailed(
                f"the image file changed during upload: read {self._hasher.size} bytes, "
                f"expected {self._size}"
            )
        return self._hasher.digests()


def parse_expected_hash(text: str) -> tuple[str, str]:
    """Parse ``ALGO:HEX`` (e.g. ``md5:...`` or ``sha512:...``) into (algo, lower-case hex)."""
    algo, sep, value = text.partition(":")
    if not sep or not algo or not value:
        raise ConfigError(f"--expect-hash {text!r}: expected ALGO:HEXDIGEST, e.g. md5:0123...")
    algo = check_algorithm(algo)
    value = value.strip().lower()
    want = hashlib.new(algo).digest_size * 2
    if len(value) != want or any(c not in "0123456789abcdef" for c in value):
        raise ConfigError(f"--expect-hash {text!r}: a {algo} digest is {want} hex digits")
    return algo, value
