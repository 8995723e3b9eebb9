"""library/lab_files.py, run the way Ansible runs it: a python process fed its arguments.

The module writes real files under tmp_path; ownership changes need root (the CI
machines are root) and are skipped otherwise.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

MODULE = Path(__file__).resolve().parents[2] / "library" / "lab_files.py"
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")


def run(tmp_path: Path, check: bool = False, diff: bool = False, **args: Any) -> dict[str, Any]:
    argfile = tmp_path / "args.json"
    argfile.write_text(
        json.dumps(
            {"ANSIBLE_MODULE_ARGS": {**args, "_ansible_check_mode": check, "_ansible_diff": diff}}
        )
    )
    proc = subprocess.run(
        [sys.executable, str(MODULE), str(argfile)], capture_output=True, text=True, check=False
    )
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def mode(path: Path) -> str:
    return f"{stat.S_IMODE(path.stat().st_mode):04o}"


def owner(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_uid, st.st_gid


def layout(tmp_path: Path) -> dict[str, Any]:
    conf = tmp_path / "etc" / "svc"
    return {
        "directories": [{"path": str(conf), "mode": "0750"}],
        "files": [
            {
                "dest": str(conf / "svc.conf"),
                "content": "[db]\npassword = s3cret\n",
                "mode": "0640",
            },
            {"dest": str(conf / "extra"), "content": "x = 1\n", "mode": "0644"},
        ],
    }


def test_creates_then_reports_no_change(tmp_path: Path) -> None:
    args = layout(tmp_path)
    first = run(tmp_path, **args)
    conf = tmp_path / "etc" / "svc"
    assert first["changed"] is True, first
    assert first["changed_paths"] == [str(conf), str(conf / "svc.conf"), str(conf / "extra")]
    assert (conf / "svc.conf").read_text() == "[db]\npassword = s3cret\n"
    assert (mode(conf), mode(conf / "svc.conf"), mode(conf / "extra")) == ("0750", "0640", "0644")
    # No temporary file left beside the written ones.
    assert sorted(p.name for p in conf.iterdir()) == ["extra", "svc.conf"]

    second = run(tmp_path, **args)
    assert second["changed"] is False, second
    assert second["changed_paths"] == []


def test_repairs_content_and_mode_and_reports_only_those(tmp_path: Path) -> None:
    args = layout(tmp_path)
    run(tmp_path, **args)
    conf = tmp_path / "etc" / "svc"
    (conf / "svc.conf").write_text("[db]\npassword = s3cret\nbind_host = 0.0.0.0\n")
    (conf / "extra").chmod(0o600)

    result = run(tmp_path, **args)
    assert result["changed"] is True
    assert result["changed_paths"] == [str(conf / "svc.conf"), str(conf / "extra")]
    assert (conf / "svc.conf").read_text() == "[db]\npassword = s3cret\n"
    assert mode(conf / "extra") == "0644"
    # A rewritten file keeps the wanted mode, not the old file's or the umask's.
    assert mode(conf / "svc.conf") == "0640"


def test_check_mode_reports_and_changes_nothing(tmp_path: Path) -> None:
    args = layout(tmp_path)
    result = run(tmp_path, check=True, diff=True, **args)
    conf = tmp_path / "etc" / "svc"
    assert result["changed"] is True
    assert str(conf / "svc.conf") in result["changed_paths"]
    assert not conf.exists()
    after = [d.get("after") for d in result["diff"]]
    assert "[db]\npassword = s3cret\n" in after

    run(tmp_path, **args)
    (conf / "extra").write_text("x = 2\n")
    conf.chmod(0o700)
    result = run(tmp_path, check=True, diff=True, **args)
    assert result["changed_paths"] == [str(conf), str(conf / "extra")]
    assert (conf / "extra").read_text() == "x = 2\n"
    assert mode(conf) == "0700"
    content_diff = next(d for d in result["diff"] if d.get("after_header") == str(conf / "extra"))
    assert (content_diff["before"], content_diff["after"]) == ("x = 2\n", "x = 1\n")


@ROOT_ONLY
def test_owner_and_group_are_set_and_repaired(tmp_path: Path) -> None:
    nobody = pwd.getpwnam("nobody").pw_uid
    nogroup = grp.getgrnam("nogroup").gr_gid
    args = layout(tmp_path)
    args["directories"][0].update(owner="nobody", group="nogroup")
    args["files"][0].update(owner="root", group="nogroup")
    run(tmp_path, **args)
    conf = tmp_path / "etc" / "svc"
    assert owner(conf) == (nobody, nogroup)
    assert owner(conf / "svc.conf") == (0, nogroup)

    os.chown(conf, 0, 0)
    result = run(tmp_path, **args)
    assert result["changed_paths"] == [str(conf)]
    assert owner(conf) == (nobody, nogroup)


def test_absent_removes_files_only(tmp_path: Path) -> None:
    cron = tmp_path / "cron-entry"
    cron.write_text("* * * * * root true\n")
    result = run(tmp_path, absent=[str(cron)])
    assert result["changed_paths"] == [str(cron)]
    assert not cron.exists()
    assert run(tmp_path, absent=[str(cron)])["changed"] is False

    result = run(tmp_path, absent=[str(tmp_path)])
    assert result.get("failed") is True
    assert "is a directory" in result["msg"]
    assert tmp_path.is_dir()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mode": "640x"}, "mode is '640x': give an octal mode as a string"),
        ({"owner": "no-such-user-here"}, "owner 'no-such-user-here' does not exist"),
        ({"dest": "relative/path"}, "'relative/path' is not an absolute path"),
        ({"dest": "/nonexistent-dir/x.conf"}, "directory /nonexistent-dir does not exist"),
    ],
)
def test_bad_input_fails_before_writing(
    tmp_path: Path, change: dict[str, str], message: str
) -> None:
    good = {"dest": str(tmp_path / "ok.conf"), "content": "a\n", "mode": "0600"}
    bad = {"dest": str(tmp_path / "bad.conf"), "content": "b\n", "mode": "0600", **change}
    result = run(tmp_path, files=[good, bad])
    assert result.get("failed") is True, result
    assert message in result["msg"]
    assert not (tmp_path / "ok.conf").exists()


def test_check_mode_allows_what_packages_of_the_same_run_would_create(tmp_path: Path) -> None:
    """A fresh host in check mode: no /etc/glance yet, no glance user yet."""
    dest = tmp_path / "not-yet" / "glance-api.conf"
    spec = {"dest": str(dest), "content": "x\n", "mode": "0640", "group": "no-such-group-here"}
    result = run(tmp_path, check=True, files=[spec])
    assert result.get("failed") is not True, result
    assert result["changed_paths"] == [str(dest)]
    assert not dest.parent.exists()
    # Without check mode the same input is refused, before anything is written.
    result = run(tmp_path, files=[spec])
    assert result.get("failed") is True
    assert "does not exist" in result["msg"]
