"""Least privilege: the glance database user's grants, and where glance-api listens."""

from __future__ import annotations

import re

import pytest
import testinfra.host

DB_USER = "glance"
DB_USER_HOSTS = ("%", "localhost")
WILDCARDS = ("0.0.0.0", "::", "")  # noqa: S104 - what must not be bound
# "GRANT ALL PRIVILEGES ON `glance`.* TO `glance`@`%`", "GRANT USAGE ON *.* TO ... IDENTIFIED
# BY PASSWORD '*...'": only the privileges and the target are kept (never the hash).
GRANT = re.compile(r"^GRANT (?P<privileges>.+?) ON (?P<target>\S+) TO \S+(?P<rest>.*)$")


def sql(host: testinfra.host.Host, query: str) -> list[str]:
    """Rows of a query run as root through the unix socket (no password), tab-separated."""
    result = host.run("mysql --batch --skip-column-names -e %s", query)
    assert result.rc == 0, f"mysql: {query}: exit {result.rc}: {result.stderr.strip()}"
    return [line for line in result.stdout.splitlines() if line]


def grants(host: testinfra.host.Host, user_host: str) -> list[tuple[str, str, bool]]:
    """(privileges, target, with grant option) of each grant of DB_USER@user_host."""
    found = []
    for line in sql(host, f"SHOW GRANTS FOR '{DB_USER}'@'{user_host}'"):
        match = GRANT.match(line)
        assert match, f"unexpected SHOW GRANTS line for {DB_USER}@{user_host}: {line[:40]}..."
        grant_option = "WITH GRANT OPTION" in match["rest"]
        found.append((match["privileges"], match["target"], grant_option))
    return found


def test_glance_db_accounts(host: testinfra.host.Host) -> None:
    query = f"SELECT Host FROM mysql.user WHERE User = '{DB_USER}'"  # noqa: S608 - a constant
    hosts = sorted(sql(host, query))
    assert hosts == sorted(DB_USER_HOSTS), f"accounts {DB_USER}@{hosts}"


@pytest.mark.parametrize("user_host", DB_USER_HOSTS)
def test_glance_db_user_has_privileges_on_glance_only(
    host: testinfra.host.Host, user_host: str
) -> None:
    by_target = {
        target: (privileges, option) for privileges, target, option in grants(host, user_host)
    }
    who = f"{DB_USER}@{user_host}"
    assert set(by_target) == {"*.*", "`glance`.*"}, f"{who} has grants on {sorted(by_target)}"
    assert by_target["*.*"] == ("USAGE", False), f"{who} on *.*: {by_target['*.*']}"
    assert by_target["`glance`.*"] == ("ALL PRIVILEGES", False), (
        f"{who} on glance.*: {by_target['`glance`.*']}"
    )


def test_glance_api_listens_on_the_configured_address_only(
    host: testinfra.host.Host, lab_address: str
) -> None:
    listeners = sorted(
        spec
        for spec in host.socket.get_listening_sockets()
        if spec.startswith(("tcp://", "tcp6://")) and spec.rsplit(":", 1)[1] == "9292"
    )
    wildcard = [spec for spec in listeners if spec.split("://")[1].rsplit(":", 1)[0] in WILDCARDS]
    assert not wildcard, f"glance-api listens on every address: {wildcard}"
    assert listeners == [f"tcp://{lab_address}:9292"], (
        f"TCP 9292 listeners {listeners}, expected only {lab_address}:9292 (lab_address)"
    )
