"""The lifecycle against an in-memory Glance, the runner's rules, and cleanup."""

from __future__ import annotations

import hashlib
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import FakeContext, FakeDatabase, FakeGlance
from glance_verify import lifecycle
from glance_verify.context import Context
from glance_verify.errors import CheckFailed, ConfigError
from glance_verify.options import Options
from glance_verify.plan import STEPS, Step
from glance_verify.runner import run_steps

MakeContext = Callable[..., FakeContext]


def statuses(run: object) -> dict[str, str]:
    return {r.name: r.status for r in run.steps}  # type: ignore[attr-defined]


def test_full_lifecycle_passes_and_leaves_nothing(
    make_context: MakeContext,
    fake_glance: FakeGlance,
    image_file: Path,
    storage_lab: dict[str, Any],
) -> None:
    """Every step, the storage labs' too, against a Glance that has every feature on."""
    store = fake_glance.backends["fast"]
    data = image_file.read_bytes()
    sha512 = hashlib.sha512(data).hexdigest()
    db = FakeDatabase(fake_glance)
    ctx = make_context(
        store_path=store, expect_hash=("sha512", sha512), db_url=db.url, **storage_lab
    )
    ctx.db = db

    run = run_steps(ctx)

    assert [r.name for r in run.steps] == [s.name for s in STEPS]
    # Keystone unified limits replace the legacy quota (Glance ignores user_storage_quota
    # with them), so one run cannot have both: test_verify_limits.py covers that step.
    # An rbd store is not a file store, and the multi-node steps need several glance-api
    # nodes: test_verify_nodes.py covers their logic; test_verify_metadefs.py the catalog's.
    elsewhere = {"keystone-limits", "store-rbd", "api-nodes", "lb-spread", "metadefs"}
    assert all(r.status == "pass" for r in run.steps if r.name not in elsewhere), [
        (r.name, r.detail) for r in run.steps if r.status != "pass"
    ]
    assert {r.name for r in run.steps if r.status == "skip"} == elsewhere
    assert run.ok and run.failed == 0 and run.passed == len(STEPS) - len(elsewhere) + 1
    assert run.release == "Zed (Debian 12)"
    assert run.digests is not None
    assert run.digests.value == sha512
    assert run.digests.md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()
    # The bare PUT and GET are timed apart from their steps.
    assert set(run.transfers) == {"upload", "download"}
    durations = {r.name: r.duration for r in run.steps}
    for name, transfer in run.transfers.items():
        assert transfer.size == len(data)
        assert 0 < transfer.seconds <= durations[name]
    assert run.transfers["upload"].wait_seconds is not None
    assert run.transfers["download"].wait_seconds is None
    # Nothing left: image gone, store empty, temporary users undone, members removed.
    assert fake_glance.images == {}
    assert all(list(d.iterdir()) == [] for d in fake_glance.backends.values())
    assert fake_glance.cache == {}
    assert ctx.created_users == []
    assert fake_glance.members == {}
    assert run.cleanup_ok


def test_upload_streams_in_chunks_single_pass(
    make_context: MakeContext, fake_glance: FakeGlance, image_file: Path
) -> None:
    run = run_steps(make_context(skip=frozenset({"share", "deactivate"})))
    assert statuses(run)["upload"] == "pass"
    assert sum(fake_glance.upload_consumed) == image_file.stat().st_size
    assert max(fake_glance.upload_consumed) <= 1024 * 1024
    assert len(fake_glance.upload_consumed) > 1


def test_tampered_download_fails_the_download_step(
    make_context: MakeContext, fake_glance: FakeGlance
) -> None:
    """A check that must fail does fail: Glance serves bytes that differ from the upload."""
    fake_glance.tamper_download = lambda body: body[:-1] + bytes([body[-1] ^ 0xFF])
    run = run_steps(make_context())
    st = statuses(run)
    assert st["download"] == "fail"
    assert not run.ok and run.failed == 1
    detail = next(r.detail for r in run.steps if r.name == "download")
    assert "downloaded data md5: expected" in detail
    assert "downloaded data sha512: expected" in detail
    # The other steps still ran, and everything was removed.
    assert st["delete"] == "pass"
    assert fake_glance.images == {}


def test_wrong_recorded_hash_fails_upload_and_blocks_dependants(
    make_context: MakeContext, fake_glance: FakeGlance
) -> None:
    fake_glance.wrong_recorded_hash = True
    run = run_steps(make_context())
    st = statuses(run)
    assert st["upload"] == "fail"
    assert "os_hash_value: expected" in next(r.detail for r in run.steps if r.name == "upload")
    for name in ("list-show", "share", "download"):
        assert st[name] == "skip"
    # delete needs only the image to exist: it runs, and cleanup has nothing left to do.
    assert st["delete"] == "pass"
    assert fake_glance.images == {}


def test_wrong_expected_hash_fails_only_that_step(make_context: MakeContext) -> None:
    run = run_steps(make_context(expect_hash=("sha512", "0" * 128)))
    st = statuses(run)
    assert st["expected-hash"] == "fail"
    assert [n for n, s in st.items() if s == "fail"] == ["expected-hash"]
    assert not run.ok


def test_deactivation_not_enforced_is_caught(
    make_context: MakeContext, fake_glance: FakeGlance
) -> None:
    fake_glance.deactivation_ignored = True
    run = run_steps(make_context())
    st = statuses(run)
    assert st["deactivate"] == "fail"
    assert "HTTP 200, expected 403" in next(r.detail for r in run.steps if r.name == "deactivate")
    assert st["reactivate"] == "pass"


def test_keep_leaves_the_image_active_and_owned_by_the_admin(
    make_context: MakeContext, fake_glance: FakeGlance
) -> None:
    ctx = make_context(keep=True)
    run = run_steps(ctx)
    st = statuses(run)
    assert st["delete"] == "skip"
    assert run.ok, [(c.description, c.error) for c in run.cleanup if not c.ok]
    image = fake_glance.images[ctx.image]
    assert image["status"] == "active"
    assert image["owner"] == "admin-project"
    assert image["visibility"] == "public"
    assert ctx.created_users == []


@pytest.mark.parametrize("keep", [False, True])
def test_share_failing_half_way_leaves_no_member_and_the_asked_visibility(
    make_context: MakeContext, fake_glance: FakeGlance, keep: bool
) -> None:
    fake_glance.shared_hidden_from_members = True
    ctx = make_context(keep=keep)
    run = run_steps(ctx)
    assert statuses(run)["share"] == "fail"
    assert "not in the member project's image list" in next(
        r.detail for r in run.steps if r.name == "share"
    )
    assert run.cleanup_ok, [(c.description, c.error) for c in run.cleanup if not c.ok]
    assert fake_glance.members == {}
    if keep:
        assert fake_glance.images[ctx.image]["visibility"] == "public"


def test_skip_deactivate_skips_reactivate_too(make_context: MakeContext) -> None:
    run = run_steps(make_context(skip=frozenset({"deactivate"})))
    st = statuses(run)
    assert st["deactivate"] == "skip"
    assert st["reactivate"] == "skip"
    assert run.ok


def test_optional_steps_skipped_without_their_options(make_context: MakeContext) -> None:
    run = run_steps(make_context())
    details = {r.name: r.detail for r in run.steps if r.status == "skip"}
    assert details == {
        "expected-hash": "no --expect-hash",
        "store-file": "no --store-path",
        "store-rbd": "the image's store is not rbd (no --rbd-pool)",
        "image-cache": "no --image-cache",
        "api-nodes": "no --api-node",
        "lb-spread": "no --api-node",
        "db-row": "no --db-url",
        "store-file-gone": "no --store-path",
        "store-info": "no --backend or --default-backend",
        "backends": "no --backend",
        "quota": "no --quota",
        "keystone-limits": "no --keystone-limits",
        "metadefs": "no --metadefs",
        "http-store": "no --http-url",
        "import-methods": NO_METHODS,
        "import-glance-direct": NO_METHODS,
        "import-web-download": NO_METHODS,
        "import-copy-image": NO_METHODS,
        "import-refused": NO_METHODS,
    }


NO_METHODS = "no import methods known (--config image_import, or --import-methods)"


def test_missing_store_file_fails(make_context: MakeContext, tmp_path: Path) -> None:
    empty = tmp_path / "empty-store"
    empty.mkdir()
    run = run_steps(make_context(store_path=empty))
    assert statuses(run)["store-file"] == "fail"


# --- the runner itself, with made-up steps ---------------------------------------------------


def plain_context(tmp_path: Path) -> Context:
    return Context(Options(cache_dir=tmp_path), admin=None, api=None, run_id="t")  # type: ignore[arg-type]


def test_cleanup_runs_in_reverse_and_a_failure_is_reported_not_masking(tmp_path: Path) -> None:
    ctx = plain_context(tmp_path)
    order: list[str] = []

    def create(c: Context) -> str:
        c.cleanup.push("first", lambda: order.append("first"))

        def broken() -> None:
            order.append("second")
            raise RuntimeError("keystone said no")

        c.cleanup.push("second", broken)
        c.cleanup.push("third", lambda: order.append("third"))
        return "made three"

    def check(c: Context) -> str:
        raise CheckFailed("the first failure")

    run = run_steps(ctx, [Step("create", "", create), Step("check", "", check)])
    assert order == ["third", "second", "first"]
    assert run.first_failure is not None
    assert run.first_failure.detail == "the first failure"
    assert [c.ok for c in run.cleanup] == [True, False, True]
    assert run.cleanup[1].error == "keystone said no"
    assert run.failed == 2  # the check and the cleanup


def test_unexpected_exception_fails_the_step_only(tmp_path: Path) -> None:
    def boom(c: Context) -> str:
        raise KeyError("oops")

    steps = [
        Step("a", "", boom),
        Step("b", "", lambda c: "fine"),
        Step("c", "", lambda c: "x", requires=("a",)),
    ]
    run = run_steps(plain_context(tmp_path), steps)
    assert statuses(run) == {"a": "fail", "b": "pass", "c": "skip"}
    assert run.steps[0].detail == "KeyError: 'oops'"
    assert run.steps[2].detail == "needs a (failed)"


def test_config_error_propagates_after_cleanup(tmp_path: Path) -> None:
    ctx = plain_context(tmp_path)
    undone: list[str] = []

    def create(c: Context) -> str:
        c.cleanup.push("undo", lambda: undone.append("yes"))
        return "ok"

    def bad(c: Context) -> str:
        raise ConfigError("qemu-img missing")

    with pytest.raises(ConfigError):
        run_steps(ctx, [Step("create", "", create), Step("bad", "", bad)])
    assert undone == ["yes"]


def test_sigterm_stops_the_run_and_cleanup_still_runs(tmp_path: Path) -> None:
    ctx = plain_context(tmp_path)
    undone: list[str] = []

    def create(c: Context) -> str:
        c.cleanup.push("undo", lambda: undone.append("yes"))
        return "ok"

    def killed(c: Context) -> str:
        os.kill(os.getpid(), signal.SIGTERM)
        return "not reached"

    before = signal.getsignal(signal.SIGTERM)
    run = run_steps(
        ctx, [Step("create", "", create), Step("long", "", killed), Step("after", "", create)]
    )
    assert statuses(run) == {"create": "pass", "long": "fail", "after": "skip"}
    assert run.interrupted == "SIGTERM"
    assert run.steps[1].detail == "interrupted (SIGTERM)"
    assert undone == ["yes"]
    assert not run.ok
    assert signal.getsignal(signal.SIGTERM) == before


def test_a_second_signal_during_cleanup_does_not_cut_it_short(tmp_path: Path) -> None:
    ctx = plain_context(tmp_path)
    notices: list[str] = []
    ctx.notice = notices.append
    undone: list[str] = []

    def create(c: Context) -> str:
        c.cleanup.push("last", lambda: undone.append("last"))
        c.cleanup.push("interrupted undo", lambda: os.kill(os.getpid(), signal.SIGINT))
        os.kill(os.getpid(), signal.SIGINT)
        return "not reached"

    run = run_steps(ctx, [Step("create", "", create)])
    assert run.interrupted == "SIGINT"
    assert undone == ["last"]
    assert any("still removing" in n for n in notices)


def test_store_file_gone_needs_store_file(make_context: MakeContext, tmp_path: Path) -> None:
    """A file that was never found cannot prove it went: store-file-gone does not run."""
    empty = tmp_path / "empty-store"
    empty.mkdir()
    run = run_steps(make_context(store_path=empty))
    results = {r.name: r for r in run.steps}
    assert results["delete"].status == "pass"
    assert results["store-file-gone"].status == "skip"
    assert results["store-file-gone"].detail == "needs store-file (failed)"
    assert not run.ok


def test_a_changed_byte_in_the_store_fails_download_naming_the_image(
    make_context: MakeContext, fake_glance: FakeGlance
) -> None:
    ctx = make_context()

    def tamper(c: Context) -> str:
        data = bytearray(fake_glance.data[c.image])
        data[4096] ^= 0xFF
        fake_glance.data[c.image] = bytes(data)
        return "flipped a byte"

    steps = []
    for step in STEPS:
        steps.append(step)
        if step.name == "upload":
            steps.append(Step("tamper", "test only", tamper, requires=("upload",)))
    run = run_steps(ctx, steps)
    download = next(r for r in run.steps if r.name == "download")
    assert download.status == "fail"
    assert f"image {ctx.image_id}: downloaded data md5" in download.detail
    assert "sha512" in download.detail


def test_record_secrets_appends_each_password_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "secrets"
    ctx = Context(
        Options(cache_dir=tmp_path, record_secrets=path),
        admin=None,
        api=None,
        run_id="t",  # type: ignore[arg-type]
    )
    ctx._record_secret("first")
    ctx._record_secret("second")
    assert path.read_text() == "first\nsecond\n"
    assert path.stat().st_mode & 0o777 == 0o600


def test_api_release_names_the_release_behind_the_current_version() -> None:
    zed = [{"id": "v2.14", "status": "SUPPORTED"}, {"id": "v2.15", "status": "CURRENT"}]
    assert lifecycle.api_release(zed) == ("2.15", "Zed (Debian 12)")
    # Zed with the image cache on serves the cache API, v2.16 (storage scenario).
    zed_cache = [{"id": "v2.15", "status": "SUPPORTED"}, {"id": "v2.16", "status": "CURRENT"}]
    assert lifecycle.api_release(zed_cache) == ("2.16", "Zed (Debian 12)")
    flamingo = [{"id": "v2.17", "status": "SUPPORTED"}, {"id": "v2.18", "status": "CURRENT"}]
    assert lifecycle.api_release(flamingo) == ("2.18", "a release this toolkit was not measured on")


def test_api_release_without_a_current_version_fails_the_step() -> None:
    with pytest.raises(CheckFailed, match="no CURRENT version"):
        lifecycle.api_release([{"id": "v2.16", "status": "SUPPORTED"}])


# --- a store that refuses the write -------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503])
def test_a_store_error_on_upload_says_the_store_refused_the_write(status: int) -> None:
    text = f"PUT /v2/images/x/file: HTTP {status} Failed to upload image data due to internal error"
    message = lifecycle.upload_failure(status, text)
    assert message.startswith("the store refused the write: PUT /v2/images/x/file: HTTP ")
    assert "Ceph key's OSD caps" in message


def test_an_unwritable_file_store_keeps_its_own_hint() -> None:
    message = lifecycle.upload_failure(410, "PUT /v2/images/x/file: HTTP 410 Gone")
    assert message.startswith("the store refused the write: ")
    assert message.endswith("(can glance write its store directory?)")


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (413, "PUT /v2/images/x/file: HTTP 413 over quota"),
        (0, "PUT: no answer, the connection broke"),
    ],
)
def test_other_upload_failures_are_passed_on_as_they_are(status: int, text: str) -> None:
    assert lifecycle.upload_failure(status, text) == text
