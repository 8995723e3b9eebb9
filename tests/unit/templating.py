"""Render the roles' templates the way Ansible does, for unit tests.

Uses ansible-core's own Templar, so filters (urlencode, to_json, quote, ...)
behave exactly as in a converge. Variables come from the role's
defaults/main.yml, then vars/main.yml, then the test's overrides.
"""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROOT = Path(__file__).resolve().parents[2]
ROLES = ROOT / "roles"


def trusted(value: Any) -> Any:
    """Mark strings from the role's own files as templates, as Ansible does."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, list):
        return [trusted(v) for v in value]
    if isinstance(value, dict):
        return {k: trusted(v) for k, v in value.items()}
    return value


#: The Debian release whose per-release vars (vars/debian-N.yml) a render uses
#: unless the test passes ``debian_release``.
DEFAULT_RELEASE = "13"


def role_vars(
    role: str, *, debian_release: str = DEFAULT_RELEASE, **overrides: Any
) -> dict[str, Any]:
    """Defaults, then vars (main.yml, then the release's file), then overrides, as the roles
    layer them (tasks/main.yml loads vars/debian-N.yml for the host's release)."""
    merged: dict[str, Any] = {"ansible_managed": "Ansible managed"}
    for path in (
        ROLES / role / "defaults/main.yml",
        ROLES / role / "vars/main.yml",
        ROLES / role / f"vars/debian-{debian_release}.yml",
    ):
        if path.exists():
            merged.update(trusted(yaml.safe_load(path.read_text()) or {}))
    merged.update(overrides)
    return merged


def render(role: str, template: str, **overrides: Any) -> str:
    """Render roles/<role>/templates/<template> with the role's variables."""
    variables = role_vars(role, **overrides)
    source = (ROLES / role / "templates" / template).read_text()
    templar = Templar(loader=DataLoader(), variables=variables)
    result = templar.template(trust_as_template(source))
    assert isinstance(result, str)
    return result


def role_var(role: str, name: str, **overrides: Any) -> Any:
    """The value of one of the role's variables, templated as in a play."""
    variables = role_vars(role, **overrides)
    return Templar(loader=DataLoader(), variables=variables).template(variables[name])


def render_ini(role: str, template: str, **overrides: Any) -> configparser.RawConfigParser:
    """Render an ini template and parse it as oslo.config would read it."""
    parser = configparser.RawConfigParser(strict=True, interpolation=None)
    parser.read_string(render(role, template, **overrides))
    return parser


#: The data each rendered ini file is made of, as the roles' config tasks
#: combine it (openstack_service's ini.j2 renders it).
CONFS = {
    "glance-api.conf": (
        "glance",
        "_glance_api_conf | combine(_glance_api_conf_stores)"
        " | combine(glance_api_conf_overrides, recursive=True)",
    ),
    "glance-cache.conf": (
        "glance",
        "_glance_cache_conf | combine(glance_cache_conf_overrides, recursive=True)",
    ),
    "keystone.conf": (
        "keystone",
        "_keystone_conf | combine(keystone_conf_overrides, recursive=True)",
    ),
}


def render_conf_text(name: str, **overrides: Any) -> str:
    """Render one of CONFS with openstack_service's ini.j2, as the config entry point does."""
    role, expression = CONFS[name]
    variables = role_vars(role, **overrides)
    templar = Templar(loader=DataLoader(), variables=variables)
    conf = templar.template(trust_as_template("{{ " + expression + " }}"))
    source = (ROLES / "openstack_service/templates/ini.j2").read_text()
    templar = Templar(loader=DataLoader(), variables={**variables, "item": {"conf": conf}})
    result = templar.template(trust_as_template(source))
    assert isinstance(result, str)
    return result


def render_conf(name: str, **overrides: Any) -> configparser.RawConfigParser:
    """Render one of CONFS and parse it as oslo.config would read it."""
    parser = configparser.RawConfigParser(strict=True, interpolation=None)
    parser.read_string(render_conf_text(name, **overrides))
    return parser
