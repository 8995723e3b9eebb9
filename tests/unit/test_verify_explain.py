"""glance-verify --explain: the command lines of each step, with the run's real ids."""

from __future__ import annotations

import io
import shlex
from collections.abc import Callable
from pathlib import Path

from conftest import FakeContext
from glance_verify.cli import _show_step
from glance_verify.console import Console
from glance_verify.explain import EXPLAIN, STDIN_NOTE, explain_lines
from glance_verify.plan import STEPS
from glance_verify.runner import run_steps


def _explained(make_context: Callable[..., FakeContext], tmp_path: Path) -> dict[str, list[str]]:
    store = tmp_path / "store"
    store.mkdir()
    ctx = make_context(store_path=store, visibility="private")
    ctx.glance.store_dir = store
    lines: dict[str, list[str]] = {}
    run = run_steps(ctx, on_result=lambda r: lines.update({r.name: explain_lines(r.name, ctx)}))
    assert run.ok
    assert ctx.owner_user is not None and ctx.share_user is not None
    lines["_ids"] = [
        str(ctx.image_id), str(ctx.image_name), ctx.owner_user.name,
        ctx.share_user.name, str(ctx.source.path if ctx.source else ""),
    ]  # fmt: skip
    return lines


def test_each_step_gives_both_clients_commands_with_the_real_ids(
    make_context: Callable[..., FakeContext], tmp_path: Path
) -> None:
    got = _explained(make_context, tmp_path)
    image, name, owner, member, path = got.pop("_ids")
    assert got["create-empty"] == [
        STDIN_NOTE,
        f"openstack image create --disk-format qcow2 --container-format bare --private {name}",
        f"glance image-create --name {name} --disk-format qcow2 --container-format bare "
        "--visibility private",
    ]
    assert f"glance image-upload --file {path} --progress {image}" in got["upload"]
    assert got["deactivate"][-2:] == [
        f"openstack image set --deactivate {image}",
        f"glance image-deactivate {image}",
    ]
    owner_name = "glance-verify-test-owner"
    assert owner == owner_name
    assert f"openstack project create {owner_name}" in got["deactivate"]
    assert f"openstack image set --project {owner_name} {image}" in got["deactivate"]
    assert (
        f'glance image-update --owner "$(openstack project show -f value -c id {owner_name})" '
        f"{image}"
    ) in got["deactivate"]
    assert got["reactivate"] == [
        f"openstack image set --activate {image}",
        f"glance image-reactivate {image}",
    ]
    share = got["share"]
    for line in (
        f"openstack project create {member}",
        f"openstack image add project {image} {member}",
        f'glance member-create {image} "$(openstack project show -f value -c id {member})"',
        f"openstack image set --private {image}",  # the visibility asked for, back
    ):
        assert line in share
    assert got["download"][:2] == [
        f"openstack image save --file {image}.download {image}",
        f"glance image-download --file {image}.download --progress {image}",
    ]
    assert got["delete"] == [f"openstack image delete {image}", f"glance image-delete {image}"]
    assert got["store-file"] == [f"ls -l {tmp_path}/store/{image}"]
    # Steps without a command-line equivalent print nothing.
    assert got["source"] == []
    # Every command line parses as a shell line; every lifecycle step that ran has both
    # clients (or says why one is missing).
    for step, lines in got.items():
        for line in lines:
            if not line.startswith("#"):
                assert shlex.split(line)
        tools = {line.split()[0] for line in lines if not line.startswith("#")}
        if step in ("create-empty", "list-show", "set-property", "deactivate", "reactivate",
                    "share", "download", "delete"):  # fmt: skip
            assert {"openstack", "glance"} <= tools, step


def test_names_with_spaces_are_quoted(
    make_context: Callable[..., FakeContext], tmp_path: Path
) -> None:
    ctx = make_context(store_path=tmp_path)
    ctx.image_id, ctx.image_name = "abc", "lab image; rm -rf /"
    assert explain_lines("create-empty", ctx)[1].endswith("--public 'lab image; rm -rf /'")


def test_explained_steps_are_steps() -> None:
    names = {s.name for s in STEPS}
    assert set(EXPLAIN) <= names


def test_explain_prints_under_each_step_that_ran(
    make_context: Callable[..., FakeContext], tmp_path: Path
) -> None:
    ctx = make_context(explain=True)
    out = io.StringIO()
    console = Console("glance-verify", out=out)
    run_steps(ctx, on_result=lambda result: _show_step(console, result, ctx))
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("PASS  reactivate "))
    assert lines[start + 1 : start + 3] == [
        f"      openstack image set --activate {ctx.image_id}",
        f"      glance image-reactivate {ctx.image_id}",
    ]
    # A skipped step explains nothing: the next line is the next step's.
    skipped = next(i for i, line in enumerate(lines) if line.startswith("SKIP  db-row "))
    assert lines[skipped + 1].startswith(("PASS", "SKIP", "FAIL"))


def test_without_explain_only_the_step_lines(
    make_context: Callable[..., FakeContext],
) -> None:
    ctx = make_context()
    out = io.StringIO()
    console = Console("glance-verify", out=out)
    run_steps(ctx, on_result=lambda result: _show_step(console, result, ctx))
    assert all(line[:4] in ("PASS", "SKIP", "FAIL") for line in out.getvalue().splitlines())
