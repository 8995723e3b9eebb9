"""glance-verify's keystone-limits step and its pure helpers, against the fake Glance."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from conftest import FakeContext, FakeGlance
from glance_verify.errors import CheckFailed, ConfigError
from glance_verify.hashing import MIB
from glance_verify.plan import STEPS
from glance_verify.runner import RunResult, run_steps
from glance_verify.storage import describe_limits, limit_fill_mib, parse_limit, parse_usage

MakeContext = Callable[..., FakeContext]
LIMITS = {
    "image_size_total": 8,
    "image_stage_total": 8,
    "image_count_total": 20,
    "image_count_uploading": 5,
}


def run_limits(ctx: FakeContext) -> tuple[str, str]:
    run: RunResult = run_steps(ctx, [s for s in STEPS if s.name == "keystone-limits"])
    found = next(r for r in run.steps if r.name == "keystone-limits")
    assert run.cleanup_ok
    return found.status, found.detail


def owned(fake: FakeGlance) -> list[str]:
    return sorted(i["name"] for i in fake.images.values())


def test_parse_limit() -> None:
    assert parse_limit("image_size_total=48") == ("image_size_total", 48)
    for bad in ("image_size_total", "image_size=4", "image_count_total=-1", "x=1"):
        with pytest.raises(ConfigError, match="--keystone-limit"):
            parse_limit(bad)


def test_parse_usage_reads_every_resource() -> None:
    answer = {"usage": {k: {"limit": v, "usage": 1} for k, v in LIMITS.items()}}
    table = parse_usage(answer)
    assert table["image_size_total"] == (8, 1)
    assert describe_limits(table).startswith("image_size_total 8 MiB (used 1), ")
    assert "image_count_total 20 (used 1)" in describe_limits(table)


def test_parse_usage_refuses_limits_off_and_missing_resources() -> None:
    with pytest.raises(CheckFailed, match="use_keystone_limits"):
        parse_usage({"usage": {}})
    partial = {"usage": {"image_size_total": {"limit": 8, "usage": 0}}}
    with pytest.raises(CheckFailed, match="image_stage_total, image_count_total"):
        parse_usage(partial)
    with pytest.raises(CheckFailed, match="image_size_total"):
        parse_usage({"usage": {**partial["usage"], "image_size_total": {"limit": True}}})


@pytest.mark.parametrize(("limit", "used", "fill"), [(8, 0, 9), (8, 8, 1), (8, 9, 0), (0, 0, 1)])
def test_limit_fill_mib_goes_just_over(limit: int, used: int, fill: int) -> None:
    # Zed refuses only once usage > limit, checked before the upload.
    assert limit_fill_mib(limit, used) == fill


def test_limits_step_fills_is_refused_then_accepted(
    make_context: MakeContext, fake_glance: FakeGlance
) -> None:
    fake_glance.keystone_limits = dict(LIMITS)
    ctx = make_context(keystone_limits=True, keystone_limit_expect=(("image_size_total", 8),))
    status, detail = run_limits(ctx)
    assert status == "pass", detail
    assert "limits from Keystone: image_size_total 8 MiB (used 0)" in detail
    assert "9 MiB crossing image_size_total accepted (used 0 -> 9 MiB)" in detail
    assert "the next 1 MiB upload: HTTP 413, image queued without size or checksum" in detail
    assert "then the same upload: active, digests match" in detail
    assert owned(fake_glance) == []


def test_limits_step_fails_when_nothing_is_refused(
    make_context: MakeContext, fake_glance: FakeGlance
) -> None:
    fake_glance.keystone_limits = dict(LIMITS)
    fake_glance.limits_never_refuse = True
    status, detail = run_limits(make_context(keystone_limits=True))
    assert status == "fail"
    assert "expected HTTP 413, got HTTP 204: accepted" in detail
    assert "the image is active" in detail
    assert owned(fake_glance) == []


def test_limits_step_fails_for_a_wrong_limit_and_limits_off(
    make_context: MakeContext, fake_glance: FakeGlance
) -> None:
    fake_glance.keystone_limits = dict(LIMITS)
    ctx = make_context(keystone_limits=True, keystone_limit_expect=(("image_count_total", 100),))
    status, detail = run_limits(ctx)
    assert status == "fail" and "image_count_total is 20, expected 100" in detail
    fake_glance.keystone_limits = None
    status, detail = run_limits(make_context(keystone_limits=True))
    assert status == "fail" and "use_keystone_limits" in detail


def test_limits_step_refuses_a_fill_over_the_maximum(
    make_context: MakeContext, fake_glance: FakeGlance
) -> None:
    fake_glance.keystone_limits = {**LIMITS, "image_size_total": 1024}
    status, detail = run_limits(make_context(keystone_limits=True, limit_fill_max=64 * MIB))
    assert status == "fail"
    assert "takes a 1025 MiB upload, more than --limit-fill-max 64 MiB" in detail
    assert owned(fake_glance) == []


def test_limits_step_when_already_over(make_context: MakeContext, fake_glance: FakeGlance) -> None:
    fake_glance.keystone_limits = {**LIMITS, "image_size_total": 0}
    fake_glance.images["old"] = {
        "id": "old", "name": "old", "owner": fake_glance.view().project,
        "status": "active", "size": 2 * MIB, "visibility": "private",
    }  # fmt: skip
    status, detail = run_limits(make_context(keystone_limits=True))
    assert status == "pass", detail
    assert "over image_size_total already (2 > 0 MiB)" in detail
    assert "HTTP 413" in detail and owned(fake_glance) == ["old"]


def test_cli_options(tmp_path: Any) -> None:
    from glance_verify.cli import build_parser, options_from_args  # noqa: PLC0415

    image = tmp_path / "i.img"
    image.write_bytes(b"x" * 1024)
    parser = build_parser()
    args = parser.parse_args(
        ["--image-file", str(image), "--keystone-limits", "--keystone-limit",
         "image_size_total=48", "--limit-fill-max", "100"]
    )  # fmt: skip
    opts = options_from_args(args)
    assert opts.keystone_limits and opts.keystone_limit_expect == (("image_size_total", 48),)
    assert opts.limit_fill_max == 100 * MIB
    args = parser.parse_args(["--image-file", str(image), "--keystone-limit", "image_size_total=1"])
    with pytest.raises(ConfigError, match="needs --keystone-limits"):
        options_from_args(args)
