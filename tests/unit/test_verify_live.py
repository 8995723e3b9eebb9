"""Against a live Glance, only when asked: GLANCE_VERIFY_LIVE_CLOUD names the cloud.

    GLANCE_VERIFY_LIVE_CLOUD=glance-lab-admin \\
    OS_CLIENT_CONFIG_FILE=~/.glance-lab/aio/clouds.yaml \\
    GLANCE_VERIFY_DB_URL=mysql+pymysql://glance:PASS@127.0.0.1/glance \\
    GLANCE_VERIFY_LIVE_STORE_PATH=/var/lib/glance/images \\
        .venv/bin/pytest tests/unit/test_verify_live.py

The DB URL and the store path are optional; the tampered-store test needs the store
path writable (root on an all-in-one lab host) and only ever touches its own image.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest

from glance_verify.cli import main
from glance_verify.cloud import GlanceApi, connect
from glance_verify.context import Context
from glance_verify.options import Options
from glance_verify.plan import STEPS, Step
from glance_verify.runner import run_steps

CLOUD = os.environ.get("GLANCE_VERIFY_LIVE_CLOUD")
STORE = os.environ.get("GLANCE_VERIFY_LIVE_STORE_PATH")

pytestmark = pytest.mark.skipif(
    not CLOUD, reason="live Glance tests: set GLANCE_VERIFY_LIVE_CLOUD (see module docstring)"
)


def store_args() -> list[str]:
    return ["--store-path", STORE] if STORE else []


def test_live_full_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert CLOUD is not None
    report = tmp_path / "report.json"
    code = main(["--os-cloud", CLOUD, "--json", str(report), *store_args()])
    out = capsys.readouterr().out
    assert code == 0, out
    data = json.loads(report.read_text())
    assert data["result"] == "pass"
    assert {s["name"] for s in data["steps"] if s["status"] == "pass"} >= {
        "create-empty", "upload", "list-show", "set-property", "deactivate", "reactivate",
        "share", "download", "delete",
    }  # fmt: skip
    assert out.splitlines()[-1] == f"{data['passed']} passed, 0 failed"


def test_live_wrong_expected_hash_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert CLOUD is not None
    wrong = "sha512:" + "0" * 128
    code = main(["--os-cloud", CLOUD, "--expect-hash", wrong, "--skip", "share,deactivate"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL  expected-hash" in out
    assert out.splitlines()[-1].endswith(" passed, 1 failed")


@pytest.mark.skipif(
    not (STORE and os.access(STORE, os.W_OK)),
    reason="needs a writable GLANCE_VERIFY_LIVE_STORE_PATH",
)
def test_live_tampered_store_file_fails_download(tmp_path: Path) -> None:
    """Flip bytes of the stored image file behind Glance's back: download must fail."""
    assert CLOUD is not None and STORE is not None
    conn = connect(argparse.Namespace(os_cloud=CLOUD))
    api = GlanceApi(conn)
    opts = Options(
        cloud=CLOUD,
        cache_dir=tmp_path,
        store_path=Path(STORE),
        skip=frozenset({"share", "deactivate", "list-show", "set-property"}),
    )
    ctx = Context(opts, conn, api)

    def tamper(c: Context) -> str:
        path = Path(STORE) / c.image
        with path.open("r+b") as handle:
            handle.seek(4096)
            byte = handle.read(1)
            handle.seek(4096)
            handle.write(bytes([byte[0] ^ 0xFF]))
        return f"flipped one byte of {path}"

    steps: list[Step] = []
    for step in STEPS:
        steps.append(step)
        if step.name == "store-file":
            steps.append(Step("tamper", "test only", tamper, requires=("store-file",)))
    run = run_steps(ctx, steps)
    results = {r.name: r for r in run.steps}
    assert results["tamper"].status == "pass"
    assert results["download"].status == "fail"
    detail = results["download"].detail
    assert f"image {ctx.image}: downloaded data md5" in detail, detail
    assert f"image {ctx.image}: downloaded data sha512" in detail, detail
    assert results["delete"].status == "pass"
    assert not run.ok and run.cleanup_ok
    assert api.get_image(ctx.image) is None
