"""Image import, the pure part: which URLs Glance's web-download filters let through, a
URL they refuse, and the states an image passes through on its way to ``active``.

The filters are Glance's ``[import_filtering_opts]`` as the glance role writes them (the
``image_import.filters`` of ``--config``), or Glance's own defaults without it. Glance
checks them in this order: the scheme, the host (as written in the URL, compared as a
string), the port (only when the URL gives one); an allowed list, when not empty, makes
Glance ignore the disallowed one. Debian's Glance (with the 2026 SSRF fixes) also
refuses loopback and link-local addresses unless the host is in ``allowed_hosts``.
"""

from __future__ import annotations

import ipaddress
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

#: The methods Glance offers when enabled_import_methods is not set (Zed and 2025.1).
GLANCE_DEFAULT_METHODS = ("glance-direct", "web-download", "copy-image")
#: The import methods glance-verify knows (glance-download: from another region).
KNOWN_METHODS = (*GLANCE_DEFAULT_METHODS, "glance-download")


@dataclass(frozen=True)
class ImportFilters:
    """``[import_filtering_opts]``; the field defaults are Glance's own."""

    allowed_schemes: tuple[str, ...] = ("http", "https")
    disallowed_schemes: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    disallowed_hosts: tuple[str, ...] = ()
    allowed_ports: tuple[int, ...] = (80, 443)
    disallowed_ports: tuple[int, ...] = ()

    def refusal(self, url: str, *, loopback_refused: bool = True) -> str | None:
        """Why Glance refuses to fetch ``url`` (None: the filters let it through).

        ``loopback_refused``: count Debian's refusal of loopback and link-local
        addresses that are not in allowed_hosts (a Glance without the SSRF fixes lets
        them through, so a step that needs a refusal does not rely on it).

        >>> ImportFilters().refusal("http://192.0.2.1:8089/x")
        'port 8089 is not in allowed_ports [80, 443]'
        >>> ImportFilters(allowed_ports=()).refusal("http://192.0.2.1:8089/x") is None
        True
        """
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        try:
            port = parts.port
        except ValueError:
            return f"{url}: not a valid port"
        if not host:
            return f"{url}: no host"
        reason = (
            _refused("scheme", parts.scheme, self.allowed_schemes, self.disallowed_schemes)
            or _refused("host", host, self.allowed_hosts, self.disallowed_hosts)
            or (
                None
                if port is None
                else _refused("port", port, self.allowed_ports, self.disallowed_ports)
            )
        )
        debian_refuses = loopback_refused and host not in self.allowed_hosts and is_loopback(host)
        if reason is None and debian_refuses:
            return f"host {host} is a loopback or link-local address, not in allowed_hosts"
        return reason

    def as_dict(self) -> dict[str, list[str] | list[int]]:
        return {
            "allowed_schemes": list(self.allowed_schemes),
            "disallowed_schemes": list(self.disallowed_schemes),
            "allowed_hosts": list(self.allowed_hosts),
            "disallowed_hosts": list(self.disallowed_hosts),
            "allowed_ports": list(self.allowed_ports),
            "disallowed_ports": list(self.disallowed_ports),
        }


def _refused(
    kind: str, value: object, allowed: Sequence[object], disallowed: Sequence[object]
) -> str | None:
    """Glance's rule for one part of the URL: an allowed list, when set, is the only one."""
    if allowed:
        if value not in allowed:
            return f"{kind} {value} is not in allowed_{kind}s {_list(allowed)}"
        return None
    if value in disallowed:
        return f"{kind} {value} is in disallowed_{kind}s"
    return None


def _list(items: Sequence[object]) -> str:
    return "[" + ", ".join(str(i) for i in items) + "]"


def is_loopback(host: str) -> bool:
    """``localhost``, or a loopback or link-local IP address (IPv4-mapped included)."""
    if host.rstrip(".").lower() == "localhost":
        return True
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback or addr.is_link_local


def http_url(host: str, port: int, path: str = "/") -> str:
    """``http://HOST:PORT/PATH``, an IPv6 address in brackets."""
    netloc = f"[{host}]" if ":" in host else host
    return f"http://{netloc}:{port}/{path.lstrip('/')}"


def refused_url(
    filters: ImportFilters, host: str, port: int, path: str = "/"
) -> tuple[str, str] | None:
    """A URL near ``http://host:port/path`` that the filters refuse, and why; None when
    they refuse none of the kinds tried. Tried in order: that URL itself; the same host
    on a port the filters refuse (the first above ``port`` not allowed, or a disallowed
    port); a disallowed host on ``port``; a disallowed scheme. Debian's loopback refusal
    is not relied on (see ImportFilters.refusal).

    >>> refused_url(ImportFilters(), "192.0.2.7", 8089)
    ('http://192.0.2.7:8089/', 'port 8089 is not in allowed_ports [80, 443]')
    >>> refused_url(ImportFilters(allowed_ports=(80, 443, 8089)), "192.0.2.7", 8089)
    ('http://192.0.2.7:8090/', 'port 8090 is not in allowed_ports [80, 443, 8089]')
    """
    candidates = [http_url(host, port, path)]
    if filters.allowed_ports:
        free = next(p for p in range(port + 1, port + 1000) if p not in filters.allowed_ports)
        candidates.append(http_url(host, free, path))
    candidates += [http_url(host, p, path) for p in filters.disallowed_ports]
    candidates += [http_url(h, port, path) for h in filters.disallowed_hosts]
    if filters.allowed_schemes and "https" not in filters.allowed_schemes:
        candidates.append(http_url(host, port, path).replace("http://", "https://", 1))
    for url in candidates:
        reason = filters.refusal(url, loopback_refused=False)
        if reason is not None:
            return url, reason
    return None


@dataclass(frozen=True)
class StateSeen:
    """An image status as seen, when: wall clock (UTC) and seconds since the step began."""

    status: str
    at: datetime
    seconds: float

    def as_dict(self) -> dict[str, str | float]:
        return {
            "status": self.status,
            "at": self.at.isoformat(timespec="milliseconds"),
            "seconds": round(self.seconds, 3),
        }


@dataclass
class Timeline:
    """The statuses an image was seen in, each recorded once when it changes."""

    clock: Callable[[], float] = time.monotonic
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    seen: list[StateSeen] = field(default_factory=list)
    _start: float | None = None

    def see(self, status: object) -> bool:
        """Record ``status`` if it differs from the last one seen; True if recorded."""
        text = str(status)
        tick = self.clock()
        if self._start is None:
            self._start = tick
        if self.seen and self.seen[-1].status == text:
            return False
        self.seen.append(StateSeen(text, self.now(), tick - self._start))
        return True

    @property
    def statuses(self) -> list[str]:
        return [s.status for s in self.seen]

    @property
    def last(self) -> str | None:
        return self.seen[-1].status if self.seen else None

    def text(self) -> str:
        """``queued 0.00s -> uploading 0.41s -> importing 0.52s -> active 1.30s``."""
        return " -> ".join(f"{s.status} {s.seconds:.2f}s" for s in self.seen)


#: The statuses each import method takes an image through, in order.
IMPORT_PATHS: dict[str, tuple[str, ...]] = {
    "glance-direct": ("queued", "uploading", "importing", "active"),
    "web-download": ("queued", "importing", "active"),
}
#: Statuses that may pass between two polls unseen (the import of a small image can take
#: less than one poll interval).
MAY_BE_MISSED = frozenset({"importing"})


def timeline_problems(
    seen: Sequence[str], path: Sequence[str], may_be_missed: frozenset[str] = MAY_BE_MISSED
) -> list[str]:
    """What is wrong with the statuses ``seen`` against the expected ``path``: a status
    not on it, one out of order, one missing (except ``may_be_missed``), not ending at
    the path's end.

    >>> timeline_problems(["queued", "uploading", "active"], IMPORT_PATHS["glance-direct"])
    []
    >>> timeline_problems(["queued", "killed"], IMPORT_PATHS["web-download"])[0]
    'status killed is not on the way queued -> importing -> active'
    """
    way = " -> ".join(path)
    problems = [f"status {s} is not on the way {way}" for s in seen if s not in path]
    on_path = [s for s in seen if s in path]
    positions = [path.index(s) for s in on_path]
    if positions != sorted(positions):
        problems.append(f"statuses out of order: {' -> '.join(seen)} (expected {way})")
    missing = [s for s in path if s not in on_path and s not in may_be_missed]
    if missing:
        problems.append(f"never seen: {', '.join(missing)} (seen {' -> '.join(seen) or 'nothing'})")
    if seen and seen[-1] != path[-1] and not problems:
        problems.append(f"ended {seen[-1]}, not {path[-1]}")
    return problems


def missed_note(seen: Sequence[str], path: Sequence[str]) -> str | None:
    """A note for the statuses on ``path`` that passed unseen between two polls."""
    missed = [s for s in path if s not in seen and s in MAY_BE_MISSED]
    if not missed:
        return None
    return f"{', '.join(missed)} not seen (passed between two polls)"
