"""Argument handling and exit codes: bad input gets one clear line and exit 2, no traceback."""

from __future__ import annotations

import io
import socket
import string
from pathlib import Path, PurePosixPath

import pytest

from glance_verify import __version__
from glance_verify.cli import main, parse_args
from glance_verify.errors import ConfigError
from glance_verify.options import Backend
from glance_verify.plan import SKIPPABLE, STEPS
from glance_verify.source import DEFAULT_IMAGE_URL

SECRET = "s3cr3t-Pass"


pytestmark = pytest.mark.usefixtures("no_ambient_cloud")


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_usage_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("glance-verify: error: ")
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0]


def test_defaults() -> None:
    opts = parse_args([])
    assert opts.image_url == DEFAULT_IMAGE_URL
    assert (opts.disk_format, opts.container_format, opts.visibility) == ("qcow2", "bare", "public")
    assert opts.hash_algo == "sha512"
    assert opts.cache_dir == Path("~/.cache/glance-verify").expanduser()
    assert opts.skip == frozenset()
    assert opts.db_url is None and opts.store_path is None
    assert opts.keep is False and opts.timeout == 300


def test_all_flags(tmp_path: Path, image_file: Path) -> None:
    opts = parse_args(
        [
            "--os-cloud", "lab", "--image-file", str(image_file), "--cache-dir", str(tmp_path),
            "--name-prefix", "ci-run.1", "--disk-format", "raw", "--container-format", "ovf",
            "--visibility", "private", "--store", "fast", "--hash-algo", "SHA256",
            "--db-url", f"mysql+pymysql://glance:{SECRET}@db:3307/glance",
            "--store-path", str(tmp_path), "--skip", "share", "--skip", "download,set-property",
            "--json", str(tmp_path / "r/out.json"), "--junit", str(tmp_path / "r/out.xml"),
            "--timeout", "12.5", "--keep", "--quiet", "--member-role", "reader",
        ]
    )  # fmt: skip
    assert opts.cloud == "lab"
    assert opts.image_file == str(image_file)
    assert opts.name_prefix == "ci-run.1"
    assert (opts.disk_format, opts.container_format, opts.visibility) == ("raw", "ovf", "private")
    assert opts.store == "fast" and opts.hash_algo == "sha256"
    assert opts.db_url is not None and opts.db_url.port == 3307
    assert opts.skip == frozenset({"share", "download", "set-property"})
    assert opts.timeout == 12.5 and opts.keep and opts.quiet
    assert opts.member_role == "reader"


def test_storage_lab_options(tmp_path: Path) -> None:
    opts = parse_args(
        [
            "--backend", "fast=/var/lib/glance/fast/", "--backend", "slow",
            "--default-backend", "fast", "--quota", "1GB", "--image-cache",
            "--image-cache-dir", str(tmp_path), "--http-url", "http://10.0.0.5/cirros.img",
        ]
    )  # fmt: skip
    assert opts.backends == (
        Backend("fast", PurePosixPath("/var/lib/glance/fast")),
        Backend("slow"),
    )
    assert opts.default_backend == "fast"
    assert (opts.quota, opts.quota_text) == (1024**3, "1GB")
    assert opts.image_cache and opts.image_cache_dir == tmp_path
    assert opts.http_url == "http://10.0.0.5/cirros.img"
    off = parse_args([])
    assert (off.backends, off.quota, off.image_cache, off.http_url) == ((), None, False, None)


def test_os_cloud_and_db_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OS_CLOUD", "from-env")
    monkeypatch.setenv("GLANCE_VERIFY_DB_URL", f"mysql+pymysql://glance:{SECRET}@h/glance")
    opts = parse_args([])
    assert opts.cloud == "from-env"
    assert opts.db_url is not None and opts.db_url.password == SECRET


def test_help_describes_steps_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for step in STEPS:
        assert step.name in out
    for code in ("0  every check passed", "1  a check failed", "2  usage", "3  the cloud"):
        assert code in out
    for flag in ("--os-cloud", "--image-file", "--image-url", "--cache-dir", "--name-prefix",
                 "--disk-format", "--container-format", "--visibility", "--store ",
                 "--hash-algo", "--db-url", "--store-path", "--skip", "--json", "--junit",
                 "--timeout", "--keep", "--quiet", "--version", "--backend",
                 "--default-backend", "--quota", "--image-cache", "--image-cache-dir",
                 "--http-url"):  # fmt: skip
        assert flag in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"glance-verify {__version__}"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--image-file", "/nonexistent/cirros.img"], "no such file"),
        (["--image-file", "/"], "not a regular file"),
        (["--image-url", "ftp://example.org/x.img"], "not an http(s) URL"),
        (["--image-url", "not a url"], "not an http(s) URL"),
        (["--skip", "upload"], "--skip upload"),
        (["--skip", "nonsense"], "--skip nonsense"),
        (["--disk-format", "floppy"], "invalid choice"),
        (["--visibility", "everyone"], "invalid choice"),
        (["--hash-algo", "crc32"], "unknown hash algorithm"),
        (["--expect-hash", "sha512:abc"], "128 hex digits"),
        (["--timeout", "0"], "--timeout"),
        (["--timeout", "soon"], "invalid float"),
        (["--name-prefix", "bad name"], "--name-prefix"),
        (["--store-path", "/nonexistent/store"], "not a directory"),
        (["--db-url", "postgresql://u:p@h/glance"], "scheme"),
        (["--db-url", "mysql+pymysql://glance@/"], "expected mysql+pymysql://"),
        (["--json", "/dev/null/report.json"], "--json"),
        (["--no-such-flag"], "unrecognized arguments"),
        (["--image-file", "x", "--image-url", "http://h/x"], "not allowed with"),
        (["--quota", "64M"], "--quota '64M'"),
        (["--quota", "0"], "0 means no quota"),
        (["--backend", "fast=relative"], "absolute path"),
        (["--backend", "a", "--backend", "a=/x"], "--backend a: given more than once"),
        (["--backend", "a", "--default-backend", "b"], "--default-backend b: not among"),
        (["--image-cache-dir", "/tmp"], "--image-cache-dir needs --image-cache"),
        (["--image-cache", "--image-cache-dir", "/nonexistent/c"], "not a directory"),
        (["--http-url", "ftp://h/x.img"], "--http-url 'ftp://h/x.img': not an http(s) URL"),
        (["--api-node", "10.0.0.21:9292"], "--api-node '10.0.0.21:9292': expected http(s)://"),
        (["--api-node", "http://10.0.0.21:92x2"], "--api-node 'http://10.0.0.21:92x2': not a URL"),
        (["--api-node", "http://10.0.0.21:9292/v2"], "without /v2"),
        (["--api-node", "http://h:1", "--api-node", "http://h:1/"], "given more than once"),
        (["--served-by-header", "X Served"], "not an HTTP header name"),
        (["--rbd-pool", "a/b"], "--rbd-pool 'a/b': not a Ceph pool name"),
        (["--rbd-pool", "images", "--store-path", "/tmp"], "the image's store is rbd"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    code, out, err = run_main(capsys, *argv)
    assert out == ""
    assert_one_line_usage_error(code, err, needle)


def test_db_password_never_printed_in_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run_main(capsys, "--db-url", f"mysql+pymysql://glance:{SECRET}@h:notaport/g")
    assert_one_line_usage_error(code, err, "***")
    assert SECRET not in err


def test_skip_lists_only_skippable_steps() -> None:
    assert "source" not in SKIPPABLE and "upload" not in SKIPPABLE
    assert {"list-show", "deactivate", "share", "download", "delete"} <= set(SKIPPABLE)
    assert {"image-cache", "store-info", "backends", "quota", "http-store"} <= set(SKIPPABLE)
    with pytest.raises(ConfigError):
        parse_args(["--skip", "create-empty"])


# --- configuration and reachability, before anything is created ------------------------------


def test_missing_clouds_yaml_is_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "missing.yaml"))
    code, _out, err = run_main(capsys, "--os-cloud", "glance-lab-admin")
    assert_one_line_usage_error(code, err, "missing.yaml", "no such file")


def test_invalid_clouds_yaml_is_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bad = tmp_path / "clouds.yaml"
    bad.write_text("clouds:\n  lab: [unclosed\n")
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(bad))
    code, _out, err = run_main(capsys, "--os-cloud", "lab")
    assert_one_line_usage_error(code, err, "not valid YAML")


def write_clouds(tmp_path: Path, auth_url: str) -> Path:
    path = tmp_path / "clouds.yaml"
    path.write_text(
        "clouds:\n"
        "  lab:\n"
        "    auth:\n"
        f"      auth_url: {auth_url}\n"
        "      username: admin\n"
        f"      password: {SECRET}\n"
        "      project_name: admin\n"
        "      user_domain_name: Default\n"
        "      project_domain_name: Default\n"
        "    identity_api_version: 3\n"
    )
    return path


def test_unknown_cloud_name_is_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(
        "OS_CLIENT_CONFIG_FILE", str(write_clouds(tmp_path, "http://127.0.0.1:1/v3"))
    )
    code, _out, err = run_main(capsys, "--os-cloud", "nope")
    assert_one_line_usage_error(code, err, "nope")


def test_no_credentials_at_all_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run_main(capsys)
    assert_one_line_usage_error(code, err)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_keystone_is_exit_3(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v3"
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(write_clouds(tmp_path, url)))
    code, out, err = run_main(capsys, "--os-cloud", "lab")
    assert code == 3
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("glance-verify: error: Keystone:")
    assert "Traceback" not in err and SECRET not in err


# --- the database password off the command line ----------------------------------------------


def test_db_password_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "glance_db_password"
    secret_file.write_text(f"{SECRET}\n")
    opts = parse_args(
        ["--db-url", "mysql+pymysql://glance@db/glance", "--db-password-file", str(secret_file)]
    )
    assert opts.db_url is not None
    assert opts.db_url.password == SECRET
    assert SECRET not in repr(opts)


def test_db_password_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{SECRET}\nignored\n"))
    opts = parse_args(["--db-url", "mysql+pymysql://glance@db/glance", "--db-password-file", "-"])
    assert opts.db_url is not None and opts.db_url.password == SECRET


# Issue #14: an operator's password arrives whole, from a file or on stdin as
# playbooks/verify.yml gives it: leading space, quotes, '%', '@', '$', backslash...
ANY_PASSWORD = " " + string.ascii_letters + string.digits + " " + string.punctuation


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_db_password_carries_every_printable_character(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    secret_file = tmp_path / "glance_db_password"
    secret_file.write_text(f"{ANY_PASSWORD}\n")
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{ANY_PASSWORD}\n"))
    name = str(secret_file) if source == "file" else "-"
    opts = parse_args(["--db-url", "mysql+pymysql://glance@db/glance", "--db-password-file", name])
    assert opts.db_url is not None and opts.db_url.password == ANY_PASSWORD


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--db-password-file", "/etc/hostname"], "needs --db-url"),
        (
            ["--db-url", "mysql+pymysql://glance:x@db/glance", "--db-password-file", "/dev/null"],
            "already has a password",
        ),
        (["--db-url", "mysql+pymysql://glance@db/glance", "--db-password-file", "/nope"], "/nope"),
        (
            ["--db-url", "mysql+pymysql://glance@db/glance", "--db-password-file", "/dev/null"],
            "empty",
        ),
    ],
)
def test_db_password_file_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    code, _out, err = run_main(capsys, *argv)
    assert_one_line_usage_error(code, err, needle)


def test_host_root_reads_the_glance_hosts_paths_under_it(tmp_path: Path) -> None:
    """--host-root: the Glance host's / mounted here (podman mount); its paths are under it."""
    for sub in ("var/lib/glance/images", "srv/fast", "var/lib/glance/image-cache"):
        (tmp_path / "root" / sub).mkdir(parents=True)
    opts = parse_args([
        "--host-root", str(tmp_path / "root"), "--store-path", "/var/lib/glance/images",
        "--backend", "fast=/srv/fast", "--local-stores",
        "--image-cache", "--image-cache-dir", "/var/lib/glance/image-cache",
    ])  # fmt: skip
    assert opts.host_root == tmp_path / "root"
    assert opts.store_path == tmp_path / "root" / "var/lib/glance/images"
    assert opts.image_cache_dir == tmp_path / "root" / "var/lib/glance/image-cache"
    # The backend keeps the Glance host's path: the location Glance reports names it.
    assert opts.backends == (Backend("fast", PurePosixPath("/srv/fast")),)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--store-path", "/var/lib/glance/images"], "--store-path /var/lib/glance/images"),
        (["--backend", "fast=/srv/fast", "--local-stores"], "/srv/fast (backend fast)"),
        (["--store-path", "relative/dir"], "absolute path with --host-root"),
    ],
)
def test_host_root_paths_must_exist_under_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    (tmp_path / "var/lib/glance/images").mkdir(parents=True, exist_ok=True)
    (tmp_path / "relative/dir").mkdir(parents=True, exist_ok=True)
    root = tmp_path / "root"
    root.mkdir()
    code, _, err = run_main(capsys, "--host-root", str(root), *args)
    assert_one_line_usage_error(code, err, needle)


def test_record_secrets_must_be_writable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    opts = parse_args(["--record-secrets", str(tmp_path / "secrets")])
    assert opts.record_secrets == tmp_path / "secrets"
    code, _, err = run_main(capsys, "--record-secrets", str(tmp_path))
    assert_one_line_usage_error(code, err, "--record-secrets")
