"""HAProxy in front of the glance hosts (issue #15): the template and the wiring."""

from __future__ import annotations

from typing import Any

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from templating import ROOT, render, trusted

GLANCE_SERVICE = {
    "name": "glance_api",
    "bind_address": "10.0.0.20",
    "bind_port": 9292,
    "servers": [
        {"name": "glance1", "address": "10.0.0.21"},
        {"name": "glance2", "address": "10.0.0.22"},
    ],
    "balance": "roundrobin",
    "check": "GET /healthcheck",
    "check_status": 200,
}


def sections(text: str) -> dict[str, list[str]]:
    """haproxy.cfg as {"global": [...], "frontend NAME": [...], ...}: each section's
    lines, stripped, without comments and blank lines."""
    parsed: dict[str, list[str]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        if not raw[0].isspace():
            current = line.strip()
            assert current not in parsed, f"section {current} twice"
            parsed[current] = []
        else:
            assert current is not None, raw
            parsed[current].append(" ".join(line.split()))
    return parsed


def haproxy_cfg(**overrides: Any) -> dict[str, list[str]]:
    return sections(render("haproxy", "etc/haproxy/haproxy.cfg.j2", **overrides))


def test_defaults_render_only_global_and_defaults() -> None:
    cfg = haproxy_cfg()
    assert list(cfg) == ["global", "defaults"]
    assert "stats socket /run/haproxy/admin.sock mode 660 level admin" in cfg["global"]
    assert "mode http" in cfg["defaults"]


def test_timeouts_fit_long_image_transfers() -> None:
    defaults = haproxy_cfg()["defaults"]
    assert "timeout client 10m" in defaults
    assert "timeout server 10m" in defaults
    assert "timeout connect 5s" in defaults


def test_a_refused_connection_is_retried_on_another_server() -> None:
    defaults = haproxy_cfg()["defaults"]
    assert "retries 3" in defaults
    assert "option redispatch" in defaults


def test_glance_frontend_and_backend() -> None:
    cfg = haproxy_cfg(haproxy_services=[GLANCE_SERVICE])
    assert cfg["frontend glance_api"] == ["bind 10.0.0.20:9292", "default_backend glance_api"]
    assert cfg["backend glance_api"] == [
        "balance roundrobin",
        "option httpchk GET /healthcheck",
        "http-check expect status 200",
        "http-response set-header X-Served-By %[srv_name]",
        "server glance1 10.0.0.21:9292 check",
        "server glance2 10.0.0.22:9292 check",
    ]


def test_empty_served_by_header_adds_none_and_optional_fields_default() -> None:
    minimal = {k: GLANCE_SERVICE[k] for k in ("name", "bind_address", "bind_port", "servers")}
    cfg = haproxy_cfg(
        haproxy_services=[{**minimal, "server_port": 8080}], haproxy_served_by_header=""
    )
    backend = cfg["backend glance_api"]
    assert backend[0] == "balance roundrobin"
    assert not [line for line in backend if "set-header" in line or "httpchk" in line]
    assert "server glance2 10.0.0.22:8080 check" in backend


def test_admin_socket_path_is_a_variable() -> None:
    cfg = haproxy_cfg(haproxy_admin_socket="/run/haproxy/other.sock")
    assert "stats socket /run/haproxy/other.sock mode 660 level admin" in cfg["global"]


# The playbooks' wiring (playbooks/group_vars/all/wiring.yml), templated with
# an inventory's groups and hostvars.
WIRING = yaml.safe_load((ROOT / "playbooks/group_vars/all/wiring.yml").read_text())


def wiring(name: str, groups: dict[str, list[str]], host: str) -> Any:
    hostvars = {
        "controller": {"lab_address": "10.0.0.20"},
        "glance1": {"lab_address": "10.0.0.21"},
        "glance2": {"lab_address": "10.0.0.22"},
    }
    variables = {
        **{k: trusted(v) for k, v in WIRING.items()},
        "groups": groups,
        "hostvars": hostvars,
        "inventory_hostname": host,
        "lab_address": hostvars[host]["lab_address"],
    }
    templar = Templar(loader=DataLoader(), variables=variables)
    return templar.template(trust_as_template("{{ " + name + " }}"))


TWO_GLANCE = {"glance": ["glance1", "glance2"], "keystone": ["controller"]}


def test_glance_url_names_the_load_balancer_when_there_is_one() -> None:
    with_lb = {**TWO_GLANCE, "loadbalancer": ["controller"]}
    assert wiring("lab_glance_url", with_lb, "glance2") == "http://10.0.0.20:9292"
    assert wiring("lab_glance_url", TWO_GLANCE, "glance2") == "http://10.0.0.21:9292"
    empty_lb = {**TWO_GLANCE, "loadbalancer": []}
    assert wiring("lab_glance_url", empty_lb, "glance2") == "http://10.0.0.21:9292"


def test_haproxy_services_has_every_glance_host() -> None:
    groups = {**TWO_GLANCE, "loadbalancer": ["controller"]}
    services = wiring("haproxy_services", groups, "controller")
    assert len(services) == 1
    service = services[0]
    assert service["bind_address"] == "10.0.0.20"
    assert service["bind_port"] == 9292
    assert service["servers"] == [
        {"name": "glance1", "address": "10.0.0.21"},
        {"name": "glance2", "address": "10.0.0.22"},
    ]
    assert service["check"] == "GET /healthcheck"
    text = render("haproxy", "etc/haproxy/haproxy.cfg.j2", haproxy_services=services)
    assert "server glance2 10.0.0.22:9292 check" in sections(text)["backend glance_api"]


def test_each_glance_host_binds_its_own_address() -> None:
    assert wiring("glance_bind_address", TWO_GLANCE, "glance2") == "10.0.0.22"
