"""tests/tools/secret_scan.py: every form of a leaked secret is found, and named, not shown."""

from __future__ import annotations

import base64
import importlib.util
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

_SPEC = importlib.util.spec_from_file_location(
    "secret_scan", Path(__file__).resolve().parents[1] / "tools" / "secret_scan.py"
)
assert _SPEC is not None and _SPEC.loader is not None
secret_scan = importlib.util.module_from_spec(_SPEC)
sys.modules["secret_scan"] = secret_scan
_SPEC.loader.exec_module(secret_scan)

SECRET = "Xq7pLmN2vR9sT4wY8zA1bC3dE5fG6hJ0"


def leak(tmp_path: Path, text: bytes) -> tuple[int, str]:
    (tmp_path / "logs").mkdir(exist_ok=True)
    (tmp_path / "logs" / "run.log").write_bytes(b"TASK [x]\nok: " + text + b"\n")
    (tmp_path / "pw").write_text(SECRET + "\n")
    argv = ["--secret-file", str(tmp_path / "pw"), "--path", str(tmp_path / "logs")]
    return secret_scan.main(argv), ""


@pytest.mark.parametrize(
    "text",
    [
        SECRET.encode(),
        quote("p@ss " + SECRET, safe="").encode(),
        base64.b64encode(SECRET.encode()),
        base64.b64encode(b"glance:" + SECRET.encode()),  # Basic auth: offset 1 mod 3
        base64.b64encode(b"admin:" + SECRET.encode()),  # offset 0
        base64.b64encode(b"user:" + SECRET.encode()),  # offset 2
        base64.urlsafe_b64encode(b"\xff\xfe" + SECRET.encode()),
        SECRET.encode().hex().encode(),
        SECRET.encode().hex().upper().encode(),
    ],
    ids=["raw", "url", "b64", "b64-1", "b64-0", "b64-2", "b64-urlsafe", "hex", "HEX"],
)
def test_each_form_is_found_and_named_not_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: bytes
) -> None:
    code, _ = leak(tmp_path, text)
    out = capsys.readouterr().out
    assert code == 1
    assert "FOUND pw (" in out and str(tmp_path / "logs" / "run.log") in out
    assert SECRET not in out


def test_clean_files_pass_and_excludes_are_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = leak(tmp_path, b"nothing here " + SECRET[:10].encode())
    assert code == 0
    (tmp_path / "logs" / "kept").mkdir()
    (tmp_path / "logs" / "kept" / "pw").write_text(SECRET)
    argv = ["--secret-file", str(tmp_path / "pw"), "--path", str(tmp_path / "logs"),
            "--exclude", str(tmp_path / "logs" / "kept")]  # fmt: skip
    assert secret_scan.main(argv) == 0
    assert "0 findings" in capsys.readouterr().out


def test_secret_lines_and_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "log").write_text("temp user password: " + "t" * 32)
    (tmp_path / "verify-secrets").write_text("a" * 32 + "\n" + "t" * 32 + "\n")
    argv = ["--secret-lines", str(tmp_path / "verify-secrets"), "--path", str(tmp_path / "log")]
    assert secret_scan.main(argv) == 1
    assert "FOUND verify-secrets:2 (raw)" in capsys.readouterr().out
    (tmp_path / "short").write_text("abc")
    assert (
        secret_scan.main(["--secret-file", str(tmp_path / "short"), "--path", str(tmp_path)]) == 2
    )
    assert (
        secret_scan.main(["--secret-lines", str(tmp_path / "none"), "--path", str(tmp_path)]) == 2
    )
    assert secret_scan.main(["--secret-file", str(tmp_path / "gone"), "--path", str(tmp_path)]) == 2
