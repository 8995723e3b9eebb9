"""``glance-ledger``: record images of random data now, prove later that none was lost.

``record`` uploads N images of fresh random data and writes a ledger (JSON) of what
Glance must keep: each image's id, name, size, md5 and sha512, computed locally while
the data was generated and streamed (one pass, never held in memory). ``check`` reads
the ledger back after a restart, a re-converge or a drift repair and, for every image,
requires status ``active``, Glance's ``size``/``checksum``/``os_hash_value`` equal to
the recorded ones, and a streamed download whose own digests match. ``check --delete``
and ``forget`` remove the recorded images.

Exit codes follow glance-verify's: 0 all good, 1 an image failed its check (or could
not be recorded or deleted), 2 bad usage or input (e.g. an unreadable ledger), 3 the
cloud could not be reached or authenticated.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from glance_verify import __version__
from glance_verify.cloud import (
    GlanceApi,
    connect,
    hash_download,
    quiet_sdk_logging,
    wait_for_status,
)
from glance_verify.command import (
    AUTH_HELP,
    EXIT_FAILED,
    EXIT_OK,
    Parser,
    add_cloud_options,
    check_name_prefix,
    check_timeout,
    cloud_name,
    cloud_options,
    default_argv,
    run_command,
)
from glance_verify.compare import digest_problems, image_record_problems, require
from glance_verify.console import Console
from glance_verify.errors import CheckFailed, ConfigError, error_text
from glance_verify.hashing import MIB, Digests, HashingReader, hash_chunks
from glance_verify.options import DEFAULT_TIMEOUT, local_dir_option, read_input
from glance_verify.report import check_writable
from glance_verify.storage import GeneratedData, RandomSource

PROG = "glance-ledger"
LEDGER_FORMAT = 1
#: The ledger records sha512, Glance's default ``hashing_algorithm``.
ALGO = "sha512"
MAX_COUNT = 100
MAX_SIZE_MIB = 10 * 1024
HEX_LENGTHS = {"md5": 32, "sha512": 128}


@dataclass(frozen=True)
class Entry:
    """One recorded image: what Glance must still hold later."""

    id: str
    name: str
    size: int
    md5: str
    sha512: str

    @property
    def digests(self) -> Digests:
        return Digests(size=self.size, md5=self.md5, algo=ALGO, value=self.sha512)

    @classmethod
    def of(cls, image_id: str, name: str, digests: Digests) -> Entry:
        if digests.algo != ALGO:
            raise ValueError(f"the ledger records {ALGO}, not {digests.algo}")
        return cls(image_id, name, digests.size, digests.md5, digests.value)


def image_size(size_mib: int, index: int) -> int:
    """Image ``index`` (from 1) is ``size_mib`` MiB plus ``index`` bytes: the last chunk is
    partial and no two images have the same size."""
    return size_mib * MIB + index


# --- the ledger file (pure parsing and rendering, I/O at the edges) ---------------------


def ledger_document(entries: Sequence[Entry], cloud: str | None, created: str) -> dict[str, Any]:
    return {
        "format": LEDGER_FORMAT,
        "tool": f"{PROG} {__version__}",
        "cloud": cloud,
        "created": created,
        "algo": ALGO,
        "images": [asdict(entry) for entry in entries],
    }


def _entry_from(item: object, where: str) -> Entry:
    if not isinstance(item, Mapping):
        raise ConfigError(f"{where}: not an object")
    values: dict[str, Any] = {}
    for key in ("id", "name", "md5", "sha512"):
        value = item.get(key)
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where}: '{key}' must be a non-empty string")
        values[key] = value
    size = item.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ConfigError(f"{where}: 'size' must be a whole number of bytes")
    for key, length in HEX_LENGTHS.items():
        digest = values[key]
        if len(digest) != length or any(c not in "0123456789abcdef" for c in digest):
            raise ConfigError(f"{where}: '{key}' must be {length} lower-case hex digits")
    return Entry(size=size, **values)


def parse_ledger(text: str, name: str = "ledger") -> list[Entry]:
    """The entries of a ledger; ConfigError naming the place of the first problem."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{name}: not valid JSON (line {exc.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise ConfigError(f"{name}: not a {PROG} ledger (no 'images' list)")
    if data.get("format") != LEDGER_FORMAT:
        raise ConfigError(f"{name}: ledger format {data.get('format')!r}, expected {LEDGER_FORMAT}")
    entries = [_entry_from(item, f"{name}: images[{i}]") for i, item in enumerate(data["images"])]
    if not entries:
        raise ConfigError(f"{name}: the ledger records no image")
    ids = [entry.id for entry in entries]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigError(f"{name}: image recorded twice: {', '.join(duplicates)}")
    return entries


def read_ledger(path: Path) -> list[Entry]:
    return parse_ledger(read_input(path, f"--in {path}"), f"--in {path}")


def write_ledger(path: Path, document: Mapping[str, Any]) -> None:
    """Replace ``path`` atomically: a reader never sees half a ledger."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


# --- talking to Glance --------------------------------------------------------------------


def record_image(
    api: GlanceApi,
    name: str,
    size: int,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    source: RandomSource = os.urandom,
) -> Entry:
    """Create an image, stream ``size`` random bytes into it, hashing them on the way, and
    require Glance to report the same size and digests once it is active.

    The image is deleted again when anything fails, so a failed record leaves nothing.
    """
    image = api.create_image(
        name=name, disk_format="raw", container_format="bare", visibility="private"
    )
    image_id = str(image["id"])
    try:
        reader = HashingReader(GeneratedData(size, source), size, ALGO)
        api.upload(image_id, reader)
        local = reader.digests()
        shown = wait_for_status(api, image_id, "active", timeout)
        require(image_record_problems(local, shown))
    except BaseException:
        try:
            api.delete_image(image_id, missing_ok=True)
        except Exception:  # noqa: BLE001 - the first error is the one to report
            sys.stderr.write(f"{PROG}: could not delete the failed image {image_id}\n")
        raise
    return Entry.of(image_id, name, local)


def store_file_problems(entry: Entry, store_dirs: Sequence[Path]) -> tuple[list[str], str]:
    """The image's file in the first of ``store_dirs`` that has it, hashed straight from
    the disk (no API, no image cache): problems, and where it was found."""
    for directory in store_dirs:
        path = directory / entry.id
        try:
            with path.open("rb") as handle:
                got = hash_chunks(iter(lambda: handle.read(MIB), b""), ALGO)
        except FileNotFoundError:
            continue
        except OSError as exc:
            return [f"store file {path}: {exc.strerror}"], str(path)
        return digest_problems(entry.digests, got, f"store file {path}"), str(path)
    dirs = ", ".join(str(d) for d in store_dirs)
    return [f"no file {entry.id} in the store ({dirs})"], ""


def check_image(api: GlanceApi, entry: Entry, store_dirs: Sequence[Path] = ()) -> str:
    """CheckFailed unless the image is intact: status, Glance's digests, downloaded data,
    and with ``store_dirs`` the file in the store itself."""
    image = api.get_image(entry.id)
    if image is None:
        raise CheckFailed("not found (GET answers 404): the image is gone")
    problems = image_record_problems(entry.digests, image)
    if image.get("name") != entry.name:
        problems.append(f"name: expected {entry.name}, got {image.get('name')}")
    if image.get("status") == "active":
        got, _ = hash_download(api, entry.id, ALGO)
        problems += digest_problems(entry.digests, got)
    stored = ""
    if store_dirs:
        more, where = store_file_problems(entry, store_dirs)
        problems += more
        stored = f" and the store file {where}"
    require(problems)
    return (
        f"active, {entry.size} bytes; Glance's checksum and sha512 and the downloaded data"
        f"{stored} match"
    )


# --- commands -----------------------------------------------------------------------------


def run_record(
    api: GlanceApi,
    console: Console,
    *,
    out: Path,
    count: int,
    size_mib: int,
    cloud: str | None,
    prefix: str,
    timeout: float = DEFAULT_TIMEOUT,
    source: RandomSource = os.urandom,
) -> int:
    """Record ``count`` images; the ledger is rewritten after each, so none goes unrecorded."""
    run = f"{prefix}-{secrets.token_hex(3)}"
    created = datetime.now(UTC).isoformat(timespec="seconds")
    entries: list[Entry] = []
    for index in range(1, count + 1):
        name = f"{run}-{index}"
        start = time.monotonic()
        try:
            entry = record_image(
                api, name, image_size(size_mib, index), timeout=timeout, source=source
            )
        except Exception as exc:  # noqa: BLE001 - report it; the images so far stay recorded
            console.line(f"FAIL    {name}: {error_text(exc)}")
            console.line(f"recorded {len(entries)} of {count} images in {out}")
            return EXIT_FAILED
        entries.append(entry)
        write_ledger(out, ledger_document(entries, cloud, created))
        console.line(
            f"RECORD  {entry.name}  {entry.id}  {entry.size} bytes  md5 {entry.md5}  "
            f"sha512 {entry.sha512[:16]}...  ({time.monotonic() - start:.1f} s)"
        )
    console.line(f"recorded {len(entries)} of {count} images in {out}")
    return EXIT_OK


def run_check(
    api: GlanceApi, console: Console, entries: Sequence[Entry], store_dirs: Sequence[Path] = ()
) -> int:
    failed = 0
    for entry in entries:
        start = time.monotonic()
        try:
            detail = check_image(api, entry, store_dirs)
        except Exception as exc:  # noqa: BLE001 - one image's failure must not hide the others
            failed += 1
            console.line(f"FAIL  {entry.name}  {entry.id}  {error_text(exc)}")
            continue
        console.line(
            f"PASS  {entry.name}  {entry.id}  {detail}  ({time.monotonic() - start:.1f} s)"
        )
    console.line(
        f"ledger check: {len(entries)} images, {len(entries) - failed} intact, {failed} failed"
    )
    return EXIT_FAILED if failed else EXIT_OK


def run_forget(api: GlanceApi, console: Console, entries: Sequence[Entry]) -> int:
    failed = 0
    for entry in entries:
        try:
            deleted = api.delete_image(entry.id, missing_ok=True)
        except Exception as exc:  # noqa: BLE001 - go on with the others
            failed += 1
            console.line(f"FAIL    {entry.name}  {entry.id}  delete: {error_text(exc)}")
            continue
        console.line(f"DELETE  {entry.name}  {entry.id}  {'deleted' if deleted else 'was gone'}")
    return EXIT_FAILED if failed else EXIT_OK


def _positive(kind: str, upper: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{kind}: not a whole number: {text!r}") from None
        if not 1 <= value <= upper:
            raise argparse.ArgumentTypeError(f"{kind}: {value} is not from 1 to {upper}")
        return value

    return parse


EPILOG = (
    textwrap.dedent(
        """\
    A ledger is JSON: {"format": 1, "cloud": ..., "created": ..., "algo": "sha512",
    "images": [{"id", "name", "size", "md5", "sha512"}, ...]}. Image i is SIZE MiB
    plus i bytes of random data, raw/bare, private, named PREFIX-<random>-i.

    exit codes:
      0  every image recorded / intact (and deleted, with --delete)
      1  an image failed its check, or could not be recorded or deleted
      2  usage or input error (bad option, unreadable or invalid ledger, ...)
      3  Keystone or Glance could not be reached or authenticated
    """
    )
    + "\n"
    + AUTH_HELP
)


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser; ``argv`` is read ahead for the SDK's auth options (see
    ``command.add_cloud_options``)."""
    p = Parser(
        prog=PROG,
        description="Record images of random data in Glance, and prove later that they are "
        "intact: still active, same checksum and sha512 in Glance, same bytes on download.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    rec = sub.add_parser(
        "record",
        help="upload images of random data and write the ledger",
        description="Upload COUNT images of random data (hashed while streamed) and write "
        "their ids and digests to the ledger FILE, after each image.",
    )
    add_cloud_options(rec, argv, own_timeout=True)
    rec.add_argument("--out", metavar="FILE", required=True, help="the ledger to write")
    rec.add_argument(
        "--count",
        metavar="N",
        type=_positive("--count", MAX_COUNT),
        default=3,
        help=f"how many images (1 to {MAX_COUNT}, default: %(default)s)",
    )
    rec.add_argument(
        "--size-mib",
        metavar="M",
        type=_positive("--size-mib", MAX_SIZE_MIB),
        default=8,
        help="MiB of random data per image (plus a few bytes; default: %(default)s)",
    )
    rec.add_argument(
        "--name-prefix",
        metavar="PREFIX",
        default=PROG,
        help="image names start with this (default: %(default)s)",
    )
    rec.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=DEFAULT_TIMEOUT,
        help="how long to wait for each image to become active (default: %(default)g)",
    )

    chk = sub.add_parser(
        "check",
        help="prove every recorded image is intact",
        description="For every image in the ledger: status active; size, checksum (md5), "
        "os_hash_algo and os_hash_value equal the recorded ones; the downloaded bytes "
        "(streamed) have the recorded size, md5 and sha512. One line per image.",
    )
    add_cloud_options(chk, argv)
    chk.add_argument("--in", dest="ledger", metavar="FILE", required=True, help="the ledger")
    chk.add_argument(
        "--delete", action="store_true", help="then delete the recorded images (also if one failed)"
    )
    chk.add_argument(
        "--store-dir",
        metavar="DIR",
        action="append",
        default=[],
        help="a file store directory of the Glance host (repeatable): each image's file "
        "DIR/<id> must be in one of them with the recorded size, md5 and sha512, read "
        "from the disk, not through the API or its image cache",
    )
    chk.add_argument(
        "--host-root",
        metavar="DIR",
        help="the Glance host's / as mounted here (e.g. podman mount): --store-dir is read "
        "under it",
    )

    fgt = sub.add_parser(
        "forget",
        help="delete the recorded images without checking them",
        description="Delete every image in the ledger (an image already gone is fine).",
    )
    add_cloud_options(fgt, argv)
    fgt.add_argument("--in", dest="ledger", metavar="FILE", required=True, help="the ledger")
    return p


def _store_dirs(args: argparse.Namespace) -> list[Path]:
    """check's --store-dir directories as paths on this machine (under --host-root)."""
    root = Path(args.host_root) if args.host_root else None
    if root is not None and not root.is_dir():
        raise ConfigError(f"--host-root {root}: not a directory")
    return [local_dir_option("--store-dir", text, root) for text in args.store_dir]


def _run(args: argparse.Namespace, console: Console) -> int:
    if args.command == "record":
        out = Path(args.out)
        check_writable(out, "--out")
        check_name_prefix("--name-prefix", args.name_prefix)
        check_timeout(args.timeout)
        quiet_sdk_logging(args.debug)
        api = GlanceApi(connect(cloud_options(args)))
        return run_record(
            api,
            console,
            out=out,
            count=args.count,
            size_mib=args.size_mib,
            cloud=cloud_name(args),
            prefix=args.name_prefix,
            timeout=args.timeout,
        )
    entries = read_ledger(Path(args.ledger))
    store_dirs = _store_dirs(args) if args.command == "check" else []
    quiet_sdk_logging(args.debug)
    api = GlanceApi(connect(cloud_options(args)))
    if args.command == "forget":
        return run_forget(api, console, entries)
    code = run_check(api, console, entries, store_dirs)
    if args.delete:
        code = max(code, run_forget(api, console, entries))
    return code


def main(argv: Sequence[str] | None = None, console: Console | None = None) -> int:
    args = default_argv(argv)
    return run_command(
        console if console is not None else Console(PROG),
        lambda con: _run(build_parser(args).parse_args(args), con),
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
