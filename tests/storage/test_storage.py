"""The storage lab's configuration on the controller (molecule scenario `storage`).

glance-verify proves the features over the API (an upload per backend, the
quota refusal, the cache hit, the http store); these check what the API
cannot show: the rendered configuration, directory ownership and the cache's
upkeep jobs. They expect molecule/storage's inventory.
"""

from __future__ import annotations

import configparser

import pytest
import testinfra.host

BACKEND_DIRS = ["/srv/glance/fast", "/var/lib/glance/images"]
RESERVED_DIRS = ["/var/lib/glance/staging", "/var/lib/glance/tasks_work_dir"]
CACHE_DIR = "/var/lib/glance/image-cache"


@pytest.fixture(scope="module")
def api_conf(host: testinfra.host.Host) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=True, interpolation=None)
    parser.read_string(host.file("/etc/glance/glance-api.conf").content_string)
    return parser


def test_backends_are_enabled_with_fast_as_default(api_conf: configparser.RawConfigParser) -> None:
    assert api_conf["DEFAULT"]["enabled_backends"] == "fast:file, legacy:file, web:http"
    assert api_conf["glance_store"]["default_backend"] == "fast"
    assert api_conf["fast"]["filesystem_store_datadir"] == "/srv/glance/fast/"
    assert api_conf["legacy"]["filesystem_store_datadir"] == "/var/lib/glance/images/"
    staging = api_conf["os_glance_staging_store"]["filesystem_store_datadir"]
    assert staging == "/var/lib/glance/staging/"
    tasks = api_conf["os_glance_tasks_store"]["filesystem_store_datadir"]
    assert tasks == "/var/lib/glance/tasks_work_dir/"


def test_quota_and_cache_are_configured(api_conf: configparser.RawConfigParser) -> None:
    assert api_conf["DEFAULT"]["user_storage_quota"] == "64MB"
    assert api_conf["DEFAULT"]["image_cache_dir"] == CACHE_DIR + "/"
    assert api_conf["DEFAULT"]["image_cache_max_size"] == "268435456"
    assert api_conf["paste_deploy"]["flavor"] == "keystone+cachemanagement"


CACHE_DIRS = [CACHE_DIR] + [f"{CACHE_DIR}/{sub}" for sub in ("incomplete", "invalid", "queue")]


@pytest.mark.parametrize("path", BACKEND_DIRS + RESERVED_DIRS + CACHE_DIRS)
def test_store_directories_belong_to_glance(host: testinfra.host.Host, path: str) -> None:
    directory = host.file(path)
    assert directory.is_directory
    assert (directory.user, directory.group) == ("glance", "glance")
    assert directory.mode == 0o750
    # Ownership alone is not the point: glance must be able to write there.
    probe = f"{path}/.lab-write-probe"
    result = host.run(f"runuser -u glance -- sh -c 'touch {probe} && rm {probe}'")
    assert result.rc == 0, result.stderr


def test_cache_upkeep_is_scheduled(host: testinfra.host.Host) -> None:
    cron = host.file("/etc/cron.d/glance-image-cache")
    assert cron.is_file
    assert (cron.user, cron.mode) == ("root", 0o644)
    jobs = [
        line.split()
        for line in cron.content_string.splitlines()
        if line[:1].isdigit() or line[:1] == "*"
    ]
    commands = {job[6] for job in jobs if job[5] == "glance"}
    assert commands == {"glance-cache-pruner", "glance-cache-cleaner"}
    assert host.process.filter(comm="cron"), "cron is not running"


@pytest.mark.parametrize("command", ["glance-cache-pruner", "glance-cache-cleaner"])
def test_cache_upkeep_commands_run(host: testinfra.host.Host, command: str) -> None:
    # What cron runs, by hand: they read /etc/glance/glance-cache.conf.
    result = host.run(f"runuser -u glance -- {command}")
    assert result.rc == 0, result.stdout + result.stderr
    conf = host.file("/etc/glance/glance-cache.conf")
    assert (conf.user, conf.group, conf.mode) == ("root", "glance", 0o640)
