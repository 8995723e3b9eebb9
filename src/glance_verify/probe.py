"""``glance-probe``: keep asking Glance at a fixed interval while something happens to it
(a node stopped behind the load balancer, an OSD restarted, an upgrade), then say which
requests failed and when.

Loops, each in a thread of its own, one request every ``--interval`` seconds:

* ``read``: download ``--read IMAGE`` and compare its sha512 with the image's
  ``os_hash_value`` (read once at the start);
* ``list``: ``GET /v2/images`` (``--list``);
* ``write``: create an image and upload ``--write-kib`` KiB of fresh random data
  (``--write``); at the end every image the writer created is read back: one that is
  ``active`` must have the md5 and sha512 of what was sent and download as sent, else
  it is *wrong data* (so is an active one that cannot be downloaded).

They run for ``--duration`` seconds or until ``--stop-file`` appears. The summary (JSON,
``--json``) has, per loop, the request count, the failures with their wall-clock start
and end (epoch seconds) and error, and the failure windows: runs of consecutive failed
requests, from the first one's start to the next good request's start (the API was
failing at least that long). The written images are deleted at the end unless ``--keep``.

Exit codes: 0 the probe ran (failures are the summary's subject, not an error of the
probe), 1 an active image holds other data than the writer sent, 2 bad usage,
3 the cloud could not be reached at the start.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from glance_verify import __version__
from glance_verify.cloud import GlanceApi, connect, hash_download, quiet_sdk_logging
from glance_verify.command import (
    AUTH_HELP,
    EXIT_FAILED,
    EXIT_OK,
    Parser,
    add_cloud_options,
    check_name_prefix,
    cloud_options,
    default_argv,
    run_command,
)
from glance_verify.console import Console
from glance_verify.errors import CheckFailed, ConfigError, error_text
from glance_verify.report import check_writable

PROG = "glance-probe"
#: Failures kept in the summary per loop (the counts and windows cover all of them).
MAX_LISTED = 200
MAX_DURATION = 3600.0


@dataclass(frozen=True)
class Outcome:
    """One request of a loop: when it started and ended (epoch seconds), and its error
    ("" when it succeeded)."""

    start: float
    end: float
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass
class Written:
    """An image the writer created: what it sent, and what Glance shows at the end."""

    id: str
    md5: str
    sha512: str
    size: int = 0  # bytes sent
    started: float = 0.0  # epoch seconds, when the writer created it
    upload: str = ""  # "" when the upload answered 204, else what went wrong
    status: str | None = None
    verdict: str = ""


# --- pure logic: failure windows and verdicts ---------------------------------------------


def failure_windows(outcomes: Sequence[Outcome]) -> list[tuple[float, float]]:
    """Runs of consecutive failed requests (in start order) as (from, to): from the first
    failed request's start to the start of the next request that succeeded, or to the last
    failed request's end when none followed."""
    windows: list[tuple[float, float]] = []
    begin: float | None = None
    last_end = 0.0
    for outcome in sorted(outcomes, key=lambda o: o.start):
        if not outcome.ok:
            if begin is None:
                begin = outcome.start
            last_end = max(last_end, outcome.end)
        elif begin is not None:
            windows.append((begin, outcome.start))
            begin = None
    if begin is not None:
        windows.append((begin, last_end))
    return windows


def loop_summary(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """A loop's figures: requests, failed, first/last failure start, the failure windows
    and their total seconds, and the failures themselves (at most MAX_LISTED)."""
    failed = sorted((o for o in outcomes if not o.ok), key=lambda o: o.start)
    windows = failure_windows(outcomes)
    return {
        "requests": len(outcomes),
        "failed": len(failed),
        "first_failure": round(failed[0].start, 3) if failed else None,
        "last_failure": round(failed[-1].start, 3) if failed else None,
        "failed_seconds": round(sum(to - since for since, to in windows), 3),
        "windows": [[round(since, 3), round(to, 3)] for since, to in windows],
        "failures": [
            {"start": round(o.start, 3), "end": round(o.end, 3), "error": o.error}
            for o in failed[:MAX_LISTED]
        ],
    }


def written_verdict(image: Written, shown: Mapping[str, Any] | None) -> str:
    """What became of a written image: ``active, intact``, ``wrong data: ...`` (active,
    but Glance's checksum or os_hash_value is not what was sent), or its other state."""
    if shown is None:
        return "gone"
    status = shown.get("status")
    if status != "active":
        return f"not active ({status})"
    wrong = [
        f"{key} {shown.get(key)!r}, sent {sent}"
        for key, sent in (("checksum", image.md5), ("os_hash_value", image.sha512))
        if shown.get(key) != sent
    ]
    if shown.get("os_hash_algo") != "sha512":
        wrong.append(f"os_hash_algo {shown.get('os_hash_algo')!r}, expected sha512")
    return "wrong data: " + "; ".join(wrong) if wrong else "active, intact"


def is_wrong_data(image: Written) -> bool:
    """An active image not shown to hold what was sent: its figures or its download
    differ, or it could not be read back."""
    return image.verdict.startswith("wrong data") or (
        image.status == "active" and image.verdict.startswith("not read back")
    )


# --- the loops ----------------------------------------------------------------------------


@dataclass
class Loop:
    """Call ``request`` every ``interval`` seconds until ``stop`` is set; record outcomes."""

    name: str
    request: Callable[[], None]
    interval: float
    outcomes: list[Outcome] = field(default_factory=list)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            start = time.time()
            error = ""
            try:
                self.request()
            except Exception as exc:  # noqa: BLE001 - a failed request is what we count
                error = error_text(exc) or type(exc).__name__
            self.outcomes.append(Outcome(start, time.time(), error))
            stop.wait(max(0.0, start + self.interval - time.time()))


def reader(api: GlanceApi, image_id: str) -> Callable[[], None]:
    image = api.get_image(image_id)
    if image is None or image.get("status") != "active":
        raise ConfigError(f"--read {image_id}: no such active image")
    want = image.get("os_hash_value")
    algo = str(image.get("os_hash_algo") or "sha512")

    def read() -> None:
        got, _ = hash_download(api, image_id, algo)
        if got.value != want:
            raise CheckFailed(f"downloaded {algo} {got.value[:16]}..., expected {want}")

    return read


def lister(api: GlanceApi) -> Callable[[], None]:
    def list_images() -> None:
        api.list_images(limit=20)

    return list_images


def writer(api: GlanceApi, size: int, prefix: str, written: list[Written]) -> Callable[[], None]:
    def write() -> None:
        started = time.time()
        data = os.urandom(size)
        image = api.create_image(
            name=f"{prefix}-{len(written) + 1}",
            disk_format="raw",
            container_format="bare",
            visibility="private",
        )
        entry = Written(
            id=str(image["id"]),
            md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
            sha512=hashlib.sha512(data).hexdigest(),
            size=size,
            started=round(started, 3),
        )
        written.append(entry)
        # A file object: sent with a Content-Length (a list would be form-encoded).
        status, text = api.try_upload(entry.id, io.BytesIO(data))
        if status != 204:
            entry.upload = text
            raise CheckFailed(text)

    return write


def run_probe(
    loops: Sequence[Loop], *, duration: float, stop_file: Path | None, poll: float = 0.1
) -> tuple[float, float]:
    """Run the loops side by side until ``duration`` has passed or ``stop_file`` exists;
    (start, end) as epoch seconds."""
    stop = threading.Event()
    threads = [threading.Thread(target=loop.run, args=(stop,), name=loop.name) for loop in loops]
    started = time.time()
    for thread in threads:
        thread.start()
    try:
        while time.time() - started < duration and not (stop_file and stop_file.exists()):
            time.sleep(poll)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    return started, time.time()


def settle_written(api: GlanceApi, written: Sequence[Written], keep: bool) -> None:
    """Read every written image back for its verdict (an active one also downloaded: its
    sha512 must be what was sent, and a download that fails is no proof: *not read back*);
    delete it unless ``keep``."""
    for entry in written:
        try:
            shown = api.get_image(entry.id)
            entry.status = None if shown is None else str(shown.get("status"))
            entry.verdict = written_verdict(entry, shown)
            if shown is not None and entry.status == "active":
                got, _ = hash_download(api, entry.id, "sha512")
                if got.value != entry.sha512:
                    # Glance's own figures too: they tell a store that lost data from
                    # an upload that stored what it was given.
                    entry.verdict = (
                        f"wrong data: downloaded sha512 {got.value[:16]}..., "
                        f"size {shown.get('size')} (sent {entry.size}), "
                        f"checksum {shown.get('checksum')} (sent {entry.md5})"
                    )
        except Exception as exc:  # noqa: BLE001 - one image's trouble is its own verdict
            entry.verdict = f"not read back: {error_text(exc)}"
        if not keep:
            with contextlib.suppress(Exception):
                api.delete_image(entry.id, missing_ok=True)


def summary(
    started: float, ended: float, interval: float, loops: Sequence[Loop], written: Sequence[Written]
) -> dict[str, Any]:
    return {
        "tool": f"{PROG} {__version__}",
        "started": round(started, 3),
        "ended": round(ended, 3),
        "interval": interval,
        "loops": {loop.name: loop_summary(loop.outcomes) for loop in loops},
        "written": [asdict(entry) for entry in written],
        "wrong_data": [e.id for e in written if is_wrong_data(e)],
    }


# --- command line -------------------------------------------------------------------------


def _seconds(kind: str, upper: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{kind}: not a number: {text!r}") from None
        if not 0 < value <= upper:
            raise argparse.ArgumentTypeError(f"{kind}: {value:g} is not in (0, {upper:g}]")
        return value

    return parse


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    p = Parser(
        prog=PROG,
        description="Read, list and/or write images at a fixed interval while Glance is "
        "disturbed; report which requests failed and when (JSON).",
        epilog=AUTH_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_cloud_options(p, argv)
    p.add_argument("--read", metavar="IMAGE", help="download this active image in a loop")
    p.add_argument("--list", action="store_true", help="list images in a loop")
    p.add_argument("--write", action="store_true", help="create and upload images in a loop")
    p.add_argument(
        "--write-kib",
        metavar="K",
        type=int,
        default=64,
        help="KiB of random data per written image (default: %(default)s)",
    )
    p.add_argument(
        "--interval",
        metavar="SECONDS",
        type=_seconds("--interval", 60),
        default=0.2,
        help="start a loop's requests this far apart (default: %(default)s)",
    )
    p.add_argument(
        "--duration",
        metavar="SECONDS",
        type=_seconds("--duration", MAX_DURATION),
        default=60.0,
        help="stop after this long at the latest (default: %(default)s)",
    )
    p.add_argument(
        "--request-timeout",
        metavar="SECONDS",
        type=_seconds("--request-timeout", 600),
        default=30.0,
        help="a request whose socket stalls this long fails (default: %(default)s); an "
        "upload cut off behind a load balancer may otherwise hang for its timeouts",
    )
    p.add_argument("--stop-file", metavar="FILE", help="stop as soon as this file exists")
    p.add_argument("--json", metavar="FILE", help="write the summary here (default: stdout)")
    p.add_argument("--keep", action="store_true", help="keep the written images")
    p.add_argument(
        "--name-prefix", metavar="PREFIX", default=PROG, help="written images' names start so"
    )
    return p


def _run(args: argparse.Namespace, console: Console) -> int:
    if not (args.read or args.list or args.write):
        raise ConfigError("nothing to probe: give --read IMAGE, --list and/or --write")
    if not 1 <= args.write_kib <= 1024 * 1024:
        raise ConfigError(f"--write-kib {args.write_kib}: give 1 to 1048576 KiB")
    check_name_prefix("--name-prefix", args.name_prefix)
    out = Path(args.json) if args.json else None
    if out is not None:
        check_writable(out, "--json")
    stop_file = Path(args.stop_file) if args.stop_file else None
    if stop_file is not None and stop_file.exists():
        raise ConfigError(f"--stop-file {stop_file}: exists already; remove it first")
    quiet_sdk_logging(args.debug)
    options = cloud_options(args)
    timeout = int(max(1, args.request_timeout))

    def open_api() -> GlanceApi:
        return GlanceApi(connect(options, api_timeout=timeout))

    loops: list[Loop] = []
    written: list[Written] = []
    # A connection per loop: the threads share no HTTP session.
    if args.read:
        loops.append(Loop("read", reader(open_api(), args.read), args.interval))
    if args.list:
        loops.append(Loop("list", lister(open_api()), args.interval))
    writer_api = open_api() if args.write else None
    if writer_api is not None:
        prefix = f"{args.name_prefix}-{os.getpid()}"
        loops.append(Loop("write", writer(writer_api, args.write_kib * 1024, prefix, written),
                          args.interval))  # fmt: skip
    started, ended = run_probe(loops, duration=args.duration, stop_file=stop_file)
    if writer_api is not None:
        settle_written(writer_api, written, args.keep)
    document = summary(started, ended, args.interval, loops, written)
    text = json.dumps(document, indent=2) + "\n"
    if out is None:
        console.line(text.rstrip("\n"))
    else:
        out.write_text(text, encoding="utf-8")
    for name, figures in document["loops"].items():
        console.notice(
            f"{name}: {figures['requests']} requests, {figures['failed']} failed, "
            f"failing {figures['failed_seconds']:g} s"
        )
    if document["wrong_data"]:
        console.error(f"active images with other data than sent: {document['wrong_data']}")
        return EXIT_FAILED
    return EXIT_OK


def main(argv: Sequence[str] | None = None, console: Console | None = None) -> int:
    args = default_argv(argv)
    return run_command(
        console if console is not None else Console(PROG),
        lambda con: _run(build_parser(args).parse_args(args), con),
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
