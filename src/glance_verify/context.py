"""What one run of glance-verify shares between its steps: the Context, and the timing of
the bare data transfers (Transfer)."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from glance_verify.cleanup import CleanupStack
from glance_verify.cloud import GlanceApi, TempUser, admin_domain_id, create_temp_user
from glance_verify.db import ImageDatabase
from glance_verify.errors import CheckFailed
from glance_verify.hashing import MIB, Digests
from glance_verify.imports import Timeline
from glance_verify.options import Options
from glance_verify.progress import ProgressBar
from glance_verify.source import ImageSource


@dataclass(frozen=True)
class Transfer:
    """The bare data transfer of step upload or download, apart from the rest of the step.

    ``seconds``: upload, from sending the PUT until Glance answers it (the data read,
    hashed and sent); download, from sending the GET until the last byte is read and
    hashed. That is what ``curl -T FILE`` / ``curl -o /dev/null`` time for the same
    request. ``wait_seconds`` (upload only): from Glance's answer until the image is seen
    ``active``.
    """

    size: int
    seconds: float
    wait_seconds: float | None = None

    @property
    def mib_per_s(self) -> float:
        return self.size / MIB / self.seconds if self.seconds > 0 else 0.0

    def text(self) -> str:
        """``536870912 bytes in 1.93 s (265.3 MiB/s)``."""
        return f"{self.size} bytes in {self.seconds:.2f} s ({self.mib_per_s:.1f} MiB/s)"


@dataclass
class Context:
    """Everything one run shares between steps."""

    opts: Options
    admin: Any
    api: GlanceApi
    cleanup: CleanupStack = field(default_factory=CleanupStack)
    run_id: str = ""
    notice: Callable[[str], None] = lambda message: None
    show_progress: bool = False
    #: Where the progress goes instead of stderr's bar: lines in --progress-file.
    progress_file: TextIO | None = None
    db: ImageDatabase | None = None
    source: ImageSource | None = None
    image_id: str | None = None
    image_name: str | None = None
    original_owner: str | None = None
    local: Digests | None = None
    downloaded: Digests | None = None
    #: Bare transfer times of steps upload and download (keys "upload", "download").
    transfers: dict[str, Transfer] = field(default_factory=dict)
    #: The statuses each import step saw its image in, with their times (by step name).
    timelines: dict[str, Timeline] = field(default_factory=dict)
    #: The extra images of the run by their name's suffix (``labs.temp_image``), for
    #: --explain: e.g. {"import-direct": id}.
    temp_images: dict[str, str] = field(default_factory=dict)
    owner_user: TempUser | None = None
    share_user: TempUser | None = None
    deleted: bool = False
    #: The Glance release the run talked to (step release), for the reports.
    release: str | None = None
    #: What steps api-nodes and lb-spread found, for the JSON report: "api_nodes"
    #: ({url: "pass" or the problems}) and "lb_spread" ({"requests", "header", "served_by"}).
    nodes: dict[str, object] = field(default_factory=dict)
    #: The test image's statuses through the lifecycle steps, in order: {"status", "at"
    #: (UTC), "seconds" (since the run began), "step", "note"} (see ``image_state``).
    image_states: list[dict[str, str | float]] = field(default_factory=list)
    _domain_id: str | None = None
    _began: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if not self.run_id:
            self.run_id = f"{self.opts.name_prefix}-{secrets.token_hex(4)}"

    def image_state(self, status: str, step: str, note: str) -> None:
        """Record that the test image is in ``status`` now, as step ``step`` found out
        (``note``: how: seen in an answer, or the request that puts it there)."""
        self.image_states.append(
            {
                "status": status,
                "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "seconds": round(time.monotonic() - self._began, 3),
                "step": step,
                "note": note,
            }
        )

    def progress(self, label: str, total: int) -> ProgressBar:
        if self.progress_file is not None:
            return ProgressBar(label, total, stream=self.progress_file, enabled=True, lines=True)
        return ProgressBar(label, total, enabled=self.show_progress)

    @property
    def image(self) -> str:
        if self.image_id is None:
            raise CheckFailed("no image was created")
        return self.image_id

    @property
    def digests(self) -> Digests:
        if self.local is None:
            raise CheckFailed("the image data was not uploaded")
        return self.local

    def domain_id(self) -> str:
        if self._domain_id is None:
            self._domain_id = admin_domain_id(self.admin)
        return self._domain_id

    def temp_user(self, suffix: str) -> TempUser:
        return create_temp_user(
            self.admin,
            f"{self.run_id}-{suffix}",
            self.domain_id(),
            self.opts.member_role,
            self.cleanup.push,
            self._record_secret if self.opts.record_secrets else None,
        )

    def _record_secret(self, secret: str) -> None:
        """--record-secrets: append it, the file readable by its owner only."""
        path = self.opts.record_secrets
        if path is None:
            return
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(secret + "\n")

    def image_exists(self) -> bool:
        return self.image_id is not None and self.api.get_image(self.image_id) is not None
