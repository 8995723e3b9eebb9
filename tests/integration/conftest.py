"""Shared fixtures for the testinfra tests run against a molecule controller.

Run by molecule/shared/verify.yml as
``pytest --hosts=podman://controller tests/integration`` with LAB_ADDRESS set to
the container's bridge address; they can be run the same way by hand while a
scenario is converged (``molecule converge -s default``).
"""

from __future__ import annotations

import os

import pytest
import testinfra.host


def _listening_ports(host: testinfra.host.Host) -> set[int]:
    ports: set[int] = set()
    for spec in host.socket.get_listening_sockets():
        # "tcp://0.0.0.0:3306", "tcp://:::5000", "unix:///run/..."
        if spec.startswith(("tcp://", "tcp6://")):
            ports.add(int(spec.rsplit(":", 1)[1]))
    return ports


@pytest.fixture(scope="module")
def listening_ports(host: testinfra.host.Host) -> set[int]:
    """TCP ports something listens on inside the container (any address)."""
    return _listening_ports(host)


@pytest.fixture(scope="session")
def lab_address(request: pytest.FixtureRequest) -> str:
    """The controller's address as the deploy host reaches it."""
    address = os.environ.get("LAB_ADDRESS", "")
    if not address:
        host = testinfra.host.get_host(request.config.getoption("hosts")[0])
        address = host.check_output("hostname -I").split()[0]
    return address
