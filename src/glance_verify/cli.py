"""Command line: ``glance-verify [options]``. The only place that turns errors into exit codes."""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from glance_verify import __version__
from glance_verify.cloud import GlanceApi, connect, quiet_sdk_logging
from glance_verify.console import Console
from glance_verify.context import Context
from glance_verify.db import DbUrl, ImageDatabase, mask_url, parse_db_url
from glance_verify.errors import CloudUnreachable, ConfigError
from glance_verify.hashing import check_algorithm, parse_expected_hash
from glance_verify.options import DEFAULT_TIMEOUT, Options, local_dir_option
from glance_verify.plan import SKIPPABLE, STEPS
from glance_verify.report import (
    check_writable,
    exit_code,
    step_line,
    summary_lines,
    write_json,
    write_junit,
)
from glance_verify.runner import StepResult, run_steps
from glance_verify.source import (
    DEFAULT_CACHE_DIR,
    DEFAULT_IMAGE_URL,
    validate_image_file,
    validate_url,
)
from glance_verify.storage import (
    check_backends,
    parse_backend,
    parse_limit,
    parse_quota,
)

PROG = "glance-verify"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3
DB_URL_ENV = "GLANCE_VERIFY_DB_URL"

DISK_FORMATS = ("qcow2", "raw", "vmdk", "vdi", "vhd", "vhdx", "iso", "ploop", "aki", "ari", "ami")
CONTAINER_FORMATS = ("bare", "ovf", "ova", "aki", "ari", "ami", "docker", "compressed")
VISIBILITIES = ("public", "private", "shared", "community")
NAME_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")


def _epilog() -> str:
    width = 78
    lines = ["steps, in order (STEP names for --skip are marked *):"]
    for step in STEPS:
        mark = "*" if step.skippable else " "
        body = textwrap.wrap(step.help, width - 22)
        lines.append(f"  {mark}{step.name:<17}  {body[0]}")
        lines += [" " * 22 + more for more in body[1:]]
    lines += [
        "",
        "  Steps deactivate/reactivate and share create temporary projects and users",
        "  (named PREFIX-<random>-owner/-member, random passwords never shown); every",
        "  object the run creates is removed at the end, also after a failure or on",
        "  SIGINT/SIGTERM (--keep leaves the image).",
        "",
        "authentication: --os-cloud NAME (clouds.yaml, found as openstack tools find it,",
        "  or named by OS_CLIENT_CONFIG_FILE), else the OS_* environment variables",
        "  (OS_CLOUD, or OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME, ...).",
        "  The credentials need the admin role.",
        "  The database password is masked in every output. To keep it off the command",
        "  line (which other local users can read), give --db-url without it and",
        "  --db-password-file FILE (or - for stdin), or export $GLANCE_VERIFY_DB_URL.",
        "",
        "exit codes:",
        "  0  every check passed (and everything created was removed)",
        "  1  a check failed, a cleanup failed, or the run was interrupted",
        "  2  usage or configuration error (bad option, missing file, unreadable",
        "     clouds.yaml, unknown store, bad URL, ...)",
        "  3  the cloud (Keystone, Glance or the database) could not be reached or",
        "     authenticated",
    ]
    return "\n".join(lines)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description=textwrap.fill(
            "Prove that an OpenStack Glance install works: create, upload, list, show, "
            "set, deactivate, share, download and delete an image, checking the API's "
            "answers, the hashes, the database and the store at each step.",
            78,
        ),
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    auth = p.add_argument_group("cloud")
    auth.add_argument(
        "--os-cloud",
        metavar="NAME",
        default=os.environ.get("OS_CLOUD"),
        help="cloud name in clouds.yaml (default: $OS_CLOUD, else OS_* variables)",
    )
    src = p.add_argument_group("image source")
    one = src.add_mutually_exclusive_group()
    one.add_argument("--image-file", metavar="PATH", help="upload this local image file")
    one.add_argument(
        "--image-url",
        metavar="URL",
        default=DEFAULT_IMAGE_URL,
        help="download this image (cached); default: %(default)s",
    )
    src.add_argument(
        "--cache-dir",
        metavar="DIR",
        default=DEFAULT_CACHE_DIR,
        help="download cache (default: %(default)s)",
    )
    src.add_argument(
        "--no-fallback",
        action="store_true",
        help="fail (exit 2) instead of building an image with qemu-img when the URL is unreachable",
    )
    img = p.add_argument_group("image")
    img.add_argument(
        "--name-prefix",
        metavar="PREFIX",
        default="glance-verify",
        help="prefix of every name the run creates (default: %(default)s)",
    )
    img.add_argument("--disk-format", default="qcow2", choices=DISK_FORMATS, metavar="FORMAT",
                     help="disk format (default: %(default)s)")  # fmt: skip
    img.add_argument("--container-format", default="bare", choices=CONTAINER_FORMATS,
                     metavar="FORMAT", help="container format (default: %(default)s)")  # fmt: skip
    img.add_argument("--visibility", default="public", choices=VISIBILITIES,
                     help="visibility of the test image (default: %(default)s)")  # fmt: skip
    img.add_argument("--store", metavar="ID", help="upload to this store (multi-store Glance only)")
    img.add_argument(
        "--hash-algo",
        metavar="ALGO",
        default="sha512",
        help="Glance's configured hashing_algorithm, expected in os_hash_algo "
        "(default: %(default)s)",
    )
    img.add_argument(
        "--expect-hash",
        metavar="ALGO:HEX",
        help="also require the image's md5 or --hash-algo digest to be this value "
        "(e.g. a published checksum)",
    )
    chk = p.add_argument_group("extra checks")
    chk.add_argument(
        "--db-url",
        metavar="URL",
        default=os.environ.get(DB_URL_ENV),
        help="mysql+pymysql://USER:PASS@HOST[:PORT]/DB of the glance database: check the "
        f"deleted image's row (default: ${DB_URL_ENV})",
    )
    chk.add_argument(
        "--db-password-file",
        metavar="FILE",
        help="read the database password from the first line of FILE ('-': stdin); "
        "--db-url then carries none",
    )
    chk.add_argument(
        "--store-path",
        metavar="DIR",
        help="the file store's directory (filesystem_store_datadir) when it is local: "
        "check the image file appears and disappears",
    )
    chk.add_argument(
        "--host-root",
        metavar="DIR",
        help="the Glance host's / as mounted on this machine (e.g. by `podman mount "
        "CONTAINER`): --store-path, --image-cache-dir and, with --local-stores, the "
        "--backend directories are the Glance host's paths, read under DIR",
    )
    chk.add_argument(
        "--member-role",
        metavar="ROLE",
        default="member",
        help="Keystone role of the temporary users (default: %(default)s)",
    )
    lab = p.add_argument_group(
        "storage labs (each check runs only when its option is given: the deployment "
        "enables that feature)"
    )
    lab.add_argument(
        "--backend",
        metavar="NAME[=DIR]",
        action="append",
        default=[],
        help="a file backend of a multi-store Glance (enabled_backends), repeatable: "
        "GET /v2/info/stores lists it; an upload to it lands there (stores, hashes, and "
        "location file://DIR/<id> when DIR is given; DIR/<id> itself with --local-stores)",
    )
    lab.add_argument(
        "--local-stores",
        action="store_true",
        help="the --backend directories are on this machine (all-in-one): also check the "
        "image files in them (a directory of the same name here may belong to another "
        "Glance, so this is never guessed)",
    )
    lab.add_argument(
        "--default-backend",
        metavar="NAME",
        help="GET /v2/info/stores must mark this backend as the default",
    )
    lab.add_argument(
        "--quota",
        metavar="SIZE",
        help="Glance's user_storage_quota as configured (e.g. 64MB; KB/MB/GB/TB are "
        "1024-based, plain digits are bytes): an upload of SIZE + 1 MiB is refused "
        "(HTTP 413) and leaves nothing; a small upload still works",
    )
    lab.add_argument(
        "--keystone-limits",
        action="store_true",
        help="Glance enforces Keystone unified limits (use_keystone_limits): GET "
        "/v2/info/usage reports them; an upload that takes usage over image_size_total "
        "passes (Glance checks before an upload), the next one is refused (HTTP 413) and "
        "stores nothing; after deleting the first, it passes",
    )
    lab.add_argument(
        "--keystone-limit",
        metavar="NAME=N",
        action="append",
        default=[],
        help="with --keystone-limits: the limit Keystone must report for NAME "
        "(image_size_total, image_stage_total in MiB; image_count_total, "
        "image_count_uploading); repeatable",
    )
    lab.add_argument(
        "--limit-fill-max",
        metavar="MIB",
        type=int,
        default=256,
        help="with --keystone-limits: the most data (MiB) it may upload to go over "
        "image_size_total; a larger gap fails the step (default: %(default)s)",
    )
    lab.add_argument(
        "--image-cache",
        action="store_true",
        help="Glance caches images (cache middleware): a downloaded image appears in the "
        "cache listing, a second download is a cache hit, removing it via the API works",
    )
    lab.add_argument(
        "--image-cache-dir",
        metavar="DIR",
        help="with --image-cache: Glance's image_cache_dir when it is local: also check "
        "the cache file DIR/<id>",
    )
    lab.add_argument(
        "--http-url",
        metavar="URL",
        help="an image file served over http that Glance's http store can read: register "
        "it as an image location, download it through Glance, compare with the URL's bytes",
    )
    run = p.add_argument_group("run")
    run.add_argument(
        "--skip",
        metavar="STEP",
        action="append",
        default=[],
        help=f"skip a step (repeatable or comma-separated): {', '.join(SKIPPABLE)}",
    )
    run.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=DEFAULT_TIMEOUT,
        help="how long to wait for the image to become active (default: %(default)g)",
    )
    run.add_argument(
        "--keep",
        action="store_true",
        help="keep the image (skips delete and its checks; for labs)",
    )
    out = p.add_argument_group("output")
    out.add_argument("--json", metavar="FILE", help="write a JSON report")
    out.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    out.add_argument(
        "-q", "--quiet", action="store_true", help="print only failures and the final lines"
    )
    out.add_argument("--debug", action="store_true", help="log the SDK's HTTP requests")
    out.add_argument(
        "--record-secrets",
        metavar="FILE",
        help="for a test harness that scans its logs for leaked secrets: append each "
        "temporary user's password to FILE (created 0600), one per line",
    )
    return p


def skip_set(items: Sequence[str]) -> frozenset[str]:
    """--skip values: repeatable and comma-separated, each a skippable step's name."""
    skip: set[str] = set()
    for item in items:
        for name in filter(None, (s.strip() for s in item.split(","))):
            if name not in SKIPPABLE:
                raise ConfigError(
                    f"--skip {name}: not a step that can be skipped ({', '.join(SKIPPABLE)})"
                )
            skip.add(name)
    return frozenset(skip)


def db_url_from_args(url: str | None, password_file: str | None) -> DbUrl | None:
    db_url = parse_db_url(url) if url else None
    if password_file:
        if db_url is None:
            raise ConfigError("--db-password-file needs --db-url")
        if db_url.password:
            raise ConfigError("--db-url already has a password; drop it or --db-password-file")
        db_url = dataclasses.replace(db_url, password=read_password(password_file))
    return db_url


def limit_options(args: argparse.Namespace) -> tuple[tuple[str, int], ...]:
    """--keystone-limit values, checked with --keystone-limits and --limit-fill-max."""
    expect = tuple(parse_limit(text) for text in args.keystone_limit)
    if expect and not args.keystone_limits:
        raise ConfigError("--keystone-limit needs --keystone-limits")
    if args.limit_fill_max < 1:
        raise ConfigError(f"--limit-fill-max {args.limit_fill_max}: give 1 MiB or more")
    return expect


def options_from_args(args: argparse.Namespace) -> Options:
    """Validate everything that can be checked before touching the cloud."""
    skip = skip_set(args.skip)
    if not NAME_PREFIX.match(args.name_prefix):
        raise ConfigError(
            f"--name-prefix {args.name_prefix!r}: use up to 40 letters, digits, '.', '_', '-'"
        )
    if args.timeout <= 0:
        raise ConfigError("--timeout must be a positive number of seconds")
    if args.image_file:
        validate_image_file(args.image_file)
    else:
        validate_url(args.image_url)
    host_root, store_path = local_paths(args)
    db_url = db_url_from_args(args.db_url, args.db_password_file)
    backends = tuple(parse_backend(b) for b in args.backend)
    check_backends(backends, args.default_backend, local=args.local_stores, root=host_root)
    quota = parse_quota(args.quota) if args.quota is not None else None
    limit_expect = limit_options(args)
    image_cache_dir = None
    if args.image_cache_dir:
        if not args.image_cache:
            raise ConfigError("--image-cache-dir needs --image-cache")
        image_cache_dir = local_dir_option("--image-cache-dir", args.image_cache_dir, host_root)
    if args.http_url is not None:
        validate_url(args.http_url, "--http-url")
    hash_algo = check_algorithm(args.hash_algo)
    expect_hash = parse_expected_hash(args.expect_hash) if args.expect_hash else None
    json_path = Path(args.json) if args.json else None
    junit_path = Path(args.junit) if args.junit else None
    if json_path:
        check_writable(json_path, "--json")
    if junit_path:
        check_writable(junit_path, "--junit")
    if args.record_secrets:
        check_writable(Path(args.record_secrets), "--record-secrets")
    return Options(
        cloud=args.os_cloud or None,
        image_file=args.image_file,
        image_url=args.image_url,
        cache_dir=Path(args.cache_dir).expanduser(),
        fallback=not args.no_fallback,
        name_prefix=args.name_prefix,
        disk_format=args.disk_format,
        container_format=args.container_format,
        visibility=args.visibility,
        store=args.store,
        hash_algo=hash_algo,
        expect_hash=expect_hash,
        db_url=db_url,
        host_root=host_root,
        store_path=store_path,
        backends=backends,
        default_backend=args.default_backend,
        local_stores=args.local_stores,
        quota=quota,
        quota_text=args.quota,
        keystone_limits=args.keystone_limits,
        keystone_limit_expect=limit_expect,
        limit_fill_max=args.limit_fill_max * 1024 * 1024,
        image_cache=args.image_cache,
        image_cache_dir=image_cache_dir,
        http_url=args.http_url,
        record_secrets=Path(args.record_secrets) if args.record_secrets else None,
        member_role=args.member_role,
        skip=skip,
        json_path=json_path,
        junit_path=junit_path,
        timeout=args.timeout,
        keep=args.keep,
        quiet=args.quiet,
        debug=args.debug,
    )


def local_paths(args: argparse.Namespace) -> tuple[Path | None, Path | None]:
    """--host-root, and --store-path as a path on this machine (under --host-root)."""
    host_root = None
    if args.host_root:
        host_root = Path(args.host_root)
        if not host_root.is_dir():
            raise ConfigError(f"--host-root {args.host_root}: not a directory")
    store_path = None
    if args.store_path:
        store_path = local_dir_option("--store-path", args.store_path, host_root)
    return host_root, store_path


def read_password(name: str, stdin: TextIO | None = None) -> str:
    """The first line of a file, or of stdin for ``-``, without its line end."""
    try:
        if name == "-":
            line = (stdin if stdin is not None else sys.stdin).readline()
        else:
            with Path(name).open(encoding="utf-8") as handle:
                line = handle.readline()
    except OSError as exc:
        raise ConfigError(f"--db-password-file {name}: {exc.strerror}") from None
    password = line.rstrip("\r\n")
    if not password:
        raise ConfigError(f"--db-password-file {name}: empty")
    return password


def parse_args(argv: Sequence[str] | None = None) -> Options:
    return options_from_args(build_parser().parse_args(argv))


def check_store(api: GlanceApi, store: str) -> None:
    stores = api.stores()
    if stores is None:
        raise ConfigError(
            f"--store {store}: this Glance has no multiple stores (enabled_backends) configured"
        )
    if store not in stores:
        raise ConfigError(f"--store {store}: unknown store; this Glance has: {', '.join(stores)}")


def _fail(console: Console, message: str, code: int) -> int:
    console.error(mask_url(message))
    return code


def _show_step(console: Console, result: StepResult) -> None:
    """One line per step as it ends; --quiet keeps only failures."""
    if result.status == "fail":
        console.line(step_line(result))
    else:
        console.info(step_line(result))


def main(argv: Sequence[str] | None = None) -> int:
    console = Console(PROG)
    try:
        opts = parse_args(argv)
    except ConfigError as exc:
        return _fail(console, str(exc), EXIT_USAGE)
    console.quiet = opts.quiet
    quiet_sdk_logging(opts.debug)

    try:
        conn = connect(opts.cloud)
        api = GlanceApi(conn)
        if opts.store:
            check_store(api, opts.store)
        db = None
        if opts.db_url is not None:
            db = ImageDatabase(opts.db_url)
            db.check()
        ctx = Context(
            opts,
            conn,
            api,
            notice=console.notice,
            show_progress=sys.stderr.isatty() and not opts.quiet,
            db=db,
        )
        if not opts.quiet:
            endpoint = conn.image.get_endpoint()
            cloud = opts.cloud or "OS_* environment"
            console.line(
                f"{PROG} {__version__}: cloud {cloud}, Glance {endpoint}, run {ctx.run_id}"
            )
        run = run_steps(ctx, on_result=lambda result: _show_step(console, result))
    except ConfigError as exc:
        return _fail(console, str(exc), EXIT_USAGE)
    except CloudUnreachable as exc:
        return _fail(console, str(exc), EXIT_UNREACHABLE)
    except KeyboardInterrupt:
        return _fail(console, "interrupted before any change was made", EXIT_FAILED)

    for text in summary_lines(run, include_steps=False):
        console.line(text)
    try:
        if opts.json_path:
            write_json(run, opts, opts.json_path)
        if opts.junit_path:
            write_junit(run, opts, opts.junit_path)
    except ConfigError as exc:
        return _fail(console, str(exc), EXIT_USAGE)
    return exit_code(run)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
