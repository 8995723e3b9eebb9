"""Keystone unified limits on the controller (molecule scenario `storage`, limits.yml).

glance-verify's keystone-limits step proves the enforcement over the API; these
check the configuration behind it: glance-api.conf's [oslo_limit] reads the
limits as the glance user on the system scope, through Glance's own internal
endpoint, and the legacy user_storage_quota is off.
"""

from __future__ import annotations

import configparser
import re

import pytest
import testinfra.host


@pytest.fixture(scope="module")
def api_conf(host: testinfra.host.Host) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=True, interpolation=None)
    parser.read_string(host.file("/etc/glance/glance-api.conf").content_string)
    return parser


def test_unified_limits_replace_the_legacy_quota(api_conf: configparser.RawConfigParser) -> None:
    assert api_conf["DEFAULT"]["use_keystone_limits"] == "true"
    assert api_conf["DEFAULT"]["user_storage_quota"] == "0"


def test_oslo_limit_reads_as_the_glance_user_on_the_system(
    api_conf: configparser.RawConfigParser,
) -> None:
    limit, authtoken = api_conf["oslo_limit"], api_conf["keystone_authtoken"]
    assert limit["auth_type"] == "password"
    assert limit["system_scope"] == "all"
    assert limit["username"] == authtoken["username"] == "glance"
    assert limit["auth_url"] == authtoken["auth_url"]
    assert limit["region_name"] == authtoken["region_name"]
    # Same user, same password (compared, never printed).
    assert limit["password"] == authtoken["password"], "oslo_limit password differs"
    assert re.fullmatch(r"[0-9a-f]{32}", limit["endpoint_id"]), limit["endpoint_id"]


def test_endpoint_id_is_glances_internal_endpoint(
    host: testinfra.host.Host, api_conf: configparser.RawConfigParser
) -> None:
    listed = host.run(
        ". /root/admin-openrc && openstack endpoint list --service image "
        "--interface internal -f value -c ID"
    )
    assert listed.rc == 0, listed.stderr
    assert listed.stdout.split() == [api_conf["oslo_limit"]["endpoint_id"]]


def test_glance_api_log_has_no_oslo_limit_errors(host: testinfra.host.Host) -> None:
    log = host.file("/var/log/glance/glance-api.log")
    assert log.exists
    assert "Failed to initialize oslo_limit" not in log.content_string
