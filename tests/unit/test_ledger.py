"""glance-ledger: the ledger file, recording and checking against the in-memory Glance."""

from __future__ import annotations

import hashlib
import io
import json
import random
from pathlib import Path
from typing import Any

import pytest

from conftest import FakeGlance
from glance_verify import ledger
from glance_verify.console import Console
from glance_verify.errors import CheckFailed, CloudUnreachable, ConfigError
from glance_verify.hashing import MIB, Digests
from glance_verify.ledger import (
    PROG,
    Entry,
    _store_dirs,
    build_parser,
    check_image,
    image_size,
    main,
    parse_ledger,
    read_ledger,
    record_image,
    run_check,
    run_forget,
    run_record,
)
from glance_verify.storage import RandomSource


def seeded(seed: int = 7) -> RandomSource:
    rng = random.Random(seed)
    return rng.randbytes


def console() -> tuple[Console, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Console(PROG, out=out, err=err), out, err


def record(glance: FakeGlance, tmp_path: Path, count: int = 2, size_mib: int = 1) -> list[Entry]:
    con, _, _ = console()
    out = tmp_path / "ledger.json"
    api: Any = glance.view()
    code = run_record(
        api, con, out=out, count=count, size_mib=size_mib, cloud="c", prefix="t", source=seeded()
    )
    assert code == 0
    return read_ledger(out)


# --- pure parts ------------------------------------------------------------------------------


def test_image_sizes_differ_and_end_in_a_partial_chunk() -> None:
    sizes = [image_size(2, i) for i in (1, 2, 3)]
    assert sizes == [2 * MIB + 1, 2 * MIB + 2, 2 * MIB + 3]
    assert all(size % MIB for size in sizes)


def test_entry_refuses_other_algorithms() -> None:
    with pytest.raises(ValueError, match="sha512"):
        Entry.of("id", "n", Digests(1, "0" * 32, "sha256", "0" * 64))


GOOD = {"id": "i1", "name": "n1", "size": 5, "md5": "a" * 32, "sha512": "b" * 128}


def doc(*images: object, fmt: object = 1) -> str:
    return json.dumps({"format": fmt, "images": list(images)})


def test_parse_ledger_reads_entries() -> None:
    second = {**GOOD, "id": "i2"}
    assert parse_ledger(doc(GOOD, second)) == [Entry(**GOOD), Entry(**second)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("{not json", "not valid JSON (line 1)"),
        ("[]", "no 'images' list"),
        (doc(GOOD, fmt=2), "ledger format 2"),
        (doc(), "records no image"),
        (doc("x"), "images[0]: not an object"),
        (doc({**GOOD, "id": ""}), "'id' must be a non-empty string"),
        (doc({**GOOD, "size": -1}), "'size' must be a whole number"),
        (doc({**GOOD, "size": True}), "'size' must be a whole number"),
        (doc({**GOOD, "md5": "A" * 32}), "'md5' must be 32 lower-case hex digits"),
        (doc({**GOOD, "sha512": "b" * 64}), "'sha512' must be 128 lower-case hex digits"),
        (doc(GOOD, GOOD), "image recorded twice: i1"),
    ],
)
def test_parse_ledger_rejects_bad_input(text: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=r"^ledger: ") as err:
        parse_ledger(text)
    assert needle in str(err.value)


def test_read_ledger_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        read_ledger(tmp_path / "missing.json")
    with pytest.raises(ConfigError, match="is a directory"):
        read_ledger(tmp_path)


# --- against the fake Glance -----------------------------------------------------------------


def test_record_streams_and_hashes_in_one_pass(fake_glance: FakeGlance) -> None:
    api: Any = fake_glance.view()
    entry = record_image(api, "img", 3 * MIB + 5, source=seeded())
    stored = fake_glance.data[entry.id]
    assert len(stored) == entry.size == 3 * MIB + 5
    assert entry.md5 == hashlib.md5(stored, usedforsecurity=False).hexdigest()
    assert entry.sha512 == hashlib.sha512(stored).hexdigest()
    # Streamed in chunks of at most 1 MiB, each read once.
    assert max(fake_glance.upload_consumed) <= MIB
    assert sum(fake_glance.upload_consumed) == entry.size
    image = fake_glance.images[entry.id]
    assert (image["disk_format"], image["visibility"]) == ("raw", "private")


def test_record_deletes_the_image_when_glance_reports_other_hashes(
    fake_glance: FakeGlance,
) -> None:
    fake_glance.wrong_recorded_hash = True
    api: Any = fake_glance.view()
    with pytest.raises(CheckFailed, match="os_hash_value"):
        record_image(api, "img", 1000, source=seeded())
    assert fake_glance.images == {}


def test_run_record_writes_the_ledger(fake_glance: FakeGlance, tmp_path: Path) -> None:
    entries = record(fake_glance, tmp_path, count=3)
    assert len(entries) == 3
    assert {e.id for e in entries} == set(fake_glance.images)
    assert len({e.sha512 for e in entries}) == 3
    data = json.loads((tmp_path / "ledger.json").read_text())
    assert data["cloud"] == "c" and data["algo"] == "sha512"
    assert set(data["images"][0]) == {"id", "name", "size", "md5", "sha512"}


def test_run_record_keeps_what_was_recorded_when_one_fails(
    fake_glance: FakeGlance, tmp_path: Path
) -> None:
    api: Any = fake_glance.view()
    upload = api.upload
    calls = []

    def flaky(image_id: str, body: Any, store: str | None = None) -> None:
        calls.append(image_id)
        if len(calls) == 2:
            raise CheckFailed("PUT /v2/images/x/file: HTTP 410")
        upload(image_id, body, store)

    api.upload = flaky
    con, out, _ = console()
    path = tmp_path / "sub" / "ledger.json"
    code = run_record(api, con, out=path, count=3, size_mib=1, cloud=None, prefix="t")
    assert code == 1
    assert len(read_ledger(path)) == 1
    assert "HTTP 410" in out.getvalue()
    assert "recorded 1 of 3 images" in out.getvalue()
    assert len(fake_glance.images) == 1  # the failed one was deleted


def test_check_passes_for_intact_images(fake_glance: FakeGlance, tmp_path: Path) -> None:
    entries = record(fake_glance, tmp_path)
    con, out, _ = console()
    assert run_check(fake_glance.view(), con, entries) == 0  # type: ignore[arg-type]
    lines = out.getvalue().splitlines()
    assert [line.split()[0] for line in lines[:2]] == ["PASS", "PASS"]
    assert lines[-1] == "ledger check: 2 images, 2 intact, 0 failed"


def test_check_downloads_and_detects_changed_bytes(fake_glance: FakeGlance, tmp_path: Path) -> None:
    (entry,) = record(fake_glance, tmp_path, count=1)
    fake_glance.tamper_download = lambda body: body[:-1] + bytes([body[-1] ^ 1])
    with pytest.raises(CheckFailed, match="downloaded data md5") as err:
        check_image(fake_glance.view(), entry)  # type: ignore[arg-type]
    assert "downloaded data sha512" in str(err.value)
    assert "size" not in str(err.value)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"os_hash_value": "c" * 128}, "os_hash_value: expected"),
        ({"checksum": "d" * 32}, "checksum: expected"),
        ({"size": 1}, "size: expected"),
        ({"os_hash_algo": "sha256"}, "os_hash_algo: expected sha512, got sha256"),
        ({"name": "renamed"}, "name: expected"),
        ({"status": "deactivated"}, "status: expected active, got deactivated"),
    ],
)
def test_check_compares_glances_record(
    fake_glance: FakeGlance, tmp_path: Path, change: dict[str, Any], needle: str
) -> None:
    (entry,) = record(fake_glance, tmp_path, count=1)
    fake_glance.images[entry.id].update(change)
    with pytest.raises(CheckFailed, match=needle):
        check_image(fake_glance.view(), entry)  # type: ignore[arg-type]


def test_check_reports_a_lost_image_and_goes_on(fake_glance: FakeGlance, tmp_path: Path) -> None:
    first, second = record(fake_glance, tmp_path)
    del fake_glance.images[first.id]
    con, out, _ = console()
    assert run_check(fake_glance.view(), con, [first, second]) == 1  # type: ignore[arg-type]
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"FAIL  {first.name}  {first.id}  not found")
    assert lines[1].startswith(f"PASS  {second.name}")
    assert lines[-1] == "ledger check: 2 images, 1 intact, 1 failed"


def test_forget_deletes_and_accepts_gone_images(fake_glance: FakeGlance, tmp_path: Path) -> None:
    first, second = record(fake_glance, tmp_path)
    fake_glance.view().delete_image(first.id)
    con, out, _ = console()
    assert run_forget(fake_glance.view(), con, [first, second]) == 0  # type: ignore[arg-type]
    assert fake_glance.images == {}
    assert "was gone" in out.getvalue() and "deleted" in out.getvalue()


# --- the command line ------------------------------------------------------------------------


@pytest.fixture
def cli_glance(monkeypatch: pytest.MonkeyPatch, fake_glance: FakeGlance) -> FakeGlance:
    """main() talks to the fake Glance instead of connecting."""
    monkeypatch.setattr(ledger, "connect", lambda cloud: None)
    monkeypatch.setattr(ledger, "GlanceApi", lambda conn: fake_glance.view())
    return fake_glance


def run_main(*argv: str) -> tuple[int, str, str]:
    con, out, err = console()
    code = main(list(argv), con)
    return code, out.getvalue(), err.getvalue()


def test_help_answers(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["record", "--help"], ["check", "--help"], ["forget", "--help"]):
        with pytest.raises(SystemExit) as done:
            main(argv)
        assert done.value.code == 0
    text = capsys.readouterr().out
    assert "exit codes:" in text and "--size-mib" in text and "--delete" in text


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["record"], "--out"),
        (["record", "--out", "x", "--count", "0"], "--count: 0 is not from 1 to 100"),
        (["record", "--out", "x", "--size-mib", "big"], "--size-mib: not a whole number"),
        (["record", "--out", "x", "--timeout", "0"], "--timeout must be a positive"),
        (["check", "--in", "/nonexistent/ledger.json"], "no such file"),
        (["forget"], "--in"),
    ],
)
def test_bad_usage_is_exit_2_with_one_line(argv: list[str], needle: str) -> None:
    code, out, err = run_main(*argv)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("glance-ledger: error: ")
    assert needle in err


def test_unreachable_cloud_is_exit_3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def unreachable(cloud: str | None) -> None:
        raise CloudUnreachable("Keystone: connection refused")

    monkeypatch.setattr(ledger, "connect", unreachable)
    code, _, err = run_main("record", "--out", str(tmp_path / "l.json"))
    assert code == 3
    assert "Keystone: connection refused" in err


def test_record_check_delete_round_trip(cli_glance: FakeGlance, tmp_path: Path) -> None:
    path = str(tmp_path / "ledger.json")
    code, out, _ = run_main("record", "--out", path, "--count", "2", "--size-mib", "1")
    assert code == 0, out
    assert out.count("RECORD  ") == 2
    code, out, _ = run_main("check", "--in", path)
    assert code == 0, out
    assert len(cli_glance.images) == 2
    code, out, _ = run_main("check", "--in", path, "--delete")
    assert code == 0, out
    assert out.count("DELETE  ") == 2
    assert cli_glance.images == {}
    code, out, _ = run_main("check", "--in", path)
    assert code == 1
    assert "2 failed" in out


def store_copy(fake_glance: FakeGlance, entries: list[Entry], directory: Path) -> Path:
    """The store as Glance's file driver keeps it: DIR/<id> per image."""
    directory.mkdir(parents=True, exist_ok=True)
    for entry in entries:
        (directory / entry.id).write_bytes(fake_glance.data[entry.id])
    return directory


def test_check_reads_the_store_files_from_the_disk(fake_glance: FakeGlance, tmp_path: Path) -> None:
    first, second = record(fake_glance, tmp_path)
    old = store_copy(fake_glance, [first], tmp_path / "old")
    new = store_copy(fake_glance, [second], tmp_path / "new")
    con, out, _ = console()
    assert run_check(fake_glance.view(), con, [first, second], [old, new]) == 0  # type: ignore[arg-type]
    assert f"the store file {old / first.id} match" in out.getvalue()
    assert f"the store file {new / second.id} match" in out.getvalue()


def test_check_names_the_image_whose_store_file_changed(
    fake_glance: FakeGlance, tmp_path: Path
) -> None:
    """A byte flipped on disk: the image's line fails and names it, even when the API (or
    an image cache in front of the store) still serves the old bytes."""
    first, second = record(fake_glance, tmp_path)
    store = store_copy(fake_glance, [first, second], tmp_path / "store")
    data = bytearray((store / first.id).read_bytes())
    data[4096] ^= 0x01
    (store / first.id).write_bytes(bytes(data))
    con, out, _ = console()
    assert run_check(fake_glance.view(), con, [first, second], [store]) == 1  # type: ignore[arg-type]
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"FAIL  {first.name}  {first.id}  store file {store / first.id} md5")
    assert "sha512: expected" in lines[0] and "size" not in lines[0]
    assert lines[1].startswith(f"PASS  {second.name}")


def test_check_fails_when_the_store_file_is_missing(
    fake_glance: FakeGlance, tmp_path: Path
) -> None:
    (entry,) = record(fake_glance, tmp_path, count=1)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckFailed, match=f"no file {entry.id} in the store"):
        check_image(fake_glance.view(), entry, [empty])  # type: ignore[arg-type]


def test_check_store_dirs_under_host_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "var/lib/glance/images").mkdir(parents=True)
    base = ["check", "--in", "l.json", "--host-root", str(root)]
    args = build_parser().parse_args([*base, "--store-dir", "/var/lib/glance/images"])
    assert _store_dirs(args) == [root / "var/lib/glance/images"]
    args = build_parser().parse_args([*base, "--store-dir", "/srv/glance/fast"])
    with pytest.raises(ConfigError, match="--store-dir /srv/glance/fast: not a directory under"):
        _store_dirs(args)
