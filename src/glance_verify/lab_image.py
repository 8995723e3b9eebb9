"""``glance-lab-image``: write the verifier's offline fallback image to a file, to keep.

The lab keeps one public image in its cloud (issue #16). When no cirros file is given
and none can be downloaded, the playbooks keep this one instead: the image glance-verify
builds when it is offline (``source.build_fallback_image``: random data in a sparse disk,
converted with qemu-img), written once to the path given, so that its hashes stay the
same from run to run. It is a real image of the disk format asked for, but it boots
nothing: never name it cirros.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from glance_verify import __version__
from glance_verify.command import EXIT_OK, Parser, default_argv, run_command
from glance_verify.console import Console
from glance_verify.errors import ConfigError
from glance_verify.source import QEMU_FORMATS, build_fallback_image, find_qemu_img

PROG = "glance-lab-image"


def build_parser() -> Parser:
    parser = Parser(prog=PROG, description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "path", type=Path, help="the image file to write (its directory must exist)"
    )
    parser.add_argument(
        "--disk-format",
        default="qcow2",
        choices=sorted(QEMU_FORMATS),
        help="Glance disk format of the image (default: qcow2)",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def write_image(path: Path, disk_format: str) -> Path:
    """Build the fallback image next to ``path`` and move it there in one rename (mode
    0644), so that a run cut short never leaves half an image behind."""
    qemu_img = find_qemu_img()
    if qemu_img is None:
        raise ConfigError("qemu-img is not installed (Debian: apt-get install qemu-utils)")
    if not path.parent.is_dir():
        raise ConfigError(f"{path.parent}: no such directory")
    scratch = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        image = build_fallback_image(scratch, disk_format, qemu_img)
        image.chmod(0o644)
        image.replace(path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return path


def _run(args: Sequence[str], console: Console) -> int:
    opts = build_parser().parse_args(args)
    path = write_image(opts.path, opts.disk_format)
    console.line(f"{path}: {opts.disk_format} fallback image, {path.stat().st_size} bytes")
    return EXIT_OK


def main(argv: Sequence[str] | None = None, console: Console | None = None) -> int:
    args = default_argv(argv)
    return run_command(
        console if console is not None else Console(PROG), lambda con: _run(args, con)
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
