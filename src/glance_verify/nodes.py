"""Several glance-api nodes behind a load balancer: each node's own view of the image
(step api-nodes) and the load balancer's spread of requests (step lb-spread).

The pure helpers (option checks, the per-node comparison, the spread verdict) come
first; the two steps, which talk to Glance, after them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from glance_verify.cloud import GlanceApi, hash_download
from glance_verify.compare import digest_problems, image_record_problems, require
from glance_verify.context import Context
from glance_verify.errors import CheckFailed, ConfigError, error_text
from glance_verify.hashing import Digests

#: An HTTP header name (RFC 9110 token).
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
#: Step lb-spread sends at least this many requests, and two per node.
MIN_SPREAD_REQUESTS = 6


def parse_api_node(text: str) -> str:
    """``--api-node URL``: one glance-api node's root URL (``http://10.0.0.21:9292``),
    without a trailing ``/``. ConfigError for anything else."""
    flag = f"--api-node {text!r}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"{flag}: not a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{flag}: expected http(s)://HOST:PORT, e.g. http://10.0.0.21:9292")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"{flag}: no user or password in the URL (the token is sent)")
    if parts.query or parts.fragment:
        raise ConfigError(f"{flag}: no query or fragment, just the node's root URL")
    path = parts.path.rstrip("/")
    if path.endswith("/v2"):
        raise ConfigError(f"{flag}: give the node's root URL, without /v2")
    where = parts.hostname if port is None else f"{parts.hostname}:{port}"
    if ":" in parts.hostname:  # an IPv6 address keeps its brackets
        where = f"[{parts.hostname}]" + ("" if port is None else f":{port}")
    return f"{parts.scheme}://{where}{path}"


def parse_api_nodes(texts: Sequence[str]) -> tuple[str, ...]:
    """Every ``--api-node``, checked; the same node twice is a usage error."""
    nodes = tuple(parse_api_node(text) for text in texts)
    twice = sorted({n for n in nodes if nodes.count(n) > 1})
    if twice:
        raise ConfigError(f"--api-node {twice[0]}: given more than once")
    return nodes


def check_header_name(text: str) -> str:
    """``--served-by-header NAME``: an HTTP header name, or "" (step lb-spread off)."""
    if text and not HEADER_NAME.match(text):
        raise ConfigError(
            f"--served-by-header {text!r}: not an HTTP header name (letters, digits, '-'); "
            "give '' to turn the spread check off"
        )
    return text


def spread_requests(nodes: int) -> int:
    """How many requests step lb-spread sends: two per node, at least MIN_SPREAD_REQUESTS."""
    return max(MIN_SPREAD_REQUESTS, 2 * nodes)


def served_by_counts(values: Sequence[str | None]) -> dict[str, int]:
    """Answers per server name (answers without the header left out), most first."""
    return dict(Counter(v for v in values if v is not None).most_common())


def describe_counts(counts: Mapping[str, int]) -> str:
    """``glance1 4, glance2 4``."""
    return ", ".join(f"{name} {count}" for name, count in counts.items()) or "none"


def spread_problems(values: Sequence[str | None], nodes: int, header: str) -> list[str]:
    """The load balancer's spread, from the ``header`` value of each answer (None: the
    answer had none): every answer names its server, and at least ``nodes`` servers
    answered."""
    if not values:
        return ["no requests were sent"]
    missing = sum(v is None for v in values)
    if missing == len(values):
        return [
            f"none of {len(values)} answers has a {header} header: the load balancer does "
            f"not set it (the haproxy role does); name the header it sets with "
            f"--served-by-header NAME, or turn this check off with --served-by-header ''"
        ]
    problems = []
    if missing:
        problems.append(f"{missing} of {len(values)} answers have no {header} header")
    counts = served_by_counts(values)
    if len(counts) < nodes:
        problems.append(
            f"{len(counts)} server(s) answered {len(values)} requests, expected at least "
            f"{nodes} (one per --api-node): {header} {describe_counts(counts)}"
        )
    return problems


def node_problems(
    local: Digests, shown: Mapping[str, Any] | None, got: Digests | None
) -> list[str]:
    """One node's view of the image against the uploaded file's digests: GET shows it
    active with the same size, checksum, os_hash_algo and os_hash_value; its download
    hashes to the same size, md5 and os_hash (``got`` None: not downloaded)."""
    if shown is None:
        return ["GET /v2/images/<id>: 404, the node does not know the image"]
    problems = image_record_problems(local, shown)
    if got is not None:
        problems += digest_problems(local, got, "downloaded data")
    return problems


def _check_node(ctx: Context, url: str) -> list[str]:
    api = GlanceApi(ctx.admin, endpoint=f"{url}/v2")
    local = ctx.digests
    shown = api.get_image(ctx.image)
    problems = node_problems(local, shown, None)
    if problems:
        return problems
    with ctx.progress(f"download {url}", local.size) as bar:
        got, _ = hash_download(api, ctx.image, ctx.opts.hash_algo, progress=bar)
    return node_problems(local, shown, got)


def step_api_nodes(ctx: Context) -> str:
    results: dict[str, str] = {}
    for url in ctx.opts.api_nodes:
        try:
            problems = _check_node(ctx, url)
        except Exception as exc:  # noqa: BLE001 - a broken node fails its own verdict only
            problems = [error_text(exc)]
        results[url] = "; ".join(problems) if problems else "pass"
    ctx.nodes["api_nodes"] = results
    failed = [f"{url}: {text}" for url, text in results.items() if text != "pass"]
    if failed:
        passed = [url for url, text in results.items() if text == "pass"]
        raise CheckFailed("; ".join(failed) + (f" (passed: {', '.join(passed)})" if passed else ""))
    return (
        f"{len(results)} node(s) show it active with the uploaded size, checksum and "
        f"{ctx.digests.algo}; each one's download hashes (md5, {ctx.digests.algo}) match: "
        + ", ".join(results)
    )


def step_lb_spread(ctx: Context) -> str:
    header = ctx.opts.served_by_header
    count = spread_requests(len(ctx.opts.api_nodes))
    path = f"/images/{ctx.image}"
    values = [ctx.api.header(path, header) for _ in range(count)]
    counts = served_by_counts(values)
    ctx.nodes["lb_spread"] = {
        "requests": count,
        "header": header,
        "served_by": counts,
        "without_header": sum(v is None for v in values),
    }
    require(spread_problems(values, len(ctx.opts.api_nodes), header))
    return (
        f"{count} GET /v2{path} through the endpoint, {len(counts)} servers answered "
        f"({header}): {describe_counts(counts)}"
    )
