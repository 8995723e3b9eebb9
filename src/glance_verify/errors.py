"""Typed exceptions. Library code raises these; only ``cli.main`` maps them to exit codes."""

from __future__ import annotations


class VerifyError(Exception):
    """Base class of the verifier's own errors."""


class CheckFailed(VerifyError):
    """A verification check did not hold (exit code 1)."""


class StepSkipped(VerifyError):
    """A step found, once running, that there is nothing it can check (e.g. Glance shows
    no image location): the step is reported skipped with this reason, not failed."""


class ConfigError(VerifyError):
    """Bad usage, input or configuration (exit code 2)."""


class CloudUnreachable(VerifyError):
    """The cloud could not be reached or authenticated (exit code 3)."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived. A BaseException so that no ``except Exception`` swallows it."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


def error_text(exc: BaseException) -> str:
    """One line for a failed check: a CheckFailed's own text, else the error's type and
    text (white space folded)."""
    if isinstance(exc, CheckFailed):
        return str(exc)
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
