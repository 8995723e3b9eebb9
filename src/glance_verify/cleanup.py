"""Undo everything the run created: a stack of cleanups, and signal handling around it."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from glance_verify.errors import Interrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class CleanupResult:
    description: str
    ok: bool
    duration: float
    error: str | None = None


class CleanupStack:
    """Register an undo right after each create; ``run`` undoes in reverse order.

    A failing cleanup is recorded and the next one still runs, so one leftover never
    hides another, and the run's first failure stays the one reported first.
    """

    def __init__(self) -> None:
        self._items: list[tuple[str, Callable[[], object]]] = []

    def push(self, description: str, func: Callable[[], object]) -> None:
        self._items.append((description, func))

    def __len__(self) -> int:
        return len(self._items)

    def run(self) -> list[CleanupResult]:
        results: list[CleanupResult] = []
        while self._items:
            description, func = self._items.pop()
            start = time.monotonic()
            try:
                func()
            except Exception as exc:  # noqa: BLE001 - report it and go on with the rest
                error = str(exc) or type(exc).__name__
                results.append(CleanupResult(description, False, time.monotonic() - start, error))
            else:
                results.append(CleanupResult(description, True, time.monotonic() - start))
        return results


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


class SignalGuard:
    """SIGINT/SIGTERM raise ``Interrupted`` once; later ones (and any after ``defer()``) are
    only noted, so that the cleanups that follow are not cut short.

    Use as a context manager around the whole run including its cleanup; the previous
    handlers come back on exit.
    """

    def __init__(self, notice: Callable[[str], None]) -> None:
        self.notice = notice
        self.received: list[str] = []
        self._deferred = False
        self._previous: dict[int, object] = {}

    def defer(self) -> None:
        """From now on, note signals instead of raising."""
        self._deferred = True

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        self.received.append(name)
        if self._deferred:
            self.notice(f"{name} received: still removing what this run created, please wait")
            return
        self._deferred = True
        raise Interrupted(name)

    def __enter__(self) -> SignalGuard:
        if _in_main_thread():
            self._previous = {sig: signal.signal(sig, self._handler) for sig in SIGNALS}
        return self

    def __exit__(self, *exc_info: object) -> None:
        for sig, old in self._previous.items():
            signal.signal(sig, old)  # type: ignore[arg-type]
        self._previous = {}
