"""Look for secrets in everything a test run left behind, in the forms a leak takes.

    python tests/tools/secret_scan.py --secret-file CREDENTIALS/glance_db_password \\
        --secret-lines EPHEMERAL/verify-secrets --path reports/molecule-default.log \\
        --path /var/lib/containers/.../merged/var/log --exclude EPHEMERAL/credentials

Each secret is searched raw, URL-encoded, escaped as the roles write it (ini, JSON,
shell, URL), in base64 (standard and URL-safe, at each of the three alignments it
can have inside a longer encoded string, e.g. ``user:password`` in a Basic auth
header) and in hex (lower and upper case), in every file under each ``--path``
(files or directories, recursively, binary files too), except ``--exclude``.
A finding names the secret and the file, never the value. Exit codes: 0 nothing found,
1 a secret was found, 2 usage error (no secret, a secret file missing or too short).
"""

from __future__ import annotations

import argparse
import base64
import json
import shlex
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

#: Shorter strings would match by chance; every generated secret is far longer.
MIN_LENGTH = 8


@dataclass(frozen=True)
class Secret:
    name: str
    value: str


def base64_forms(data: bytes) -> set[bytes]:
    """The base64 text that encodes ``data`` wherever it sits in a longer byte string:
    for each offset (0, 1, 2) mod 3, the characters that only ``data``'s bits decide."""
    forms = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data + b"\0\0")
        first = -(-8 * offset // 6)  # ceil: the first character without padding bits
        last = (8 * (offset + len(data)) - 6) // 6  # the last one without trailing bits
        core = encoded[first : last + 1]
        forms.add(core)
        forms.add(core.translate(bytes.maketrans(b"+/", b"-_")))
    return forms


def forms(secret: str) -> dict[str, set[bytes]]:
    """Every form to search for, by kind."""
    raw = secret.encode()
    return {
        "raw": {raw},
        "url-encoded": {quote(secret, safe="").encode(), quote_plus(secret).encode()},
        "base64": base64_forms(raw),
        "hex": {raw.hex().encode(), raw.hex().upper().encode()},
        # How the roles write it into each file (issue #14): an oslo.config value
        # ('$' doubled), a JSON/YAML string, a shell word, keystone.conf's raw URL
        # password, a URL doubled for ConfigParser (alembic), Python's repr.
        "escaped": {
            f.encode()
            for f in (
                secret.replace("$", "$$"),
                json.dumps(secret)[1:-1],
                json.dumps(secret, ensure_ascii=False)[1:-1],
                shlex.quote(secret),
                secret.replace("%", "%25").replace("@", "%40"),
                quote(secret, safe="").replace("%", "%%"),
                repr(secret)[1:-1],
            )
        },
    }


def files_under(paths: Sequence[Path], excludes: Sequence[Path]) -> Iterator[Path]:
    skip = [e.resolve() for e in excludes]

    def excluded(path: Path) -> bool:
        resolved = path.resolve()
        return any(resolved == e or e in resolved.parents for e in skip)

    for top in paths:
        if excluded(top):
            continue
        if top.is_file():
            yield top
        elif top.is_dir():
            for path in sorted(top.rglob("*")):
                if path.is_file() and not path.is_symlink() and not excluded(path):
                    yield path


def scan(secrets: Sequence[Secret], files: Sequence[Path]) -> list[str]:
    """``secret (form) -> file`` for each secret found in a file, in any form."""
    needles = [
        (s.name, kind, n) for s in secrets for kind, ns in forms(s.value).items() for n in ns
    ]
    found: list[str] = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            found.append(f"cannot read {path}: {exc.strerror}")
            continue
        hits = {f"{name} ({kind})" for name, kind, needle in needles if needle in data}
        found += [f"{hit} -> {path}" for hit in sorted(hits)]
    return found


def read_secrets(single: Sequence[str], lines: Sequence[str]) -> list[Secret]:
    """--secret-file: the file's first line is one secret. --secret-lines: each line is one
    (a missing file there holds none yet)."""
    secrets = []
    for name in single:
        path = Path(name)
        if not path.is_file():
            raise ValueError(f"--secret-file {name}: no such file")
        value = path.read_text(encoding="utf-8").splitlines()[0] if path.stat().st_size else ""
        secrets.append(Secret(path.name, value))
    for name in lines:
        path = Path(name)
        if path.is_file():
            for number, value in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                secrets.append(Secret(f"{path.name}:{number}", value))
    short = [s.name for s in secrets if len(s.value) < MIN_LENGTH]
    if short:
        raise ValueError(
            f"shorter than {MIN_LENGTH} characters, cannot scan for: {', '.join(short)}"
        )
    if not secrets:
        raise ValueError("no secret to scan for")
    return secrets


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--secret-file", action="append", default=[], metavar="FILE")
    parser.add_argument("--secret-lines", action="append", default=[], metavar="FILE")
    parser.add_argument("--path", action="append", default=[], metavar="PATH", required=True)
    parser.add_argument("--exclude", action="append", default=[], metavar="PATH")
    args = parser.parse_args(argv)
    try:
        secrets = read_secrets(args.secret_file, args.secret_lines)
    except ValueError as exc:
        print(f"secret-scan: error: {exc}", file=sys.stderr)
        return 2
    missing = [p for p in args.path if not Path(p).exists()]
    if missing:
        print(f"secret-scan: error: no such path: {', '.join(missing)}", file=sys.stderr)
        return 2
    files = list(files_under([Path(p) for p in args.path], [Path(e) for e in args.exclude]))
    found = scan(secrets, files)
    size = sum(f.stat().st_size for f in files)
    print(
        f"secret-scan: {len(secrets)} secrets x raw/url-encoded/escaped/base64/hex in {len(files)} "
        f"files ({size} bytes) under: {', '.join(args.path)}"
    )
    for line in found:
        print(f"FOUND {line}")
    print(f"secret-scan: {len(found)} findings")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
