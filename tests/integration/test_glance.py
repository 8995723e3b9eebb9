"""Glance files, database schema and API authentication on the controller."""

from __future__ import annotations

import urllib.error
import urllib.request

import testinfra.host


def test_api_config_is_private_to_glance(host: testinfra.host.Host) -> None:
    conf = host.file("/etc/glance/glance-api.conf")
    assert conf.is_file
    assert conf.user == "root"
    assert conf.group == "glance"
    assert conf.mode == 0o640


def test_image_store_belongs_to_glance(host: testinfra.host.Host) -> None:
    store = host.file("/var/lib/glance/images")
    assert store.is_directory
    assert store.user == "glance"
    assert store.group == "glance"


def test_database_schema_is_current(host: testinfra.host.Host) -> None:
    # glance-manage prints an eventlet traceback at exit: judge by exit code.
    result = host.run("runuser -u glance -- glance-manage db check")
    assert result.rc == 0, result.stdout + result.stderr


def test_api_refuses_anonymous_requests(lab_address: str) -> None:
    """From the deploy host, as a client would: no token -> 401."""
    url = f"http://{lab_address}:9292/v2/images"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as err:
        status = err.code
    assert status == 401, f"GET {url} without a token answered {status}, expected 401"
