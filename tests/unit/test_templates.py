"""The rendered configuration holds what the lab notes require."""

from __future__ import annotations

import urllib.parse

import yaml

from templating import render, render_ini

SECRETS = {
    "glance_db_password": "db-Secret/1$x",
    "glance_keystone_password": "ks-Secret$2",
}


def glance_conf(**overrides: object):  # type: ignore[no-untyped-def]
    return render_ini("glance", "etc/glance/glance-api.conf.j2", **{**SECRETS, **overrides})


def test_glance_database_connection_is_pymysql_to_glance() -> None:
    url = urllib.parse.urlsplit(glance_conf()["database"]["connection"])
    assert url.scheme == "mysql+pymysql"
    assert url.username == "glance"
    # The password survives URL quoting, '/' included.
    assert urllib.parse.unquote(url.password or "") == SECRETS["glance_db_password"]
    assert url.hostname == "127.0.0.1"
    assert url.path == "/glance"


def test_glance_keystone_authtoken_matches_the_lab_notes() -> None:
    auth = glance_conf(glance_keystone_url="http://controller:5000")["keystone_authtoken"]
    assert auth["www_authenticate_uri"] == "http://controller:5000"
    assert auth["auth_url"] == "http://controller:5000"
    assert auth["memcached_servers"] == "127.0.0.1:11211"
    assert auth["auth_type"] == "password"
    assert auth["project_domain_name"] == "Default"
    assert auth["user_domain_name"] == "Default"
    assert auth["project_name"] == "service"
    assert auth["username"] == "glance"
    # oslo.config would expand a bare $name: the template doubles it.
    assert auth["password"] == SECRETS["glance_keystone_password"].replace("$", "$$")


def test_glance_paste_flavor_is_keystone() -> None:
    # Without it, GET /v2/images answers 200 without a token.
    assert glance_conf()["paste_deploy"]["flavor"] == "keystone"


def test_glance_store_defaults_are_file_and_http() -> None:
    store = glance_conf()["glance_store"]
    assert store["stores"] == "file,http"
    assert store["default_store"] == "file"
    assert store["filesystem_store_datadir"] == "/var/lib/glance/images/"


def test_glance_binds_the_configured_address_and_lock_path() -> None:
    conf = glance_conf(glance_bind_address="192.0.2.5")
    assert conf["DEFAULT"]["bind_host"] == "192.0.2.5"
    assert conf["DEFAULT"]["bind_port"] == "9292"
    assert conf["oslo_concurrency"]["lock_path"] == "/var/lib/glance/lock"


def test_glance_memcached_servers_join_several() -> None:
    conf = glance_conf(glance_memcached_servers=["10.0.0.1:11211", "10.0.0.2:11211"])
    assert conf["keystone_authtoken"]["memcached_servers"] == "10.0.0.1:11211,10.0.0.2:11211"


def test_keystone_conf_uses_fernet_and_the_keystone_database() -> None:
    conf = render_ini(
        "keystone",
        "etc/keystone/keystone.conf.j2",
        keystone_db_password="kdb/pw",
        keystone_admin_password="unused",
    )
    assert conf["token"]["provider"] == "fernet"
    url = urllib.parse.urlsplit(conf["database"]["connection"])
    assert (url.scheme, url.username, url.path) == ("mysql+pymysql", "keystone", "/keystone")
    assert urllib.parse.unquote(url.password or "") == "kdb/pw"
    assert not conf.has_section("cache")


def test_keystone_uwsgi_binds_the_address_with_small_size() -> None:
    text = render(
        "keystone",
        "etc/default/keystone.j2",
        keystone_bind_address="192.0.2.7",
        keystone_db_password="x",
        keystone_admin_password="y",
    )
    args = next(line for line in text.splitlines() if line.startswith("DAEMON_ARGS="))
    assert "--http-socket 192.0.2.7:5000" in args
    assert "--processes 2" in args
    assert "--threads 4" in args


def test_mariadb_binds_the_configured_address() -> None:
    conf = render_ini(
        "mariadb",
        "etc/mysql/mariadb.conf.d/99-openstack.cnf.j2",
        mariadb_bind_address="192.0.2.9",
    )
    assert conf["mysqld"]["bind-address"] == "192.0.2.9"
    assert conf["mysqld"]["default-storage-engine"] == "innodb"


def test_clouds_yaml_is_valid_yaml_with_the_admin_cloud() -> None:
    text = render(
        "openstack_client",
        "clouds.yaml.j2",
        openstack_client_admin_password='pa"ss: #1',
    )
    cloud = yaml.safe_load(text)["clouds"]["glance-lab-admin"]
    assert cloud["auth"]["password"] == 'pa"ss: #1'
    assert cloud["auth"]["auth_url"] == "http://127.0.0.1:5000/v3"
    assert cloud["auth"]["project_name"] == "admin"
    assert cloud["region_name"] == "RegionOne"


def test_openrc_exports_what_the_lab_notes_source() -> None:
    text = render("openstack_client", "admin-openrc.j2", openstack_client_admin_password="a b'c")
    exports = dict(
        line.removeprefix("export ").split("=", 1)
        for line in text.splitlines()
        if line.startswith("export ")
    )
    assert exports["OS_USERNAME"] == "admin"
    assert exports["OS_PROJECT_NAME"] == "admin"
    assert exports["OS_AUTH_URL"] == "http://127.0.0.1:5000/v3"
    assert exports["OS_IDENTITY_API_VERSION"] == "3"
    # Shell-quoted so that any password survives `source`.
    assert exports["OS_PASSWORD"] == "'a b'\"'\"'c'"
