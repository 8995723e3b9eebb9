"""Command line: ``glance-verify [options]``: the parser, and ``main``, which runs the
plan against the cloud and writes the reports. The arguments become Options in
``settings.py``; errors become exit codes in ``command.run_command``."""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence
from typing import TextIO

from glance_verify import __version__
from glance_verify.cloud import GlanceApi, connect, quiet_sdk_logging
from glance_verify.command import (
    AUTH_HELP,
    Parser,
    add_cloud_options,
    default_argv,
    run_command,
)
from glance_verify.console import Console
from glance_verify.context import Context
from glance_verify.db import ImageDatabase
from glance_verify.errors import ConfigError
from glance_verify.explain import explain_lines
from glance_verify.hashing import MIB
from glance_verify.options import DEFAULTS, Options
from glance_verify.plan import SKIPPABLE, STEPS
from glance_verify.replay import replay_script
from glance_verify.report import (
    exit_code,
    json_text,
    step_line,
    summary_lines,
    write_html,
    write_json,
    write_junit,
)
from glance_verify.runner import StepResult, run_steps
from glance_verify.settings import DB_URL_ENV, options_from_args
from glance_verify.source import DEFAULT_CACHE_DIR

PROG = "glance-verify"
#: --explain's command lines sit under the step line's name column.
EXPLAIN_INDENT = 6

DISK_FORMATS = ("qcow2", "raw", "vmdk", "vdi", "vhd", "vhdx", "iso", "ploop", "aki", "ari", "ami")
CONTAINER_FORMATS = ("bare", "ovf", "ova", "aki", "ari", "ami", "docker", "compressed")
VISIBILITIES = ("public", "private", "shared", "community")


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
        *AUTH_HELP.splitlines(),
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


def _add_node_options(p: argparse.ArgumentParser) -> None:
    """Several glance-api nodes behind a load balancer (steps api-nodes, lb-spread)."""
    multi = p.add_argument_group(
        "several glance-api nodes behind a load balancer (checks run only with --api-node)"
    )
    multi.add_argument(
        "--api-node",
        metavar="URL",
        action="append",
        help="one glance-api node's own root URL, e.g. http://10.0.0.21:9292 (repeatable, "
        "no /v2): it must show the uploaded image active with the same size and hashes, "
        "and its download must hash the same; also turns on the load balancer spread check",
    )
    multi.add_argument(
        "--served-by-header",
        metavar="NAME",
        help="the response header the load balancer sets to the server that answered "
        f"(default: {DEFAULTS.served_by_header}, as the haproxy role does): requests "
        "through the public endpoint must reach at least as many servers as --api-node "
        "gives; '' turns that check off",
    )


def _add_import_options(p: argparse.ArgumentParser) -> None:
    imp = p.add_argument_group(
        "image import (the steps run for the methods Glance enables: --config's "
        "image_import, or --import-methods)"
    )
    imp.add_argument(
        "--import-methods",
        metavar="LIST",
        help="the enabled import methods, comma-separated (glance-direct, web-download, "
        "copy-image, glance-download); default: --config's, else none",
    )
    imp.add_argument(
        "--serve-address",
        metavar="ADDR",
        help="the web-download steps serve the image from an HTTP server they start on "
        "this machine, bound to ADDR, which Glance must reach; the import filters must "
        f"allow it for import-web-download (default: {DEFAULTS.serve_address})",
    )
    imp.add_argument(
        "--serve-port",
        metavar="PORT",
        type=int,
        help=f"port of that server (default: {DEFAULTS.serve_port})",
    )


def _add_output_options(p: argparse.ArgumentParser) -> None:
    """The reports and what is printed."""
    out = p.add_argument_group("output")
    out.add_argument(
        "--json", metavar="FILE", help="write a JSON report ('-': to stdout, as -f json)"
    )
    out.add_argument(
        "-f",
        "--format",
        choices=("text", "json"),
        help="json: the JSON report on stdout (as --json -); the progress and summary "
        "lines then go to stderr (default: text)",
    )
    out.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    out.add_argument(
        "--html",
        metavar="FILE",
        help="write the HTML report (one self-contained page: deployment, steps, the "
        "image's state timeline, throughput, hashes); default: beside --json FILE, with "
        "the suffix .html",
    )
    out.add_argument(
        "--html-template",
        metavar="FILE",
        help="render the HTML report with this Jinja template (default: the installed "
        "glance-verify-report.html.j2, or the repository's templates/)",
    )
    out.add_argument("--no-html", action="store_true", help="write no HTML report")
    out.add_argument(
        "--explain",
        action="store_true",
        help="after each step, print the openstack and glance command lines that do the "
        "same by hand, with this run's ids (which the run deletes at its end)",
    )
    out.add_argument(
        "--explain-script",
        metavar="FILE",
        help="write a bash script that replays the image steps that passed, with the "
        "openstack client and then the glance client: . admin-openrc && bash FILE "
        "[openstack|glance]; it makes its own image (id in $IMAGE_ID), stops at the first "
        "error, removes what it made; the run's ids are comments",
    )
    out.add_argument(
        "--progress-file",
        metavar="FILE",
        help="also write the step lines (with --explain's), notices and upload/download "
        "progress lines to FILE as they happen: for a caller that captures the output "
        "and follows FILE meanwhile (make aio runs tail -f on it)",
    )
    out.add_argument(
        "-q", "--quiet", action="store_true", help="print only failures and the final lines"
    )
    out.add_argument(
        "--record-secrets",
        metavar="FILE",
        help="for a test harness that scans its logs for leaked secrets: append each "
        "temporary user's password to FILE (created 0600), one per line",
    )


def _add_metadefs_options(p: argparse.ArgumentParser) -> None:
    catalog = p.add_argument_group("metadata definitions catalog (with --config: as deployed)")
    catalog.add_argument(
        "--metadefs",
        action="store_true",
        help="the catalog was loaded (glance-manage db load_metadefs): GET "
        "/v2/metadefs/namespaces has the standard namespaces (with --config and the files "
        "here: every namespace of its metadefs_dir) with their resource type associations, "
        "properties and objects; an admin creates and deletes one",
    )


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser. Options it is not given are None: ``settings`` fills them in from
    --config or ``Options``' defaults. ``argv`` is read ahead for the SDK's auth options."""
    p = Parser(
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
    add_cloud_options(p, argv, own_timeout=True)
    p.add_argument(
        "--config",
        metavar="FILE",
        help="the JSON settings file the glance role writes about what it deployed "
        "(format 1): the store, backends, quota, Keystone limits, image cache, database "
        "and release to check; options given here win over it. Its directories are only "
        "looked at with --local-stores or --host-root",
    )
    src = p.add_argument_group("image source")
    one = src.add_mutually_exclusive_group()
    one.add_argument("--image-file", metavar="PATH", help="upload this local image file")
    one.add_argument(
        "--image-url",
        metavar="URL",
        help=f"download this image (cached); default: {DEFAULTS.image_url}",
    )
    src.add_argument(
        "--cache-dir",
        metavar="DIR",
        help=f"download cache (default: {DEFAULT_CACHE_DIR})",
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
        help=f"prefix of every name the run creates (default: {DEFAULTS.name_prefix})",
    )
    img.add_argument("--disk-format", choices=DISK_FORMATS, metavar="FORMAT",
                     help=f"disk format (default: {DEFAULTS.disk_format})")  # fmt: skip
    img.add_argument("--container-format", choices=CONTAINER_FORMATS, metavar="FORMAT",
                     help=f"container format (default: {DEFAULTS.container_format})")  # fmt: skip
    img.add_argument("--visibility", choices=VISIBILITIES,
                     help=f"test image visibility (default: {DEFAULTS.visibility})")  # fmt: skip
    img.add_argument("--store", metavar="ID", help="upload to this store (multi-store Glance only)")
    img.add_argument(
        "--hash-algo",
        metavar="ALGO",
        help="Glance's configured hashing_algorithm, expected in os_hash_algo "
        f"(default: {DEFAULTS.hash_algo})",
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
        "--backend directories are the Glance host's paths, read under DIR; with "
        "--config, the file's directories are looked at there too",
    )
    chk.add_argument(
        "--member-role",
        metavar="ROLE",
        help=f"Keystone role of the temporary users (default: {DEFAULTS.member_role})",
    )
    lab = p.add_argument_group(
        "storage labs (each check runs only when its option is given: the deployment "
        "enables that feature)"
    )
    lab.add_argument(
        "--backend",
        metavar="NAME[=DIR]",
        action="append",
        help="a file backend of a multi-store Glance (enabled_backends), repeatable: "
        "GET /v2/info/stores lists it; an upload to it lands there (stores, hashes, and "
        "location file://DIR/<id> when DIR is given; DIR/<id> itself with --local-stores)",
    )
    lab.add_argument(
        "--local-stores",
        action="store_true",
        help="the --backend directories (and the directories --config names) are on this "
        "machine (all-in-one): also check the image files in them (a directory of the "
        "same name here may belong to another Glance, so this is never guessed)",
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
        help="with --keystone-limits: the limit Keystone must report for NAME "
        "(image_size_total, image_stage_total in MiB; image_count_total, "
        "image_count_uploading); repeatable",
    )
    lab.add_argument(
        "--limit-fill-max",
        metavar="MIB",
        type=int,
        help="with --keystone-limits: the most data (MiB) it may upload to go over "
        "image_size_total; a larger gap fails the step "
        f"(default: {DEFAULTS.limit_fill_max // MIB})",
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
    lab.add_argument(
        "--rbd-pool",
        metavar="POOL",
        help="the image's store is Ceph RBD with this pool (from --config when its default "
        "store, or --store, is rbd): its direct_url or locations must name "
        "rbd://<fsid>/POOL/<image id>/snap; the file-store checks do not apply",
    )
    for add_group in (_add_node_options, _add_import_options, _add_metadefs_options):
        add_group(p)
    run = p.add_argument_group("run")
    run.add_argument(
        "--skip",
        metavar="STEP",
        action="append",
        help=f"skip a step (repeatable or comma-separated): {', '.join(SKIPPABLE)}",
    )
    run.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        help=f"how long to wait for the image to become active (default: {DEFAULTS.timeout:g})",
    )
    run.add_argument(
        "--keep",
        action="store_true",
        help="keep the image (skips delete and its checks; for labs)",
    )
    run.add_argument(
        "--require-enabled",
        action="store_true",
        help="every step the options and --config turn on must pass: one skipped (not "
        "applicable, or a step it needs did not pass) fails the run (exit 1), unless "
        "--skip names it or a step it needs; --keep leaves out delete, db-row and "
        "store-file-gone",
    )
    _add_output_options(p)
    return p


def parse_args(argv: Sequence[str] | None = None) -> Options:
    args = default_argv(argv)
    return options_from_args(build_parser(args).parse_args(args))


def check_store(api: GlanceApi, store: str) -> None:
    stores = api.stores()
    if stores is None:
        raise ConfigError(
            f"--store {store}: this Glance has no multiple stores (enabled_backends) configured"
        )
    if store not in stores:
        raise ConfigError(f"--store {store}: unknown store; this Glance has: {', '.join(stores)}")


def _show_step(console: Console, result: StepResult, ctx: Context | None = None) -> None:
    """One line per step as it ends; --quiet keeps only failures. With --explain, the
    commands that do the same follow a step that ran."""
    if result.status == "fail":
        console.line(step_line(result))
    else:
        console.info(step_line(result))
    if ctx is not None and ctx.opts.explain and result.status != "skip":
        for line in explain_lines(result.name, ctx):
            console.line(" " * EXPLAIN_INDENT + line)


def main(argv: Sequence[str] | None = None) -> int:
    console = Console(PROG)
    return run_command(
        console,
        lambda con: _run(parse_args(argv), con),
        interrupted="interrupted before any change was made",
    )


def _run(opts: Options, console: Console) -> int:
    if opts.progress_file is None:
        return _run_steps(opts, console)
    with opts.progress_file.open("a", encoding="utf-8") as progress:
        console.copy = progress
        try:
            return _run_steps(opts, console, progress)
        finally:
            console.copy = None


def _run_steps(opts: Options, console: Console, progress: TextIO | None = None) -> int:
    stdout = console.out
    if opts.json_stdout:
        console.out = console.err  # stdout carries the JSON report only
    console.quiet = opts.quiet
    quiet_sdk_logging(opts.debug)

    conn = connect(argparse.Namespace(**dict(opts.cloud_args)))
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
        show_progress=(sys.stderr.isatty() and not opts.quiet) or progress is not None,
        progress_file=progress,
        db=db,
    )
    if not opts.quiet:
        endpoint = conn.image.get_endpoint()
        cloud = opts.cloud or "OS_* environment"
        console.line(f"{PROG} {__version__}: cloud {cloud}, Glance {endpoint}, run {ctx.run_id}")
    run = run_steps(ctx, on_result=lambda result: _show_step(console, result, ctx))

    for text in summary_lines(run, include_steps=False):
        console.line(text)
    if opts.json_stdout:
        stdout.write(json_text(run, opts))
        stdout.flush()
    if opts.json_path:
        write_json(run, opts, opts.json_path)
    if opts.junit_path:
        write_junit(run, opts, opts.junit_path)
    if opts.html_path and opts.html_template:
        write_html(run, opts, opts.html_path, opts.html_template)
    if opts.explain_script:
        passed = [r.name for r in run.steps if r.status == "pass"]
        opts.explain_script.write_text(replay_script(ctx, passed), encoding="utf-8")
    return exit_code(run)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
