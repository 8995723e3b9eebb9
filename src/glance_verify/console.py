"""Where glance-verify and glance-ledger write: stdout for the report, stderr for the rest."""

from __future__ import annotations

import sys
from typing import TextIO


class Console:
    """``line``: the report (stdout), always; ``info``: report lines that ``quiet`` leaves
    out; ``notice`` and ``error``: ``PROG: ...`` and ``PROG: error: ...`` on stderr.
    ``copy``: a file that gets each of these lines too, as it is printed (for a caller
    that captures the output and follows the file meanwhile)."""

    def __init__(
        self,
        prog: str,
        *,
        quiet: bool = False,
        out: TextIO | None = None,
        err: TextIO | None = None,
    ) -> None:
        self.prog = prog
        self.quiet = quiet
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self.copy: TextIO | None = None

    def _copy(self, text: str) -> None:
        if self.copy is not None:
            print(text, file=self.copy, flush=True)

    def line(self, text: str) -> None:
        print(text, file=self.out, flush=True)
        self._copy(text)

    def info(self, text: str) -> None:
        if not self.quiet:
            self.line(text)

    def notice(self, text: str) -> None:
        print(f"{self.prog}: {text}", file=self.err, flush=True)
        self._copy(f"{self.prog}: {text}")

    def error(self, text: str) -> None:
        print(f"{self.prog}: error: {text}", file=self.err, flush=True)
        self._copy(f"{self.prog}: error: {text}")
