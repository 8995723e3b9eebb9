"""Where the test image comes from: a local file, a cached download, or a qcow2 built here.

Offline labs and CI cannot reach download.cirros-cloud.net; then a small but real image
is made with ``qemu-img`` (random data, so its hashes are not trivial) and the report
says so.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal
from urllib.parse import urlsplit

from glance_verify.errors import ConfigError
from glance_verify.hashing import CHUNK_SIZE, MIB, ProgressCallback

DEFAULT_IMAGE_URL = "https://download.cirros-cloud.net/0.6.3/cirros-0.6.3-x86_64-disk.img"
DEFAULT_CACHE_DIR = "~/.cache/glance-verify"
#: Seconds to wait for the download server before falling back.
FETCH_TIMEOUT = 20.0
#: Virtual size of the fallback image and how much of it holds random data.
FALLBACK_VIRTUAL_SIZE = 32 * MIB
FALLBACK_DATA_SIZE = 8 * MIB
#: Glance disk_format -> qemu-img output format, for the fallback image.
QEMU_FORMATS = {
    "qcow2": "qcow2",
    "raw": "raw",
    "vmdk": "vmdk",
    "vdi": "vdi",
    "vhd": "vpc",
    "vhdx": "vhdx",
}

Origin = Literal["file", "download", "cache", "fallback"]
ProgressFactory = Callable[[str, int], ProgressCallback]


@dataclass(frozen=True)
class ImageSource:
    """The local image file and how it was obtained."""

    path: Path
    size: int
    origin: Origin
    note: str
    #: A directory to remove after the run (the fallback image), if any.
    scratch_dir: Path | None = None


class SourceUnavailable(Exception):
    """The URL could not be fetched; the caller falls back."""


def validate_url(url: str, option: str = "--image-url") -> str:
    """Accept http(s) URLs with a host; anything else is a usage error."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{option} {url!r}: not an http(s) URL")
    return url


def validate_image_file(path: str) -> Path:
    """An existing, readable, non-empty regular file."""
    file = Path(path).expanduser()
    if not file.exists():
        raise ConfigError(f"--image-file {path}: no such file")
    if not file.is_file():
        raise ConfigError(f"--image-file {path}: not a regular file")
    if not os.access(file, os.R_OK):
        raise ConfigError(f"--image-file {path}: not readable")
    if file.stat().st_size == 0:
        raise ConfigError(f"--image-file {path}: empty file")
    return file


def cache_path(cache_dir: Path, url: str) -> Path:
    """Cache file for ``url``: its basename, prefixed with a short hash of the full URL."""
    name = PurePosixPath(urlsplit(url).path).name or "image"
    tag = hashlib.sha256(url.encode()).hexdigest()[:12]
    return cache_dir / f"{tag}-{name}"


def fetch(
    url: str,
    dest: Path,
    *,
    timeout: float = FETCH_TIMEOUT,
    progress: ProgressFactory | None = None,
) -> None:
    """Download ``url`` to ``dest`` (via ``dest.part`` and an atomic rename)."""
    part = dest.with_name(dest.name + ".part")
    try:
        with part.open("wb") as out:
            for chunk in url_chunks(url, timeout=timeout, progress=progress):
                out.write(chunk)
        if part.stat().st_size == 0:
            raise SourceUnavailable("empty response")
        part.replace(dest)
    except OSError as exc:
        raise SourceUnavailable(str(exc) or type(exc).__name__) from None
    finally:
        part.unlink(missing_ok=True)


def url_chunks(
    url: str,
    *,
    timeout: float = FETCH_TIMEOUT,
    progress: ProgressFactory | None = None,
    label: str = "download",
) -> Iterator[bytes]:
    """The body of a GET of ``url``, streamed in CHUNK_SIZE pieces; SourceUnavailable when
    it cannot be fetched (or the transfer breaks)."""
    try:
        # The scheme was checked by validate_url: http or https only.
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            total = int(response.headers.get("Content-Length") or 0)
            callback = progress(label, total) if progress is not None else None
            while chunk := response.read(CHUNK_SIZE):
                if callback is not None:
                    callback(len(chunk))
                yield chunk
    except urllib.error.HTTPError as exc:
        raise SourceUnavailable(f"HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        raise SourceUnavailable(str(exc.reason)) from None
    except (OSError, http.client.HTTPException) as exc:
        raise SourceUnavailable(str(exc) or type(exc).__name__) from None


def find_qemu_img() -> str | None:
    return shutil.which("qemu-img") or (
        "/usr/bin/qemu-img" if Path("/usr/bin/qemu-img").exists() else None
    )


def build_fallback_image(directory: Path, disk_format: str, qemu_img: str) -> Path:
    """A real image made with qemu-img: random data in a sparse disk, converted."""
    fmt = QEMU_FORMATS.get(disk_format)
    if fmt is None:
        raise ConfigError(
            f"cannot build a fallback image in disk format {disk_format!r} "
            f"(can: {', '.join(QEMU_FORMATS)}); pass --image-file"
        )
    raw = directory / "fallback.raw"
    image = directory / f"glance-verify-fallback.{disk_format}"
    stretch = FALLBACK_DATA_SIZE // 4
    gap = FALLBACK_VIRTUAL_SIZE // 4
    with raw.open("wb") as out:
        out.truncate(FALLBACK_VIRTUAL_SIZE)
        for i in range(4):
            out.seek(i * gap)
            out.write(os.urandom(stretch))
    if fmt == "raw":
        raw.replace(image)
        return image
    cmd = [qemu_img, "convert", "-q", "-f", "raw", "-O", fmt, str(raw), str(image)]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    raw.unlink(missing_ok=True)
    if result.returncode != 0:
        raise ConfigError(f"qemu-img convert failed: {result.stderr.strip() or result.returncode}")
    return image


def resolve_source(
    *,
    image_file: str | None,
    image_url: str,
    cache_dir: Path,
    disk_format: str,
    fallback: bool = True,
    progress: ProgressFactory | None = None,
    fetch_timeout: float = FETCH_TIMEOUT,
) -> ImageSource:
    """Find or make the image to upload."""
    if image_file:
        path = validate_image_file(image_file)
        return ImageSource(path, path.stat().st_size, "file", f"file {path}")

    validate_url(image_url)
    cached = cache_path(cache_dir, image_url)
    if cached.is_file() and cached.stat().st_size > 0:
        return ImageSource(cached, cached.stat().st_size, "cache", f"{image_url} (cached)")

    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--cache-dir {cache_dir}: {exc.strerror}") from None
    try:
        fetch(image_url, cached, timeout=fetch_timeout, progress=progress)
    except SourceUnavailable as exc:
        reason = str(exc)
    else:
        size = cached.stat().st_size
        return ImageSource(cached, size, "download", f"{image_url} (downloaded)")

    if not fallback:
        raise ConfigError(f"cannot download {image_url}: {reason} (and --no-fallback was given)")
    qemu_img = find_qemu_img()
    if qemu_img is None:
        raise ConfigError(
            f"cannot download {image_url} ({reason}) and qemu-img is not installed "
            "to build a fallback image; pass --image-file"
        )
    scratch = Path(tempfile.mkdtemp(prefix="glance-verify-"))
    try:
        path = build_fallback_image(scratch, disk_format, qemu_img)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    note = (
        f"{image_url} unreachable ({reason}): built a {disk_format} image "
        "with qemu-img instead (random data)"
    )
    return ImageSource(path, path.stat().st_size, "fallback", note, scratch_dir=scratch)


def remove_scratch(source: ImageSource) -> None:
    if source.scratch_dir is not None:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(source.scratch_dir)
