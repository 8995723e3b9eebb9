"""A small progress bar on stderr, drawn only when stderr is a terminal; or progress lines
in a file that another program follows (glance-verify --progress-file)."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

WIDTH = 30
#: Redraw at most this often (seconds).
INTERVAL = 0.1
#: In a file (not a terminal), a new line at most this often, and at the end.
LINE_INTERVAL = 1.0


def human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(count) < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def render(label: str, done: int, total: int, elapsed: float) -> str:
    """One line of progress, e.g. ``upload  [#######-----]  45%  12.0/27.0 MiB  98.1 MiB/s``."""
    fraction = min(done / total, 1.0) if total > 0 else 1.0
    filled = int(fraction * WIDTH)
    bar = "#" * filled + "-" * (WIDTH - filled)
    rate = done / elapsed if elapsed > 0 else 0.0
    return (
        f"{label:<9}[{bar}] {fraction * 100:3.0f}%  "
        f"{human_bytes(done)}/{human_bytes(total)}  {human_bytes(rate)}/s"
    )


class ProgressBar:
    """Call the instance with byte counts; use it as a context manager to clear the line.
    With ``lines`` (a file another program follows), each update is a line of its own."""

    def __init__(
        self,
        label: str,
        total: int,
        *,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        lines: bool = False,
    ) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._stream = stream if stream is not None else sys.stderr
        if enabled is None:
            enabled = self._stream.isatty()
        self.enabled = enabled
        self._lines = lines
        self._start = time.monotonic()
        self._last = 0.0

    def __call__(self, count: int) -> None:
        self.done += count
        if not self.enabled:
            return
        now = time.monotonic()
        finished = self.done >= self.total
        if now - self._last >= (LINE_INTERVAL if self._lines else INTERVAL) or finished:
            self._last = now
            line = render(self.label, self.done, self.total, now - self._start)
            self._stream.write(line + "\n" if self._lines else "\r" + line)
            self._stream.flush()

    def close(self) -> None:
        if self.enabled and not self._lines:
            self._stream.write("\r\033[K")
            self._stream.flush()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
