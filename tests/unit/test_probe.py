"""glance-probe: the failure-window arithmetic, the written images' verdicts, the loop's
timing and the command line's refusals (no cloud is reached in any of them)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glance_verify.console import Console
from glance_verify.probe import (
    PROG,
    Loop,
    Outcome,
    Written,
    failure_windows,
    is_wrong_data,
    loop_summary,
    main,
    run_probe,
    settle_written,
    written_verdict,
)


def ok(start: float) -> Outcome:
    return Outcome(start, start + 0.05)


def bad(start: float, end: float | None = None) -> Outcome:
    return Outcome(start, start + 0.05 if end is None else end, "HTTP 503")


# --- failure windows --------------------------------------------------------------------


def test_no_failure_no_window() -> None:
    assert failure_windows([ok(0), ok(1), ok(2)]) == []
    assert failure_windows([]) == []


def test_a_run_of_failures_lasts_until_the_next_good_request_starts() -> None:
    outcomes = [ok(0.0), bad(0.2), bad(0.4), bad(0.6), ok(0.8), ok(1.0)]
    assert failure_windows(outcomes) == [(0.2, 0.8)]


def test_two_runs_are_two_windows_and_order_of_recording_does_not_matter() -> None:
    outcomes = [ok(3.0), bad(1.0), ok(0.0), bad(2.5), ok(1.5), bad(1.2)]
    assert failure_windows(outcomes) == [(1.0, 1.5), (2.5, 3.0)]


def test_failing_to_the_end_closes_at_the_last_failures_end() -> None:
    outcomes = [ok(0.0), bad(1.0, 1.3), bad(1.2, 4.0), bad(1.4, 1.6)]
    assert failure_windows(outcomes) == [(1.0, 4.0)]


def test_summary_counts_and_seconds() -> None:
    outcomes = [ok(10.0), bad(10.2), bad(10.4), ok(10.6), bad(11.0, 11.5)]
    figures = loop_summary(outcomes)
    assert figures["requests"] == 5
    assert figures["failed"] == 3
    assert figures["first_failure"] == 10.2
    assert figures["last_failure"] == 11.0
    assert figures["windows"] == [[10.2, 10.6], [11.0, 11.5]]
    assert figures["failed_seconds"] == pytest.approx(0.9)
    assert [f["start"] for f in figures["failures"]] == [10.2, 10.4, 11.0]
    assert figures["failures"][0]["error"] == "HTTP 503"


def test_summary_without_failures() -> None:
    figures = loop_summary([ok(1.0), ok(2.0)])
    assert figures["failed"] == 0
    assert figures["first_failure"] is None
    assert figures["last_failure"] is None
    assert figures["failed_seconds"] == 0
    assert figures["failures"] == []


# --- written images ---------------------------------------------------------------------

MD5, SHA = "a" * 32, "b" * 128


def shown(**changes: object) -> dict[str, object]:
    image: dict[str, object] = {
        "status": "active",
        "checksum": MD5,
        "os_hash_algo": "sha512",
        "os_hash_value": SHA,
    }
    image.update(changes)
    return image


def test_an_active_image_with_the_sent_hashes_is_intact() -> None:
    assert written_verdict(Written("i", MD5, SHA), shown()) == "active, intact"


def test_an_active_image_with_other_hashes_is_wrong_data() -> None:
    verdict = written_verdict(Written("i", MD5, SHA), shown(os_hash_value="c" * 128))
    assert verdict.startswith("wrong data: os_hash_value")
    verdict = written_verdict(Written("i", MD5, SHA), shown(checksum=None))
    assert verdict.startswith("wrong data: checksum None")


def test_an_image_that_never_became_active_is_not_wrong_data() -> None:
    assert written_verdict(Written("i", MD5, SHA), shown(status="queued")) == "not active (queued)"
    assert written_verdict(Written("i", MD5, SHA), None) == "gone"


class ReadBack:
    """Glance as settle_written sees it: one image record, its download (or an error)."""

    def __init__(self, image: dict[str, Any], body: bytes | Exception) -> None:
        self.image, self.body, self.deleted = image, body, False

    def get_image(self, image_id: str) -> dict[str, Any]:
        return self.image

    @contextlib.contextmanager
    def download(self, image_id: str) -> Iterator[Any]:
        body = self.body

        class Response:
            def __init__(self) -> None:
                self.headers: dict[str, str] = {}

            def iter_content(self, size: int) -> Iterator[bytes]:
                if isinstance(body, Exception):
                    raise body
                yield body

        yield Response()

    def delete_image(self, image_id: str, missing_ok: bool = False) -> bool:
        self.deleted = True
        return True


def test_an_active_image_that_downloads_empty_is_wrong_data_and_says_glances_figures() -> None:
    entry = Written("i", MD5, SHA, size=262144)
    api = ReadBack(shown(size=0), b"")
    settle_written(api, [entry], keep=False)  # type: ignore[arg-type]
    assert entry.verdict.startswith("wrong data: downloaded sha512 cf83e1357eefb8bd")
    assert "size 0 (sent 262144)" in entry.verdict
    assert is_wrong_data(entry) and api.deleted


def test_an_active_image_whose_download_fails_is_not_taken_as_intact() -> None:
    entry = Written("i", MD5, SHA, size=3)
    settle_written(ReadBack(shown(), OSError("connection broke")), [entry], keep=True)  # type: ignore[arg-type]
    assert entry.verdict.startswith("not read back:") and "connection broke" in entry.verdict
    assert is_wrong_data(entry)


def test_an_active_image_that_downloads_what_was_sent_is_intact() -> None:
    entry = Written(
        "i",
        hashlib.md5(b"abc", usedforsecurity=False).hexdigest(),
        hashlib.sha512(b"abc").hexdigest(),
    )
    image = shown(checksum=entry.md5, os_hash_value=entry.sha512)
    settle_written(ReadBack(image, b"abc"), [entry], keep=True)  # type: ignore[arg-type]
    assert entry.verdict == "active, intact" and not is_wrong_data(entry)


# --- the loop -----------------------------------------------------------------------------


def test_loop_keeps_its_interval_and_records_errors() -> None:
    calls: list[float] = []

    def request() -> None:
        calls.append(time.time())
        if len(calls) % 2 == 0:
            raise RuntimeError("refused")

    loop = Loop("read", request, 0.05)
    started, ended = run_probe([loop], duration=0.5, stop_file=None, poll=0.01)
    assert 0.5 <= ended - started < 1.0
    assert 6 <= len(loop.outcomes) <= 11
    assert [o.ok for o in loop.outcomes[:4]] == [True, False, True, False]
    assert loop.outcomes[1].error == "RuntimeError: refused"
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert min(gaps) >= 0.045


def test_the_stop_file_ends_the_probe(tmp_path: Path) -> None:
    stop = tmp_path / "stop"
    loop = Loop("list", lambda: None, 0.05)
    threading.Timer(0.2, stop.touch).start()
    started, ended = run_probe([loop], duration=30, stop_file=stop, poll=0.01)
    assert ended - started < 2
    assert loop.outcomes


# --- command line -------------------------------------------------------------------------


def run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    code = main(argv, Console(PROG, out=io.StringIO(), err=err))
    return code, err.getvalue()


def test_nothing_to_probe_is_a_usage_error() -> None:
    code, err = run(["--duration", "1"])
    assert code == 2
    assert "nothing to probe" in err


def test_an_existing_stop_file_is_refused(tmp_path: Path) -> None:
    stop = tmp_path / "stop"
    stop.touch()
    code, err = run(["--list", "--stop-file", str(stop)])
    assert code == 2
    assert "exists already" in err


@pytest.mark.parametrize("flag", ["--interval", "--duration"])
def test_seconds_must_be_positive(flag: str) -> None:
    code, err = run(["--list", flag, "0"])
    assert code == 2
    assert flag in err
