"""glance-verify --explain-script: the replay script of a run's image steps (pure text;
tests/integration's replay runs it against a real Glance)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from conftest import FakeContext
from glance_verify.replay import REPLAY, replay_script
from glance_verify.runner import run_steps

BASH = "/bin/bash"


def _bash(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BASH, *args], env=env, capture_output=True, text=True, check=False)


def _script(make_context: Callable[..., FakeContext], tmp_path: Path) -> tuple[str, FakeContext]:
    ctx = make_context(visibility="private")
    run = run_steps(ctx)
    assert run.ok
    passed = [r.name for r in run.steps if r.status == "pass"]
    return replay_script(ctx, passed), ctx


def test_the_script_is_valid_bash_that_stops_at_the_first_error(
    make_context: Callable[..., FakeContext], tmp_path: Path
) -> None:
    text, _ = _script(make_context, tmp_path)
    path = tmp_path / "replay.sh"
    path.write_text(text)
    assert _bash("-n", str(path)).returncode == 0
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert "trap cleanup EXIT" in text


def test_the_first_command_captures_the_id_and_later_ones_use_it(
    make_context: Callable[..., FakeContext], tmp_path: Path
) -> None:
    text, ctx = _script(make_context, tmp_path)
    body = text.split("replay_openstack() {", 1)[1].split("\n}\n", 1)[0]
    stripped = [line.strip() for line in body.splitlines()]
    commands = [line for line in stripped if line and not line.startswith("#")]
    # openstack: create and upload in one go (it makes an empty image only from a terminal)
    assert commands[0].startswith("IMAGE_ID=$(openstack image create ")
    assert commands[0].endswith('--file "$IMAGE_FILE" -f value -c id "$NAME")')
    # The run's real id only in comments; never as an argument.
    assert ctx.image_id is not None
    for line in text.splitlines():
        if ctx.image_id in line:
            assert line.strip().startswith("#"), line
    for form in (
        'openstack image set --deactivate "$IMAGE_ID"',
        'openstack image set --activate "$IMAGE_ID"',
        'openstack image add project "$IMAGE_ID" "$MEMBER"',
        'openstack image save --file "$work/$IMAGE_ID.download" "$IMAGE_ID"',
        'openstack image delete "$IMAGE_ID"',
        'openstack image set --private "$IMAGE_ID"',
    ):
        assert form in body, form
    glance = text.split("replay_glance() {", 1)[1].split("\n}\n", 1)[0]
    assert 'IMAGE_ID=$(glance image-create --name "$NAME"' in glance
    for form in (
        'glance image-upload --file "$IMAGE_FILE" "$IMAGE_ID"',
        'glance image-deactivate "$IMAGE_ID"',
        'glance image-reactivate "$IMAGE_ID"',
        'glance member-create "$IMAGE_ID" "$member_id"',
        'glance image-download --file "$work/$IMAGE_ID.download" "$IMAGE_ID"',
        'glance image-delete "$IMAGE_ID"',
    ):
        assert form in glance, form


def test_only_the_steps_given_are_replayed(
    make_context: Callable[..., FakeContext], tmp_path: Path
) -> None:
    ctx = make_context()
    text = replay_script(ctx, ["create-empty", "upload", "delete"])
    assert "image-deactivate" not in text and "--deactivate" not in text
    assert 'glance image-delete "$IMAGE_ID"' in text
    assert set(REPLAY) >= {"create-empty", "upload", "delete"}


def test_the_replay_runs_against_stub_clients(
    make_context: Callable[..., FakeContext], tmp_path: Path
) -> None:
    """The script's own logic (the id captured, checks, cleanup) with stand-in clients that
    print what a real one prints; the real clients replay it in tests/integration."""
    text, _ = _script(make_context, tmp_path)
    script = tmp_path / "replay.sh"
    script.write_text(text)
    data = tmp_path / "data"
    data.write_bytes(b"x" * 100)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    state = tmp_path / "state"
    state.mkdir()
    log = tmp_path / "log"
    # A tiny cloud in files: one image's status, visibility and data.
    (bin_dir / "openstack").write_text(
        f"""#!/bin/bash
echo "openstack $*" >>{log}
s={state}
case "$1 $2" in
  "image create")
    echo 11111111-2222-3333-4444-555555555555; echo active >$s/status; echo private >$s/vis
    cp "${{@: -6:1}}" $s/data ;;
  "image show")
    [[ -e $s/status ]] || exit 1
    case "$*" in
      *"-c status"*) cat $s/status ;;
      *"-c visibility"*) cat $s/vis ;;
      *properties*) echo '{{"properties": {{"glance_verify_check": "'"$(cat $s/prop)"'"}}}}' ;;
    esac ;;
  "image set")
    case "$*" in
      *--deactivate*) echo deactivated >$s/status ;;
      *--activate*) echo active >$s/status ;;
      *--private*) echo private >$s/vis ;;
      *--property*) echo "$4" | cut -d= -f2 >$s/prop ;;
    esac ;;
  "image save") cp $s/data "$4" ;;
  "image delete") rm -f $s/status ;;
  "project create") touch "$s/project-${{@: -1}}"; echo "id-${{@: -1}}" ;;
  "project delete") shift 2; for p in "$@"; do rm "$s/project-$p" || exit 1; done ;;
esac
exit 0
"""
    )
    (bin_dir / "glance").write_text(
        f"""#!/bin/bash
echo "glance $*" >>{log}
s={state}
case "$1" in
  image-create) echo queued >$s/status; echo private >$s/vis
    echo "| id | 11111111-2222-3333-4444-555555555555 |" ;;
  image-upload) cp "$3" $s/data; echo active >$s/status ;;
  image-deactivate) echo deactivated >$s/status ;;
  image-reactivate) echo active >$s/status ;;
  image-update)
    case "$2" in
      --visibility) echo "$3" >$s/vis ;;
      --property) echo "$3" | cut -d= -f2 >$s/prop ;;
    esac ;;
  image-download) cp $s/data "$3" ;;
  image-delete) rm -f $s/status ;;
esac
exit 0
"""
    )
    for tool in ("openstack", "glance"):
        (bin_dir / tool).chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "IMAGE_FILE": str(data), "NAME": "lab"}
    done = _bash(str(script), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok: status = deactivated" in done.stdout
    assert "replay: every command succeeded" in done.stdout
    # Both projects made and removed again.
    assert not list(state.glob("project-*"))
    # A client that fails stops the replay there, with a non-zero status, and what it
    # made is removed all the same.
    glance = bin_dir / "glance"
    glance.write_text(
        glance.read_text().replace("image-deactivate) echo", "image-deactivate) exit 1; echo")
    )
    failed = _bash(str(script), "glance", env=env)
    assert failed.returncode != 0
    assert "ok: status = active" in failed.stdout
    assert "deactivated" not in failed.stdout
    assert "replay: every command succeeded" not in failed.stdout
    assert not (state / "status").exists()
    assert not list(state.glob("project-*"))
