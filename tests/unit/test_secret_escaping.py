"""Issue #14: every secret reaches every file escaped for that file's syntax.

Each template is rendered with passwords holding every printable ASCII character,
then read back the way the consuming program reads it. The readers here copy the
behaviour measured on Debian 12 (Zed) and 13 (2025.1) in containers:

- oslo.config (9.x): strips the value, drops one pair of matching outer quotes
  (' or "), expands ``$name``/``${name}`` and turns ``$$`` into ``$``; ``#`` and
  ``;`` start a comment only at the start of a line.
- SQLAlchemy 1.4 and 2.0 ``make_url``: the password is ``[^@]*`` up to the host's
  ``@``, then ``urllib.parse.unquote``d.
- keystone-manage (22 and 27) passes ``[database] connection`` unchanged to
  alembic's ``Config.set_main_option``, i.e. ``ConfigParser.set`` with basic
  interpolation, which rejects a ``%`` that is not ``%%`` or ``%(name)s``: so
  keystone's URL holds no password, and names an option file PyMySQL reads
  (``read_default_file``: RawConfigParser, one pair of outer quotes removed).
- Glance doubles every ``%`` of its URL before it does the same.
"""

from __future__ import annotations

import configparser
import re
import shlex
import string
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
import yaml

from templating import render, render_conf, render_conf_text

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import secret_scan

EVERY_PRINTABLE = string.ascii_letters + string.digits + " " + string.punctuation

#: The passwords molecule/shared/operator_passwords.yml writes, and more.
PASSWORDS = [
    "Kdb 1 &;#\"'{{ x }}\\/:?=[]+,$HOME",
    "'adm1N $(id) `id` <>|^~*{% raw %}!\\'",
    ' gDb2 %25 %(x)s @localhost/?#;"_.-~',
    "\"gKs3 $x ${y} '{{ z }}' ;#\\%@&!\"",
    EVERY_PRINTABLE,
    " " + EVERY_PRINTABLE,
    "'" + EVERY_PRINTABLE + "'",
    '"quoted both ends"',
]

# SQLAlchemy's URL pattern, the same in 1.4.46 (Debian 12) and 2.0.40 (Debian 13).
SQLA_URL = re.compile(
    r"""
    (?P<name>[\w\+]+)://
    (?:
        (?P<username>[^:/]*)
        (?::(?P<password>[^@]*))?
    @)?
    (?:
        (?:
            \[(?P<ipv6host>[^/\?]+)\] |
            (?P<ipv4host>[^/:\?]+)
        )?
        (?::(?P<port>[^/\?]*))?
    )?
    (?:/(?P<database>[^\?]*))?
    (?:\?(?P<query>.*))?
    """,
    re.X,
)


def oslo_value(raw: str) -> str:
    """An ini value as oslo.config returns it (measured behaviour, see above)."""
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    out, i = [], 0
    while i < len(value):
        if value[i] == "$":
            if value[i + 1 : i + 2] == "$":
                out.append("$")
                i += 2
                continue
            raise ValueError(f"oslo.config would substitute {value[i:]!r}")
        out.append(value[i])
        i += 1
    return "".join(out)


def sqla_password(url: str) -> str:
    match = SQLA_URL.match(url)
    assert match is not None, url
    assert match.group("ipv4host") == "127.0.0.1", url
    return urllib.parse.unquote(match.group("password"))


def pymysql_option(text: str, section: str, key: str) -> str:
    """An option as PyMySQL's read_default_file reads it (its Parser: RawConfigParser,
    then one pair of matching outer quotes removed)."""
    parser = configparser.RawConfigParser(allow_no_value=True)
    parser.read_string(text)
    value = parser.get(section, key)
    for quote in ("'", '"'):
        if len(value) >= 2 and value[0] == value[-1] == quote:
            return value[1:-1]
    return value


def keystone_files(password: str) -> tuple[str, str]:
    """keystone.conf and keystone-db.cnf as the keystone role writes them."""
    variables = {"keystone_db_password": password, "keystone_admin_password": "unused"}
    return (
        render_conf_text("keystone.conf", **variables),
        render("keystone", "etc/keystone/keystone-db.cnf.j2", **variables),
    )


def configparser_set(value: str) -> None:
    """What alembic's set_main_option does with the URL (raises ValueError on '%')."""
    parser = configparser.ConfigParser()
    parser.add_section("alembic")
    parser.set("alembic", "sqlalchemy.url", value)


def raw_ini_line(text: str, section: str, key: str) -> str:
    """The raw text after ``key =`` in ``section`` (configparser would interpolate)."""
    current = None
    for line in text.splitlines():
        if line.startswith("["):
            current = line.strip("[]")
        elif current == section and line.split("=", 1)[0].strip() == key:
            return line.split("=", 1)[1]
    raise KeyError(f"[{section}] {key}")


@pytest.mark.parametrize("password", PASSWORDS)
def test_glance_api_conf_carries_any_password(password: str) -> None:
    text = render_conf_text(
        "glance-api.conf",
        glance_db_password=password,
        glance_keystone_password=password,
        glance_keystone_limits={"image_size_total": 1},
    )
    for section in ("keystone_authtoken", "oslo_limit"):
        assert oslo_value(raw_ini_line(text, section, "password")) == password
    url = oslo_value(raw_ini_line(text, "database", "connection"))
    assert sqla_password(url) == password
    configparser_set(url.replace("%", "%%"))  # what Glance hands to alembic


@pytest.mark.parametrize("password", [*PASSWORDS, "100%@host", "%(x)s%%@@"])
def test_keystone_carries_any_password_through_its_option_file(password: str) -> None:
    conf, cnf = keystone_files(password)
    url = oslo_value(raw_ini_line(conf, "database", "connection"))
    configparser_set(url)  # keystone-manage hands it over as it is: no '%' in it
    match = SQLA_URL.match(url)
    assert match is not None and match.group("password") is None, url
    assert urllib.parse.parse_qs(match.group("query")) == {
        "read_default_file": ["/etc/keystone/keystone-db.cnf"]
    }
    assert pymysql_option(cnf, "client", "password") == password


def test_percent_encoding_breaks_keystone_manage() -> None:
    """The failure of issue #14: a fully percent-encoded URL stops keystone-manage."""
    url = "mysql+pymysql://keystone:" + urllib.parse.quote("a&b", safe="") + "@127.0.0.1/ks"
    with pytest.raises(ValueError, match="invalid interpolation syntax"):
        configparser_set(url)


@pytest.mark.parametrize("password", PASSWORDS)
def test_clouds_yaml_carries_any_password(password: str) -> None:
    text = render("openstack_client", "clouds.yaml.j2", openstack_client_admin_password=password)
    clouds = yaml.safe_load(text)["clouds"]
    assert [c["auth"]["password"] for c in clouds.values()] == [password] * len(clouds)


@pytest.mark.parametrize("password", PASSWORDS)
def test_admin_openrc_carries_any_password(password: str, tmp_path: Path) -> None:
    openrc = tmp_path / "admin-openrc"
    openrc.write_text(
        render("openstack_client", "admin-openrc.j2", openstack_client_admin_password=password)
    )
    out = subprocess.run(
        ["/bin/sh", "-c", f'. {shlex.quote(str(openrc))}; printf %s "$OS_PASSWORD"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == password


@pytest.mark.parametrize("password", PASSWORDS)
def test_secret_scan_finds_every_written_form(password: str) -> None:
    forms = {f for kind in secret_scan.forms(password).values() for f in kind}
    glance = render_conf_text(
        "glance-api.conf", glance_db_password=password, glance_keystone_password=password
    )
    written = [
        raw_ini_line(glance, "keystone_authtoken", "password"),
        raw_ini_line(glance, "database", "connection"),
        raw_ini_line(keystone_files(password)[1], "client", "password"),
        render("openstack_client", "clouds.yaml.j2", openstack_client_admin_password=password),
        render("openstack_client", "admin-openrc.j2", openstack_client_admin_password=password),
    ]
    for text in written:
        assert any(f in text.encode() for f in forms), text


def test_a_plain_password_is_written_plain() -> None:
    conf = render_conf("glance-api.conf", glance_db_password="x", glance_keystone_password="plain")
    assert conf["keystone_authtoken"]["password"] == "plain"
