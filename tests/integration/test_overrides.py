"""The scenarios' config overrides reached the rendered files (issue #14).

Every molecule scenario sets the same glance_api_conf_overrides and
keystone_conf_overrides (its molecule.yml); the idempotence converge before
this verify proved a re-run keeps them (changed=0).
"""

from __future__ import annotations

import configparser

import testinfra.host


def read_ini(host: testinfra.host.Host, path: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=True, interpolation=None)
    parser.read_string(host.run(f"cat {path}").stdout)
    return parser


def test_glance_api_override_changes_an_option_and_adds_a_section(
    host: testinfra.host.Host,
) -> None:
    conf = read_ini(host, "/etc/glance/glance-api.conf")
    assert conf["DEFAULT"]["image_member_quota"] == "64"
    assert conf["profiler"]["enabled"] == "false"
    # The rest is still the role's: the override did not replace the section.
    assert conf["DEFAULT"]["bind_port"] == "9292"


def test_keystone_override_reaches_keystone_conf(host: testinfra.host.Host) -> None:
    conf = read_ini(host, "/etc/keystone/keystone.conf")
    assert conf["token"]["expiration"] == "7200"
    assert conf["token"]["provider"] == "fernet"
