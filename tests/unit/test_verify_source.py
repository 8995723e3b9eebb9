"""Image source: local file, cached download, qemu-img fallback when offline."""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from glance_verify.errors import ConfigError
from glance_verify.source import (
    build_fallback_image,
    cache_path,
    resolve_source,
    validate_url,
)

QEMU_IMG = shutil.which("qemu-img")
needs_qemu_img = pytest.mark.skipif(QEMU_IMG is None, reason="qemu-img is not installed")


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """Serve tmp_path/www over HTTP on localhost; yields (base URL, request log)."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "cirros.img").write_bytes(b"QFI\xfb" + bytes(range(256)) * 1000)
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(www), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:
            requests.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


def unreachable_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/cirros-0.6.3-x86_64-disk.img"


def test_local_file(image_file: Path, tmp_path: Path) -> None:
    src = resolve_source(
        image_file=str(image_file), image_url="http://unused/", cache_dir=tmp_path,
        disk_format="qcow2",
    )  # fmt: skip
    assert (src.origin, src.path, src.size) == ("file", image_file, image_file.stat().st_size)
    assert src.scratch_dir is None


def test_download_is_cached(http_server: tuple[str, list[str]], tmp_path: Path) -> None:
    base, requests = http_server
    url = f"{base}/cirros.img"
    cache = tmp_path / "cache"
    first = resolve_source(image_file=None, image_url=url, cache_dir=cache, disk_format="qcow2")
    assert first.origin == "download"
    assert first.path == cache_path(cache, url)
    assert first.path.read_bytes() == (tmp_path / "www" / "cirros.img").read_bytes()
    assert not list(cache.glob("*.part"))
    second = resolve_source(image_file=None, image_url=url, cache_dir=cache, disk_format="qcow2")
    assert second.origin == "cache"
    assert "(cached)" in second.note
    assert requests == ["/cirros.img"]  # fetched once


def test_http_error_falls_back_and_says_why(
    http_server: tuple[str, list[str]], tmp_path: Path
) -> None:
    if QEMU_IMG is None:
        pytest.skip("qemu-img is not installed")
    base, _ = http_server
    src = resolve_source(
        image_file=None, image_url=f"{base}/missing.img", cache_dir=tmp_path / "c",
        disk_format="qcow2",
    )  # fmt: skip
    try:
        assert src.origin == "fallback"
        assert "HTTP 404" in src.note
        assert not cache_path(tmp_path / "c", f"{base}/missing.img").exists()
    finally:
        shutil.rmtree(src.path.parent)


@needs_qemu_img
def test_unreachable_url_builds_a_real_qcow2(tmp_path: Path) -> None:
    src = resolve_source(
        image_file=None, image_url=unreachable_url(), cache_dir=tmp_path / "c", disk_format="qcow2"
    )
    try:
        assert src.origin == "fallback"
        assert "unreachable" in src.note and "qemu-img" in src.note
        assert src.scratch_dir is not None and src.path.parent == src.scratch_dir
        assert QEMU_IMG is not None
        info = json.loads(
            subprocess.run(
                [QEMU_IMG, "info", "--output=json", str(src.path)],
                capture_output=True, text=True, check=True,
            ).stdout
        )  # fmt: skip
        assert info["format"] == "qcow2"
        assert info["virtual-size"] == 32 * 1024 * 1024
        assert 8 * 1024 * 1024 < src.size < 16 * 1024 * 1024  # random data, not empty
    finally:
        shutil.rmtree(src.path.parent)


@needs_qemu_img
def test_two_fallback_images_differ(tmp_path: Path) -> None:
    assert QEMU_IMG is not None
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = build_fallback_image(tmp_path / "a", "qcow2", QEMU_IMG)
    b = build_fallback_image(tmp_path / "b", "qcow2", QEMU_IMG)
    assert a.read_bytes() != b.read_bytes()


def test_no_fallback_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--no-fallback"):
        resolve_source(
            image_file=None, image_url=unreachable_url(), cache_dir=tmp_path, disk_format="qcow2",
            fallback=False,
        )  # fmt: skip


def test_fallback_without_qemu_img_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("glance_verify.source.find_qemu_img", lambda: None)
    with pytest.raises(ConfigError, match="qemu-img is not installed"):
        resolve_source(
            image_file=None, image_url=unreachable_url(), cache_dir=tmp_path, disk_format="qcow2"
        )


def test_fallback_format_must_be_buildable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="iso"):
        build_fallback_image(tmp_path, "iso", "qemu-img")


@pytest.mark.parametrize(
    "url", ["ftp://h/x", "http://", "file:///etc/passwd", "cirros.img", "https:///x"]
)
def test_validate_url_rejects(url: str) -> None:
    with pytest.raises(ConfigError):
        validate_url(url)


def test_cache_path_is_stable_and_distinguishes_urls(tmp_path: Path) -> None:
    a = cache_path(tmp_path, "https://a.example/0.6.3/cirros.img")
    assert a == cache_path(tmp_path, "https://a.example/0.6.3/cirros.img")
    assert a.name.endswith("-cirros.img")
    assert a != cache_path(tmp_path, "https://b.example/0.6.3/cirros.img")
