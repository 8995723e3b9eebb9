"""The runner: runs the plan's steps in order, times them, skips what does not apply or
whose prerequisites failed, and runs the cleanups whatever happened."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from glance_verify.cleanup import CleanupResult, SignalGuard
from glance_verify.context import Context, Transfer
from glance_verify.errors import (
    CloudUnreachable,
    ConfigError,
    Interrupted,
    StepSkipped,
    error_text,
)
from glance_verify.hashing import Digests
from glance_verify.options import Options
from glance_verify.plan import STEPS, Step, enabled_steps
from glance_verify.source import ImageSource

Status = Literal["pass", "fail", "skip"]


@dataclass(frozen=True)
class StepResult:
    name: str
    status: Status
    duration: float
    detail: str


@dataclass
class RunResult:
    steps: list[StepResult]
    cleanup: list[CleanupResult]
    started: datetime
    duration: float
    image_id: str | None = None
    image_name: str | None = None
    digests: Digests | None = None
    source: ImageSource | None = None
    interrupted: str | None = None
    transfers: dict[str, Transfer] = field(default_factory=dict)
    #: Per import step, the image statuses it saw: {"status", "at" (UTC), "seconds"}.
    import_states: dict[str, list[dict[str, str | float]]] = field(default_factory=dict)
    #: The test image's statuses through the lifecycle steps (Context.image_state).
    image_states: list[dict[str, str | float]] = field(default_factory=list)
    #: The Glance release the run talked to (None when step release did not pass).
    release: str | None = None
    #: With --require-enabled: the steps the options turn on, each of which must pass.
    required: tuple[str, ...] = ()
    #: Per-node and load-balancer findings (steps api-nodes, lb-spread), for the reports.
    nodes: dict[str, object] = field(default_factory=dict)

    @property
    def cleanup_ok(self) -> bool:
        return all(c.ok for c in self.cleanup)

    @property
    def passed(self) -> int:
        return sum(r.status == "pass" for r in self.steps) + (
            1 if self.cleanup and self.cleanup_ok else 0
        )

    @property
    def failed(self) -> int:
        return sum(r.status == "fail" for r in self.steps) + (0 if self.cleanup_ok else 1)

    @property
    def skipped(self) -> int:
        return sum(r.status == "skip" for r in self.steps)

    @property
    def unmet(self) -> list[StepResult]:
        """Required steps (--require-enabled) that were skipped: they fail the run too."""
        return [r for r in self.steps if r.name in self.required and r.status == "skip"]

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.interrupted is None and not self.unmet

    @property
    def first_failure(self) -> StepResult | None:
        return next((r for r in self.steps if r.status == "fail"), None)


def _skip_reason(step: Step, opts: Options, done: dict[str, StepResult]) -> str | None:
    if step.name in opts.skip:
        return "--skip"
    reason = step.not_applicable(opts)
    if reason:
        return reason
    for name in step.requires:
        previous = done.get(name)
        if previous is None or previous.status != "pass":
            state = "skipped" if previous is None or previous.status == "skip" else "failed"
            return f"needs {name} ({state})"
    for name in step.after:
        previous = done.get(name)
        if previous is None or previous.status == "skip":
            return f"{name} did not run"
    return None


def _run_one(step: Step, ctx: Context) -> tuple[StepResult, str | None]:
    """Run one step: its result, and the signal's name if it was interrupted."""
    start = time.monotonic()
    try:
        detail = step.func(ctx)
    except (ConfigError, CloudUnreachable):
        raise
    except Interrupted as exc:
        elapsed = time.monotonic() - start
        return StepResult(step.name, "fail", elapsed, f"interrupted ({exc.signal_name})"), (
            exc.signal_name
        )
    except StepSkipped as exc:
        return StepResult(step.name, "skip", time.monotonic() - start, str(exc)), None
    except Exception as exc:  # noqa: BLE001 - any error fails this step only
        return StepResult(step.name, "fail", time.monotonic() - start, error_text(exc)), None
    return StepResult(step.name, "pass", time.monotonic() - start, detail), None


def run_steps(
    ctx: Context,
    steps: Sequence[Step] = STEPS,
    on_result: Callable[[StepResult], None] | None = None,
) -> RunResult:
    """Run the steps in order, then the cleanups, whatever happened.

    CheckFailed and unexpected errors fail the step and the run goes on with the steps
    that do not depend on it. SIGINT/SIGTERM stop the run. ConfigError and
    CloudUnreachable propagate (after cleanup): they are not verdicts on Glance.
    """
    started = datetime.now(UTC)
    t0 = time.monotonic()
    done: dict[str, StepResult] = {}
    results: list[StepResult] = []
    interrupted: str | None = None

    def record(result: StepResult) -> None:
        done[result.name] = result
        results.append(result)
        if on_result is not None:
            on_result(result)

    with SignalGuard(ctx.notice) as guard:
        try:
            for step in steps:
                if interrupted is not None:
                    record(StepResult(step.name, "skip", 0.0, f"interrupted ({interrupted})"))
                    continue
                reason = _skip_reason(step, ctx.opts, done)
                if reason is not None:
                    record(StepResult(step.name, "skip", 0.0, reason))
                    continue
                result, interrupted = _run_one(step, ctx)
                record(result)
        except Interrupted as exc:  # between two steps
            interrupted = exc.signal_name
            for step in steps:
                if step.name not in done:
                    record(StepResult(step.name, "skip", 0.0, f"interrupted ({interrupted})"))
        except BaseException:
            # A usage/config/reachability error ends the run without a report: still undo,
            # and say what could not be undone.
            guard.defer()
            for item in ctx.cleanup.run():
                if not item.ok:
                    ctx.notice(f"cleanup failed: {item.description}: {item.error}")
            raise
        guard.defer()
        cleanup_results = ctx.cleanup.run()

    return RunResult(
        steps=results,
        cleanup=cleanup_results,
        started=started,
        duration=time.monotonic() - t0,
        image_id=ctx.image_id,
        image_name=ctx.image_name,
        digests=ctx.local,
        source=ctx.source,
        interrupted=interrupted,
        transfers=dict(ctx.transfers),
        import_states={
            name: [seen.as_dict() for seen in timeline.seen]
            for name, timeline in ctx.timelines.items()
        },
        image_states=list(ctx.image_states),
        release=ctx.release,
        required=enabled_steps(ctx.opts, steps) if ctx.opts.require_enabled else (),
        nodes=dict(ctx.nodes),
    )
