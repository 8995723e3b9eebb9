"""glance-verify --config FILE (the glance role's settings file), --require-enabled,
-f json / --json -, openstacksdk's --os-* options, and the one name-prefix rule."""

from __future__ import annotations

import argparse
import copy
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from types import SimpleNamespace
from typing import Any

import pytest

from conftest import FakeContext, FakeGlance
from glance_verify import cli, ledger
from glance_verify.cloud import cloud_region, user_connection
from glance_verify.console import Console
from glance_verify.errors import CheckFailed
from glance_verify.imports import ImportFilters
from glance_verify.lifecycle import step_release
from glance_verify.options import Backend, Options
from glance_verify.plan import STEPS, enabled_steps
from glance_verify.report import exit_code, to_dict, to_junit
from glance_verify.runner import RunResult, StepResult, run_steps

pytestmark = pytest.mark.usefixtures("no_ambient_cloud")

LIFECYCLE = ["release", "source", "create-empty", "upload", "list-show", "set-property",
             "deactivate", "reactivate", "share", "download", "delete"]  # fmt: skip

EXAMPLE: dict[str, Any] = {
    "format": 1,
    "release": {"debian": "13", "openstack": "2025.1"},
    "api_url": "http://127.0.0.1:9292",
    "single_store": {"stores": ["file", "http"], "default": "file", "file_dir": "/unused/"},
    "backends": [
        {"name": "fast", "type": "file", "path": "/srv/fast/", "default": True},
        {"name": "web", "type": "http", "path": None, "default": False},
    ],
    "staging_dir": "/var/lib/glance/staging/",
    "image_cache": {"enabled": True, "dir": "/var/lib/glance/image-cache/"},
    "quota": "64MB",
    "keystone_limits": {"image_size_total": 100, "image_count_total": 20},
    "database": {"host": "127.0.0.1", "name": "glance", "user": "glance"},
}


def write_config(tmp_path: Path, data: object, name: str = "glance-verify.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def glance_root(tmp_path: Path) -> Path:
    """The Glance host's / as mounted here, with the example's directories."""
    root = tmp_path / "root"
    for sub in ("srv/fast", "var/lib/glance/image-cache"):
        (root / sub).mkdir(parents=True)
    return root


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- the file ---------------------------------------------------------------------------------


def test_a_good_file_gives_what_the_flags_would(tmp_path: Path) -> None:
    path = write_config(tmp_path, EXAMPLE)
    opts = cli.parse_args(["--config", str(path)])
    assert opts.config_path == path
    assert opts.expect_release == ("13", "2025.1")
    # Only file backends become --backend NAME=DIR; the default one is --default-backend.
    assert opts.backends == (Backend("fast", PurePosixPath("/srv/fast")),)
    assert opts.default_backend == "fast"
    assert (opts.quota, opts.quota_text) == (64 * 1024**2, "64MB")
    assert opts.keystone_limits
    assert opts.keystone_limit_expect == (("image_count_total", 20), ("image_size_total", 100))
    assert opts.image_cache
    assert opts.db_url is not None
    assert (opts.db_url.user, opts.db_url.host, opts.db_url.database) == (
        "glance",
        "127.0.0.1",
        "glance",
    )
    # No --local-stores or --host-root: the file's directories are not looked at.
    assert opts.store_path is None and opts.image_cache_dir is None
    assert opts.local_stores is False


def test_features_off_in_the_file_stay_off(tmp_path: Path) -> None:
    single = {"stores": ["file"], "default": "file", "file_dir": str(tmp_path)}
    off = {"format": 1, "backends": [], "quota": "0", "keystone_limits": {},
           "image_cache": {"enabled": False, "dir": None}, "single_store": single}  # fmt: skip
    opts = cli.parse_args(["--config", str(write_config(tmp_path, off)), "--local-stores"])
    assert (opts.backends, opts.default_backend, opts.quota) == ((), None, None)
    assert not opts.keystone_limits and not opts.image_cache and opts.db_url is None
    # Single-store mode with the file store as default: its directory is the store path.
    assert opts.store_path == tmp_path


def test_the_file_password_comes_from_db_password_file(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cr3t\n")
    path = write_config(tmp_path, EXAMPLE)
    opts = cli.parse_args(["--config", str(path), "--db-password-file", str(secret)])
    assert opts.db_url is not None and opts.db_url.password == "s3cr3t"
    assert (opts.db_url.user, opts.db_url.host, opts.db_url.database) == (
        "glance",
        "127.0.0.1",
        "glance",
    )


def _without(key: str) -> dict[str, Any]:
    data = copy.deepcopy(EXAMPLE)
    del data[key]
    return data


def _with(path: tuple[Any, ...], value: object) -> dict[str, Any]:
    data = copy.deepcopy(EXAMPLE)
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        ("{not json", ["not valid JSON", "line 1"]),
        ([1, 2], ["expected a JSON object"]),
        (_without("format"), ["format: missing"]),
        (_with(("format",), 2), ["format: 2", "format 1"]),
        (_with(("colour",), "blue"), ["colour: unknown key"]),
        (_with(("image_cache", "size"), 5), ["image_cache.size: unknown key"]),
        (_with(("backends", 1, "flavour"), "x"), ["backends[1].flavour: unknown key"]),
        (_with(("keystone_limits", "image_bogus"), 1), ["keystone_limits.image_bogus"]),
        (_with(("quota",), ["64MB"]), ["quota: expected a string or a whole number, got a list"]),
        (_with(("backends", 0, "default"), "yes"), ["backends[0].default: expected true or false"]),
        (_with(("keystone_limits", "image_size_total"), True), ["expected a whole number"]),
        (_with(("database",), {"host": "h", "name": "glance"}), ["database.user: missing"]),
        (_with(("release",), "13"), ["release: expected an object, got a string"]),
        (_with(("backends", 1, "default"), True), ["backends: exactly one"]),
    ],
)  # fmt: skip
def test_a_bad_file_is_exit_2_naming_the_file_and_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: object, needles: list[str]
) -> None:
    path = write_config(tmp_path, content)
    code, out, err = run_main(capsys, "--config", str(path))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"glance-verify: error: --config {path}: ")
    for needle in needles:
        assert needle in lines[0]


def test_a_missing_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(capsys, "--config", str(tmp_path / "absent.json"))
    assert code == 2
    assert f"--config {tmp_path / 'absent.json'}: no such file" in err


def test_flags_win_over_the_file(tmp_path: Path) -> None:
    cache = tmp_path / "cache-here"
    cache.mkdir()
    store = tmp_path / "store-here"
    store.mkdir()
    path = write_config(tmp_path, EXAMPLE)
    opts = cli.parse_args([
        "--config", str(path), "--quota", "1GB", "--backend", "slow=/srv/slow",
        "--default-backend", "slow", "--keystone-limit", "image_size_total=7",
        "--image-cache-dir", str(cache), "--store-path", str(store),
        "--db-url", "mysql+pymysql://other@db/g2",
    ])  # fmt: skip
    assert opts.quota_text == "1GB"
    assert opts.backends == (Backend("slow", PurePosixPath("/srv/slow")),)
    assert opts.default_backend == "slow"
    assert opts.keystone_limit_expect == (("image_size_total", 7),)
    assert opts.image_cache_dir == cache and opts.store_path == store
    assert opts.db_url is not None and (opts.db_url.user, opts.db_url.database) == ("other", "g2")


def test_with_host_root_the_files_directories_are_looked_at(tmp_path: Path) -> None:
    root = glance_root(tmp_path)
    path = write_config(tmp_path, EXAMPLE)
    opts = cli.parse_args(["--config", str(path), "--host-root", str(root)])
    # The default backend's directory is where the main upload lands.
    assert opts.store_path == root / "srv/fast"
    assert opts.image_cache_dir == root / "var/lib/glance/image-cache"
    # ... and the backends' own files are checked (as --local-stores does).
    assert opts.local_stores is True


def test_with_local_stores_a_missing_directory_is_exit_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _with(("image_cache", "dir"), str(tmp_path / "no-such-cache"))
    data["backends"] = []
    data["single_store"]["file_dir"] = str(tmp_path)
    path = write_config(tmp_path, data)
    code, _, err = run_main(capsys, "--config", str(path), "--local-stores")
    assert code == 2
    assert f"--config {path}: image_cache.dir {tmp_path / 'no-such-cache'}: not a directory" in err


# --- the release the file names -------------------------------------------------------------


def test_release_step_fails_when_the_file_names_another_release(
    make_context: Callable[..., FakeContext], tmp_path: Path
) -> None:
    # The fake Glance serves v2.15 as CURRENT: Zed, Debian 12.
    ctx = make_context(expect_release=("13", "2025.1"), config_path=tmp_path / "c.json")
    with pytest.raises(CheckFailed) as exc:
        step_release(ctx)
    text = str(exc.value)
    assert f"--config {tmp_path / 'c.json'} says release OpenStack 2025.1 on Debian 13" in text
    assert "v2.15: Zed (Debian 12)" in text
    agreed = make_context(expect_release=("12", "zed"), config_path=tmp_path / "c.json")
    assert "as --config" in step_release(agreed)


# --- --require-enabled ----------------------------------------------------------------------


def test_enabled_steps_mirror_the_playbooks_rule(tmp_path: Path) -> None:
    plain = Options()
    assert list(enabled_steps(plain)) == LIFECYCLE
    full = Options(
        store_path=tmp_path, db_url=object(),  # type: ignore[arg-type]
        backends=(Backend("fast"), Backend("slow")), default_backend="fast", quota=1,
        keystone_limits=True, image_cache=True, http_url="http://x/i",
        api_nodes=("http://10.0.0.21:9292",),
        import_methods=("glance-direct", "web-download", "copy-image"),
        import_filters=ImportFilters(allowed_hosts=("127.0.0.1",), allowed_ports=(8089,)),
        metadefs=True,
    )  # fmt: skip
    # A file store or an rbd store, never both: store-rbd has its own tests.
    assert set(enabled_steps(full)) == {s.name for s in STEPS} - {"expected-hash", "store-rbd"}
    # --keep: no delete, so no db-row and no store-file-gone either.
    kept = Options(store_path=tmp_path, db_url=object(), keep=True)  # type: ignore[arg-type]
    assert {"delete", "db-row", "store-file-gone"}.isdisjoint(enabled_steps(kept))
    assert "store-file" in enabled_steps(kept)
    # --skip: that step, and the steps that need it.
    skipped = Options(store_path=tmp_path, skip=frozenset({"store-file", "share"}))
    names = enabled_steps(skipped)
    assert "share" not in names and "store-file" not in names
    assert "store-file-gone" not in names and "download" in names


def _run(*results: StepResult, required: tuple[str, ...]) -> RunResult:
    return RunResult(
        steps=list(results), cleanup=[], started=datetime.now(UTC), duration=0.1,
        required=required,
    )  # fmt: skip


def test_a_required_step_that_was_skipped_fails_the_run() -> None:
    ok = StepResult("upload", "pass", 0.1, "fine")
    skipped = StepResult("quota", "skip", 0.0, "needs source (failed)")
    assert exit_code(_run(ok, skipped, required=())) == 0
    run = _run(ok, skipped, required=("upload", "quota"))
    assert exit_code(run) == 1
    report = to_dict(run, Options(require_enabled=True))
    assert report["result"] == "fail"
    assert report["required_steps"] == ["upload", "quota"]
    assert report["unmet_required"] == ["quota"]
    failure = to_junit(run, Options()).getroot().find(".//testcase[@name='quota']/failure")
    assert failure is not None and "required (--require-enabled)" in failure.get("message", "")


def test_run_steps_requires_the_enabled_steps(
    make_context: Callable[..., FakeContext], tmp_path: Path
) -> None:
    store = tmp_path / "store"
    store.mkdir()
    # The fake Glance keeps no files, so store-file fails and store-file-gone is skipped.
    ctx = make_context(store_path=store, require_enabled=True)
    run = run_steps(ctx)
    assert "store-file-gone" in run.required
    assert [r.name for r in run.unmet] == ["store-file-gone"]
    loose = run_steps(make_context(store_path=store))
    assert loose.required == () and loose.unmet == []


# --- the JSON report on stdout, the SDK's options, the name prefix --------------------------


@pytest.fixture
def fake_cloud(
    monkeypatch: pytest.MonkeyPatch, fake_glance: FakeGlance
) -> list[argparse.Namespace | None]:
    """main() runs against the fake Glance; what it passed to connect() is recorded."""
    given: list[argparse.Namespace | None] = []

    def connect(options: argparse.Namespace | None) -> Any:
        given.append(options)
        return SimpleNamespace(image=SimpleNamespace(get_endpoint=lambda: "http://fake:9292"))

    def context(opts: Options, conn: Any, api: Any, **kwargs: Any) -> FakeContext:
        ctx = FakeContext(opts, conn, api, **kwargs)
        ctx.glance, ctx.created_users = fake_glance, []
        return ctx

    monkeypatch.setattr(cli, "connect", connect)
    monkeypatch.setattr(cli, "GlanceApi", lambda conn: fake_glance.view())
    monkeypatch.setattr(cli, "Context", context)
    return given


@pytest.mark.parametrize("flags", [["-f", "json"], ["--format", "json"], ["--json", "-"]])
def test_json_report_on_stdout_and_progress_on_stderr(
    fake_cloud: list[argparse.Namespace | None],
    image_file: Path,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
) -> None:
    code, out, err = run_main(capsys, "--image-file", str(image_file), *flags)
    assert code == 0, err
    report = json.loads(out)
    assert report["result"] == "pass" and report["tool"] == "glance-verify"
    assert "PASS  upload" in err and "passed, 0 failed" in err


def test_os_options_reach_the_connection(
    fake_cloud: list[argparse.Namespace | None],
    image_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run_main(
        capsys, "--image-file", str(image_file), "--os-cloud", "lab", "--os-region-name", "R2",
        "--os-interface", "internal", "--os-cacert", "/etc/ca.pem", "--insecure",
        "--timeout", "60",
    )  # fmt: skip
    assert code == 0, err
    assert fake_cloud == [
        argparse.Namespace(
            insecure=True, os_cacert="/etc/ca.pem", os_cloud="lab", os_interface="internal",
            os_region_name="R2",
        )
    ]  # fmt: skip
    # (--timeout is glance-verify's own, not the SDK's: it is not passed on.)


def test_the_sdk_applies_the_os_options_over_clouds_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(
        "clouds:\n  lab:\n    auth: {auth_url: 'http://127.0.0.1:1/v3', username: a,"
        " password: b, project_name: c}\n    region_name: R1\n    interface: public\n"
    )
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
    opts = cli.parse_args(["--os-cloud", "lab", "--os-interface", "internal", "--insecure"])
    region = cloud_region(argparse.Namespace(**dict(opts.cloud_args)))
    assert region.get_interface("image") == "internal"
    assert region.get_region_name("image") == "R1"  # clouds.yaml's, not hidden by a default
    assert region.get_requests_verify_args()[0] is False
    plain_opts = cli.parse_args(["--os-cloud", "lab"])
    plain = cloud_region(argparse.Namespace(**dict(plain_opts.cloud_args)))
    assert plain.get_interface("image") == "public"


@pytest.mark.parametrize("prefix", ["", "-dash", "has space", "x" * 41, "ünï"])
def test_one_name_prefix_rule_for_both_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], prefix: str
) -> None:
    code, _, err = run_main(capsys, f"--name-prefix={prefix}")
    assert code == 2 and f"--name-prefix {prefix!r}: use up to 40 letters" in err
    err_stream = io.StringIO()
    con = Console("glance-ledger", out=io.StringIO(), err=err_stream)
    code = ledger.main(
        ["record", "--out", str(tmp_path / "l.json"), f"--name-prefix={prefix}"], con
    )
    assert code == 2 and f"--name-prefix {prefix!r}: use up to 40 letters" in err_stream.getvalue()


def test_a_temporary_user_connection_keeps_the_admin_s_settings_but_not_its_cloud_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The admin's config names its cloud (--os-cloud); a temporary user's connection is
    built from that config without clouds.yaml, so the name must not send the SDK
    looking for it there (it failed the deactivate and share steps: "Cloud ... was not
    found")."""
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(
        "clouds:\n  lab:\n    auth: {auth_url: 'http://127.0.0.1:1/v3', username: a,"
        " password: b, project_name: c}\n    region_name: R1\n    interface: internal\n"
    )
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
    opts = cli.parse_args(["--os-cloud", "lab"])
    region = cloud_region(argparse.Namespace(**dict(opts.cloud_args)))
    assert region.config.get("cloud") == "lab"  # what made the SDK look it up
    admin = SimpleNamespace(config=region, session=SimpleNamespace(auth=None))
    conn = user_connection(admin, user_id="u1", password="pw", project_id="p1")
    assert conn.config.get_region_name("image") == "R1"
    assert conn.config.get_interface("image") == "internal"
    assert conn.config.config["auth"]["user_id"] == "u1"


def test_metadefs_dir_turns_the_catalog_step_on(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"format": 1, "metadefs_dir": "/etc/glance/metadefs"})
    # The files are not here: the step expects the standard namespaces.
    opts = cli.parse_args(["--config", str(path)])
    assert opts.metadefs is True and opts.metadefs_path is None
    root = tmp_path / "root"
    (root / "etc/glance/metadefs").mkdir(parents=True)
    opts = cli.parse_args(["--config", str(path), "--host-root", str(root)])
    assert opts.metadefs_path == root / "etc/glance/metadefs"
    assert cli.parse_args(["--metadefs"]).metadefs is True
    assert cli.parse_args([]).metadefs is False
