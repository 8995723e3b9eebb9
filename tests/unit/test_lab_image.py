"""glance-lab-image: the verifier's fallback image written to a file to keep (real qemu-img)."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest

from glance_verify.console import Console
from glance_verify.lab_image import main
from glance_verify.source import find_qemu_img

QEMU_IMG = find_qemu_img()
needs_qemu_img = pytest.mark.skipif(QEMU_IMG is None, reason="qemu-img is not installed")


def _console() -> tuple[Console, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Console("glance-lab-image", out=out, err=err), out, err


@needs_qemu_img
def test_writes_a_qcow2_image_readable_by_all_and_no_scratch(tmp_path: Path) -> None:
    assert QEMU_IMG is not None
    target = tmp_path / "lab.qcow2"
    console, out, _ = _console()
    assert main([str(target)], console) == 0
    info = json.loads(
        subprocess.run(
            [QEMU_IMG, "info", "--output=json", str(target)], capture_output=True, check=True
        ).stdout
    )
    assert info["format"] == "qcow2"
    assert info["virtual-size"] == 32 * 1024 * 1024
    assert target.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["lab.qcow2"]
    assert f"{target}: qcow2 fallback image" in out.getvalue()


@needs_qemu_img
def test_two_images_differ(tmp_path: Path) -> None:
    """Random data: a rebuilt image is a changed source (the playbooks build it once)."""
    console, _, _ = _console()
    assert main([str(tmp_path / "a.raw"), "--disk-format", "raw"], console) == 0
    assert main([str(tmp_path / "b.raw"), "--disk-format", "raw"], console) == 0
    assert (tmp_path / "a.raw").read_bytes() != (tmp_path / "b.raw").read_bytes()


def test_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    console, _, err = _console()
    assert main([str(tmp_path / "nowhere" / "lab.qcow2")], console) == 2
    assert "no such directory" in err.getvalue()


def test_unknown_disk_format_is_a_usage_error(tmp_path: Path) -> None:
    console, _, err = _console()
    assert main([str(tmp_path / "lab.iso"), "--disk-format", "iso"], console) == 2
    assert "invalid choice" in err.getvalue()
