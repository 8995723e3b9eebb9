"""Streaming hashers: md5 (Glance's ``checksum``) plus the configured ``os_hash_algo``.

Everything here is pure: bytes in, digests out. Data is consumed chunk by chunk and
never kept, so memory use does not depend on the image size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from glance_verify.errors import CheckFailed, ConfigError

#: Read and send the image in 1 MiB pieces.
CHUNK_SIZE = 1024 * 1024

ProgressCallback = Callable[[int], None]


class Readable(Protocol):
    """What HashingReader reads from: a binary file, or any source with ``read(n)``."""

    def read(self, n: int = -1, /) -> bytes: ...


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


class MultiHasher:
    """md5 and one other algorithm, fed in one pass."""

    def __init__(self, algo: str) -> None:
        self.algo = check_algorithm(algo)
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._other = hashlib.new(self.algo)
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self._md5.update(chunk)
        self._other.update(chunk)
        self.size += len(chunk)

    def digests(self) -> Digests:
        return Digests(
            size=self.size,
            md5=self._md5.hexdigest(),
            algo=self.algo,
            value=self._other.hexdigest(),
        )


def hash_chunks(
    chunks: Iterable[bytes], algo: str, progress: ProgressCallback | None = None
) -> Digests:
    """Hash an iterable of byte chunks (e.g. an HTTP response body) without keeping it."""
    hasher = MultiHasher(algo)
    for chunk in chunks:
        if chunk:
            hasher.update(chunk)
            if progress is not None:
                progress(len(chunk))
    return hasher.digests()


class HashingReader:
    """Iterate a binary file in chunks, hashing each chunk as the consumer takes it.

    Given as the body of an HTTP PUT, the upload and the hashing are one pass over the
    file: each chunk is read once, hashed, handed to the socket and dropped. ``len()``
    is the expected size so that the HTTP client sends a Content-Length instead of
    chunked encoding. The reader can be iterated only once.
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

    def __iter__(self) -> Iterator[bytes]:
        if self._started:
            raise RuntimeError("HashingReader is single pass; it was already consumed")
        self._started = True
        return self._chunks()

    def _chunks(self) -> Iterator[bytes]:
        while True:
            chunk = self._file.read(self._chunk_size)
            if not chunk:
                break
            self._hasher.update(chunk)
            if self._progress is not None:
                self._progress(len(chunk))
            yield chunk
        self._finished = True

    @property
    def finished(self) -> bool:
        """True once the whole file went through."""
        return self._finished

    def digests(self) -> Digests:
        """The digests of everything read. Raises CheckFailed if the read was incomplete."""
        if not self._finished:
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
