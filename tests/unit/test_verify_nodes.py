"""Several glance-api nodes behind a load balancer, and an image store in Ceph RBD: the
options, the plan, the spread verdict, the per-node comparison, rbd locations and the
settings file's rbd keys. Pure logic only: the steps themselves need a real deployment."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from glance_verify import cli
from glance_verify.deployment import parse_deployment
from glance_verify.errors import ConfigError
from glance_verify.hashing import Digests
from glance_verify.nodes import (
    check_header_name,
    node_problems,
    parse_api_node,
    parse_api_nodes,
    served_by_counts,
    spread_problems,
    spread_requests,
)
from glance_verify.options import Backend, Options
from glance_verify.plan import enabled_steps
from glance_verify.report import to_dict
from glance_verify.runner import RunResult
from glance_verify.storage import parse_rbd_url, rbd_location_problems

pytestmark = pytest.mark.usefixtures("no_ambient_cloud")

IMAGE = "5f1c0d1e-2b7a-4c55-9d0e-0123456789ab"
FSID = "0b8d3a52-4c3e-11ef-9f1a-525400123456"
LOCAL = Digests(size=1024, md5="a" * 32, algo="sha512", value="b" * 128)


# --- --api-node, --served-by-header ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("http://10.0.0.21:9292", "http://10.0.0.21:9292"),
        ("http://10.0.0.21:9292/", "http://10.0.0.21:9292"),
        ("https://Glance1.example.org", "https://glance1.example.org"),
        ("http://[fd00::21]:9292/", "http://[fd00::21]:9292"),
        ("http://lb.example.org/image", "http://lb.example.org/image"),
    ],
)
def test_an_api_node_is_a_root_url(text: str, url: str) -> None:
    assert parse_api_node(text) == url


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("10.0.0.21:9292", "expected http(s)://HOST:PORT"),
        ("ftp://10.0.0.21", "expected http(s)://HOST:PORT"),
        ("http://", "expected http(s)://HOST:PORT"),
        ("http://10.0.0.21:99999", "not a URL"),
        ("http://u:p@10.0.0.21:9292", "no user or password"),
        ("http://10.0.0.21:9292/?x=1", "no query or fragment"),
        ("http://10.0.0.21:9292/v2/", "without /v2"),
    ],
)
def test_a_bad_api_node_is_a_usage_error(text: str, needle: str) -> None:
    with pytest.raises(ConfigError, match="--api-node") as err:
        parse_api_node(text)
    assert needle in str(err.value)


def test_the_same_node_twice_is_a_usage_error() -> None:
    assert parse_api_nodes(["http://a:9292", "http://b:9292"]) == ("http://a:9292", "http://b:9292")
    with pytest.raises(ConfigError, match="given more than once"):
        parse_api_nodes(["http://a:9292", "http://A:9292/"])


def test_served_by_header_names() -> None:
    assert check_header_name("X-Served-By") == "X-Served-By"
    assert check_header_name("") == ""
    for bad in ("X Served", "X:Served", "é"):
        with pytest.raises(ConfigError, match="not an HTTP header name"):
            check_header_name(bad)


def test_the_options_from_the_command_line() -> None:
    opts = cli.parse_args([])
    assert opts.api_nodes == () and opts.served_by_header == "X-Served-By"
    assert opts.rbd_pool is None
    opts = cli.parse_args(
        ["--api-node", "http://10.0.0.21:9292/", "--api-node", "http://10.0.0.22:9292",
         "--served-by-header", "", "--rbd-pool", "images"]
    )  # fmt: skip
    assert opts.api_nodes == ("http://10.0.0.21:9292", "http://10.0.0.22:9292")
    assert opts.served_by_header == ""
    assert opts.rbd_pool == "images"


def test_help_names_the_new_steps_and_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for word in ("api-nodes", "lb-spread", "store-rbd", "--api-node", "--served-by-header",
                 "--rbd-pool"):  # fmt: skip
        assert word in out


# --- the plan ----------------------------------------------------------------------------


def test_the_node_steps_run_only_with_api_nodes() -> None:
    assert {"api-nodes", "lb-spread"}.isdisjoint(enabled_steps(Options()))
    two = Options(api_nodes=("http://a:9292", "http://b:9292"))
    assert {"api-nodes", "lb-spread"} <= set(enabled_steps(two))
    # '' turns the spread check off, not the per-node one.
    no_header = Options(api_nodes=("http://a:9292",), served_by_header="")
    names = enabled_steps(no_header)
    assert "api-nodes" in names and "lb-spread" not in names
    # Each can be skipped on its own.
    skipped = enabled_steps(Options(api_nodes=("http://a:9292",), skip=frozenset({"api-nodes"})))
    assert "api-nodes" not in skipped and "lb-spread" in skipped


def test_an_rbd_store_plans_store_rbd_and_no_file_store_steps(tmp_path: Path) -> None:
    rbd = Options(rbd_pool="images", store_path=tmp_path)
    names = enabled_steps(rbd)
    assert "store-rbd" in names
    assert "store-file" not in names and "store-file-gone" not in names
    file_store = Options(store_path=tmp_path)
    names = enabled_steps(file_store)
    assert "store-rbd" not in names and "store-file" in names
    # Glance shows no location: nothing for store-rbd to look at, so it is not required.
    hidden = Options(rbd_pool="images", locations_hidden=True)
    assert "store-rbd" not in enabled_steps(hidden)


# --- lb-spread ---------------------------------------------------------------------------


def test_spread_requests_two_per_node_at_least_six() -> None:
    assert [spread_requests(n) for n in (1, 2, 3, 4, 5)] == [6, 6, 6, 8, 10]


def test_a_round_robin_spread_passes_and_counts_per_server() -> None:
    values: list[str | None] = ["glance1", "glance2", "glance3"] * 2
    assert spread_problems(values, 3, "X-Served-By") == []
    assert served_by_counts(["g2", "g1", "g2", None]) == {"g2": 2, "g1": 1}


def test_one_server_answering_everything_fails_with_the_counts() -> None:
    problems = spread_problems(["glance1"] * 6, 2, "X-Served-By")
    assert problems == [
        "1 server(s) answered 6 requests, expected at least 2 (one per --api-node): "
        "X-Served-By glance1 6"
    ]


def test_no_header_at_all_says_the_load_balancer_does_not_set_it() -> None:
    (problem,) = spread_problems([None] * 6, 2, "X-Served-By")
    assert "does not set it" in problem
    assert "--served-by-header ''" in problem


def test_some_answers_without_the_header_fail() -> None:
    problems = spread_problems(["g1", None, "g2", "g1", "g2", "g1"], 2, "X-Served-By")
    assert problems == ["1 of 6 answers have no X-Served-By header"]


# --- api-nodes ---------------------------------------------------------------------------


def shown(**changes: Any) -> dict[str, Any]:
    image = {"id": IMAGE, "status": "active", "size": LOCAL.size, "checksum": LOCAL.md5,
             "os_hash_algo": LOCAL.algo, "os_hash_value": LOCAL.value}  # fmt: skip
    image.update(changes)
    return image


def test_a_node_that_agrees_has_no_problems() -> None:
    assert node_problems(LOCAL, shown(), LOCAL) == []
    assert node_problems(LOCAL, shown(), None) == []


def test_a_node_that_does_not_know_the_image() -> None:
    assert node_problems(LOCAL, None, None) == [
        "GET /v2/images/<id>: 404, the node does not know the image"
    ]


def test_a_node_with_another_record_or_other_bytes() -> None:
    problems = node_problems(LOCAL, shown(status="saving", checksum="c" * 32), None)
    assert [p.split(":")[0] for p in problems] == ["status", "checksum"]
    other = Digests(size=1024, md5="a" * 32, algo="sha512", value="d" * 128)
    (problem,) = node_problems(LOCAL, shown(), other)
    assert problem.startswith("downloaded data sha512: expected bbbb")


def test_the_json_report_carries_the_per_node_and_spread_findings() -> None:
    nodes = {
        "api_nodes": {"http://a:9292": "pass"},
        "lb_spread": {"requests": 6, "served_by": {"g1": 3, "g2": 3}},
    }
    run = RunResult(steps=[], cleanup=[], started=datetime.now(UTC), duration=0.1, nodes=nodes)
    opts = Options(api_nodes=("http://a:9292",))
    data = to_dict(run, opts)
    assert data["api_nodes"] == {"http://a:9292": "pass"}
    assert data["lb_spread"]["served_by"] == {"g1": 3, "g2": 3}
    assert data["options"]["api_nodes"] == ["http://a:9292"]
    json.dumps(data)


# --- store-rbd ---------------------------------------------------------------------------


def test_rbd_urls() -> None:
    assert parse_rbd_url(f"rbd://{FSID}/images/{IMAGE}/snap") == (FSID, "images", IMAGE, "snap")
    assert parse_rbd_url(f"rbd://{FSID}/my%2Dpool/{IMAGE}/snap")[1] == "my-pool"  # type: ignore[index]
    assert parse_rbd_url(f"rbd://{IMAGE}") is None
    assert parse_rbd_url(f"file:///var/lib/glance/images/{IMAGE}") is None


def test_the_rbd_location_names_the_pool_the_image_and_snap() -> None:
    good = f"rbd://{FSID}/images/{IMAGE}/snap"
    assert rbd_location_problems([good], "images", IMAGE) == []
    (problem,) = rbd_location_problems([f"rbd://{FSID}/volumes/{IMAGE}/snap"], "images", IMAGE)
    assert "pool volumes, expected images" in problem
    (problem,) = rbd_location_problems([f"rbd://{FSID}/images/other/snap"], "images", IMAGE)
    assert f"image other, expected {IMAGE}" in problem
    (problem,) = rbd_location_problems([f"rbd://{FSID}/images/{IMAGE}/s1"], "images", IMAGE)
    assert "snapshot s1" in problem
    (problem,) = rbd_location_problems([f"file:///srv/{IMAGE}"], "images", IMAGE)
    assert problem.startswith("location: expected rbd://<fsid>/images/")
    (problem,) = rbd_location_problems([good, good], "images", IMAGE)
    assert problem.startswith("locations: expected one")


# --- the settings file's rbd keys --------------------------------------------------------


def write(tmp_path: Path, data: dict[str, Any]) -> str:
    path = tmp_path / "glance.fact"
    path.write_text(json.dumps(data))
    return str(path)


def test_a_single_rbd_store_from_the_file(tmp_path: Path) -> None:
    """The ceph scenario: glance_stores [rbd, http], default rbd, direct_url shown."""
    data = {
        "format": 1,
        "single_store": {"stores": ["rbd", "http"], "default": "rbd",
                         "file_dir": "/var/lib/glance/images/", "rbd_pool": "images"},
        "backends": [],
        "show_image_direct_url": True,
        "show_multiple_locations": False,
    }  # fmt: skip
    opts = cli.parse_args(["--config", write(tmp_path, data), "--local-stores"])
    assert opts.rbd_pool == "images" and opts.store_path is None
    assert opts.locations_hidden is False
    names = enabled_steps(opts)
    assert "store-rbd" in names and "store-file" not in names
    # Neither field shown: store-rbd does not apply.
    hidden = {**data, "show_image_direct_url": False}
    opts = cli.parse_args(["--config", write(tmp_path, hidden)])
    assert opts.locations_hidden and "store-rbd" not in enabled_steps(opts)
    # rbd enabled but not the default: the main upload goes to the file store.
    file_default = {**data, "single_store": {**data["single_store"], "default": "file"}}
    assert cli.parse_args(["--config", write(tmp_path, file_default)]).rbd_pool is None


def test_an_rbd_default_backend_from_the_file(tmp_path: Path) -> None:
    """Multi-store with an rbd default: no usage error, the rbd backend is tried by step
    backends with its pool, the main upload's store-rbd uses the default's pool."""
    data = {
        "format": 1,
        "backends": [
            {"name": "fast", "type": "file", "path": "/srv/fast/", "pool": None, "default": False},
            {"name": "ceph", "type": "rbd", "path": None, "pool": "images", "default": True},
            {"name": "web", "type": "http", "path": None, "pool": None, "default": False},
        ],
    }
    opts = cli.parse_args(["--config", write(tmp_path, data)])
    assert opts.default_backend == "ceph"
    fast = Backend("fast", PurePosixPath("/srv/fast"))
    assert opts.backends == (fast, Backend("ceph", pool="images"))
    assert opts.rbd_pool == "images"
    # --store names the file backend: not rbd.
    assert cli.parse_args(["--config", write(tmp_path, data), "--store", "fast"]).rbd_pool is None
    dep = parse_deployment(json.dumps(data), "f")
    assert dep.rbd_pool_of("ceph") == "images" and dep.rbd_pool_of("web") is None


def test_the_file_s_rbd_keys_are_typed(tmp_path: Path) -> None:
    bad = {"format": 1, "show_image_direct_url": "yes"}
    with pytest.raises(ConfigError, match="show_image_direct_url: expected true or false"):
        parse_deployment(json.dumps(bad), "f")
    bad = {"format": 1, "single_store": {"stores": ["rbd"], "default": "rbd", "rbd_pool": 3}}
    with pytest.raises(ConfigError, match=r"single_store\.rbd_pool"):
        parse_deployment(json.dumps(bad), "f")


# --- playbooks/verify.yml ----------------------------------------------------------------


def verify_play_api_nodes(glance: dict[str, str], **more: Any) -> list[str]:
    """The play's ``_verify_api_nodes``, templated by Ansible for an inventory whose glance
    hosts have these lab_address values."""
    from ansible.parsing.dataloader import DataLoader  # noqa: PLC0415
    from ansible.template import Templar  # noqa: PLC0415

    from templating import ROOT, trusted  # noqa: PLC0415

    plays = yaml.safe_load((ROOT / "playbooks/verify.yml").read_text())
    play = next(p for p in plays if "vars" in p and "_verify_api_nodes" in p["vars"])
    variables = {
        **trusted(play["vars"]),
        "groups": {"glance": list(glance), **more.pop("groups", {})},
        "hostvars": {host: {"lab_address": address} for host, address in glance.items()},
        **more,
    }
    templar = Templar(loader=DataLoader(), variables=variables)
    nodes = templar.template(variables["_verify_api_nodes"])
    assert isinstance(nodes, list)
    return [str(n) for n in nodes]


def test_verify_play_names_each_glance_node_when_there_are_several() -> None:
    nodes = verify_play_api_nodes({"glance1": "10.0.0.21", "glance2": "fd00::22"})
    assert nodes == ["http://10.0.0.21:9292", "http://[fd00::22]:9292"]
    # glance-verify takes them as the play passes them.
    opts = cli.parse_args([f"--api-node={n}" for n in nodes])
    assert opts.api_nodes == tuple(nodes)


def test_verify_play_names_one_node_behind_a_load_balancer_and_none_alone() -> None:
    assert verify_play_api_nodes({"glance1": "127.0.0.1"}) == []
    behind = verify_play_api_nodes({"glance1": "10.0.0.21"}, groups={"loadbalancer": ["lb1"]})
    assert behind == ["http://10.0.0.21:9292"]
    given = verify_play_api_nodes(
        {"glance1": "10.0.0.21", "glance2": "10.0.0.22"}, verify_api_nodes=["https://g1:443"]
    )
    assert given == ["https://g1:443"]
