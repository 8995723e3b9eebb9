"""Packages, daemons and ports of the Glance controller (all four services)."""

from __future__ import annotations

import pytest
import testinfra.host

# package, a word its daemon's command line contains, TCP port
SERVICES = [
    ("mariadb-server", "mariadbd", 3306),
    ("memcached", "memcached", 11211),
    ("keystone", "keystone", 5000),  # uwsgi --ini /etc/keystone/keystone-uwsgi.ini
    ("glance-api", "glance-api", 9292),
]
IDS = [s[0] for s in SERVICES]


@pytest.mark.parametrize(("package", "process", "port"), SERVICES, ids=IDS)
def test_package_installed(
    host: testinfra.host.Host, package: str, process: str, port: int
) -> None:
    assert host.package(package).is_installed


@pytest.mark.parametrize(("package", "process", "port"), SERVICES, ids=IDS)
def test_daemon_running(host: testinfra.host.Host, package: str, process: str, port: int) -> None:
    running = [p for p in host.process.filter() if process in p.args]
    assert running, f"no process whose command line contains {process!r}"


@pytest.mark.parametrize(("package", "process", "port"), SERVICES, ids=IDS)
def test_port_listening(listening_ports: set[int], package: str, process: str, port: int) -> None:
    assert port in listening_ports, f"nothing listens on TCP {port} in the container"


def test_keystone_runs_under_uwsgi(host: testinfra.host.Host) -> None:
    # Debian's uwsgi binary shows up as uwsgi_python311 (comm), not uwsgi.
    uwsgi = [
        p for p in host.process.filter() if p.comm.startswith("uwsgi") and "keystone" in p.args
    ]
    assert uwsgi, "keystone is not served by uwsgi"
