"""The rendered configuration holds what the lab notes require."""

from __future__ import annotations

import json
import urllib.parse

import pytest
import yaml

from glance_verify.deployment import parse_deployment
from templating import render, render_conf, render_conf_text, render_ini, role_var

SECRETS = {
    "glance_db_password": "db-Secret/1$x",
    "glance_keystone_password": "ks-Secret$2",
}


def glance_conf(**overrides: object):  # type: ignore[no-untyped-def]
    return render_conf("glance-api.conf", **{**SECRETS, **overrides})


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
    # oslo.config would expand a bare $name: the template doubles it, and quotes the
    # value so that outer quotes and spaces survive (tests/unit/test_secret_escaping.py).
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
    conf = render_conf("keystone.conf", keystone_db_password="kdb/pw", keystone_admin_password="x")
    assert conf["token"]["provider"] == "fernet"
    url = urllib.parse.urlsplit(conf["database"]["connection"])
    assert (url.scheme, url.username, url.path) == ("mysql+pymysql", "keystone", "/keystone")
    # The password is in the option file the URL names (tests/unit/test_secret_escaping.py).
    assert url.password is None
    assert url.query == "read_default_file=/etc/keystone/keystone-db.cnf"
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


BACKENDS = [
    {"name": "fast", "path": "/srv/glance/fast/", "description": "Local SSD", "default": True},
    {"name": "bulk", "path": "/var/lib/glance/images/"},
    {"name": "web", "type": "http", "description": "Images served over HTTP"},
]


def test_glance_single_store_has_no_backends() -> None:
    conf = glance_conf()
    assert "enabled_backends" not in conf["DEFAULT"]
    assert "default_backend" not in conf["glance_store"]
    assert not conf.has_section("os_glance_staging_store")


def own(conf, section: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A section's own options (configparser copies [DEFAULT] into each)."""
    return {k: v for k, v in conf.items(section) if k not in conf.defaults()}


def test_glance_multiple_backends_render_a_section_each() -> None:
    conf = glance_conf(glance_backends=BACKENDS)
    assert conf["DEFAULT"]["enabled_backends"] == "fast:file, bulk:file, web:http"
    # The single-store options would be ignored (and confuse a reader).
    assert own(conf, "glance_store") == {"default_backend": "fast"}
    assert own(conf, "fast") == {
        "filesystem_store_datadir": "/srv/glance/fast/",
        "store_description": "Local SSD",
    }
    assert own(conf, "bulk") == {"filesystem_store_datadir": "/var/lib/glance/images/"}
    assert own(conf, "web") == {"store_description": "Images served over HTTP"}
    assert conf["os_glance_staging_store"]["filesystem_store_datadir"] == "/var/lib/glance/staging/"
    assert (
        conf["os_glance_tasks_store"]["filesystem_store_datadir"]
        == "/var/lib/glance/tasks_work_dir/"
    )


def test_glance_directories_cover_every_backend_and_the_cache() -> None:
    directories = role_var(
        "glance",
        "_glance_directories",
        glance_backends=BACKENDS,
        glance_image_cache_enabled=True,
        glance_db_password="x",
        glance_keystone_password="y",
    )
    assert directories == [
        "/var/lib/glance/images",
        "/var/lib/glance/lock",
        "/var/lib/glance/staging",
        "/srv/glance/fast",
        "/var/lib/glance/tasks_work_dir",
        "/var/lib/glance/image-cache",
        "/var/lib/glance/image-cache/incomplete",
        "/var/lib/glance/image-cache/invalid",
        "/var/lib/glance/image-cache/queue",
    ]


def test_glance_quota_and_cache_are_off_by_default() -> None:
    conf = glance_conf()
    assert conf["DEFAULT"]["user_storage_quota"] == "0"
    assert "image_cache_dir" not in conf["DEFAULT"]
    assert "show_multiple_locations" not in conf["DEFAULT"]


def test_glance_cache_switches_the_paste_flavor_and_sets_its_limits() -> None:
    conf = glance_conf(
        glance_image_cache_enabled=True,
        glance_image_cache_max_size=1073741824,
        glance_user_storage_quota="64MB",
        glance_show_multiple_locations=True,
    )
    assert conf["paste_deploy"]["flavor"] == "keystone+cachemanagement"
    assert conf["DEFAULT"]["image_cache_dir"] == "/var/lib/glance/image-cache/"
    assert conf["DEFAULT"]["image_cache_max_size"] == "1073741824"
    assert conf["DEFAULT"]["user_storage_quota"] == "64MB"
    assert conf["DEFAULT"]["show_multiple_locations"] == "true"
    cache = render_conf("glance-cache.conf", glance_image_cache_max_size=1073741824)
    assert cache["DEFAULT"]["image_cache_dir"] == "/var/lib/glance/image-cache/"
    assert cache["DEFAULT"]["image_cache_max_size"] == "1073741824"


def test_memcached_conf_sets_address_and_size_and_keeps_debians_settings() -> None:
    lines = render("memcached", "etc/memcached.conf.j2", ansible_managed="managed").splitlines()
    options = [line for line in lines if line and not line.startswith("#")]
    assert "-l 127.0.0.1" in options
    assert "-m 64" in options
    # Debian's start-memcached needs these; the file replaces the package's copy.
    for kept in ("-d", "-p 11211", "-u memcache", "-P /var/run/memcached/memcached.pid"):
        assert kept in options
    wide = render(
        "memcached",
        "etc/memcached.conf.j2",
        ansible_managed="managed",
        memcached_listen_address="10.0.0.11",
        memcached_memory_mb=256,
    )
    assert "-l 10.0.0.11\n" in wide
    assert "-m 256\n" in wide


def test_glance_single_store_stages_imports_on_disk_and_names_its_worker() -> None:
    """Debian 13's /tmp (Glance's default staging place) is a tmpfs; 2025.1's image
    cache refuses to start without worker_self_reference_url."""
    conf = glance_conf()
    assert conf["DEFAULT"]["node_staging_uri"] == "file:///var/lib/glance/staging/"
    assert conf["DEFAULT"]["worker_self_reference_url"] == "http://127.0.0.1:9292"
    assert "/var/lib/glance/staging" in role_var(
        "glance", "_glance_directories", glance_db_password="x", glance_keystone_password="y"
    )


def test_glance_multi_store_stages_in_its_reserved_store_only() -> None:
    conf = glance_conf(glance_backends=BACKENDS)
    assert "node_staging_uri" not in conf["DEFAULT"]


@pytest.mark.parametrize(("release", "driver"), [("12", "sqlite"), ("13", "centralized_db")])
def test_glance_image_cache_driver_is_the_release_s_own(release: str, driver: str) -> None:
    """vars/debian-N.yml: Zed keeps the cache index in sqlite, 2025.1 in the database."""
    for name in ("glance-api.conf", "glance-cache.conf"):
        conf = render_conf(name, debian_release=release, glance_image_cache_enabled=True, **SECRETS)
        assert conf["DEFAULT"]["image_cache_driver"] == driver


def test_an_override_sets_adds_and_removes_options_and_sections() -> None:
    conf = glance_conf(
        glance_api_conf_overrides={
            "DEFAULT": {"workers": 5, "debug": True, "user_storage_quota": None},
            "profiler": {"enabled": False},
            "oslo_concurrency": None,
        }
    )
    assert conf["DEFAULT"]["workers"] == "5"
    assert conf["DEFAULT"]["debug"] == "true"
    assert "user_storage_quota" not in conf["DEFAULT"]
    assert own(conf, "profiler") == {"enabled": "false"}
    assert not conf.has_section("oslo_concurrency")
    # What the override leaves alone stays as rendered.
    assert conf["DEFAULT"]["bind_port"] == "9292"
    assert conf["paste_deploy"]["flavor"] == "keystone"


def test_keystone_conf_override_reaches_its_section() -> None:
    conf = render_conf(
        "keystone.conf",
        keystone_db_password="x",
        keystone_conf_overrides={"token": {"expiration": 7200}, "DEFAULT": {"log_dir": None}},
    )
    assert own(conf, "token") == {"provider": "fernet", "expiration": "7200"}
    assert "log_dir" not in conf["DEFAULT"]


def test_a_literal_dollar_is_doubled_for_oslo_config() -> None:
    conf = glance_conf(glance_api_conf_overrides={"DEFAULT": {"banner": "a$b"}})
    assert conf["DEFAULT"]["banner"] == "a$$b"


@pytest.mark.parametrize(
    "value", ['"quoted"', "'single'", " lead", "trail ", '"', "a\"b'c", "#x;y", "p$w"]
)
def test_any_value_reads_back_as_written_through_oslo_config(value: str) -> None:
    """oslo.config's rules (one pair of outer quotes and outer spaces stripped, $$ -> $)
    applied to the rendered line give the value back."""
    conf = glance_conf(glance_keystone_password=value)
    raw = conf["keystone_authtoken"]["password"]
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        raw = raw[1:-1]
    assert raw.replace("$$", "$") == value


@pytest.mark.parametrize("release", ["12", "13"])
@pytest.mark.parametrize(
    "settings",
    [
        {},
        {
            "glance_backends": BACKENDS,
            "glance_image_cache_enabled": True,
            "glance_user_storage_quota": "64MB",
        },
        {
            "glance_keystone_limits": {
                "image_size_total": 48,
                "image_stage_total": 48,
                "image_count_total": 50,
                "image_count_uploading": 5,
            }
        },
    ],
    ids=["single-store", "storage-lab", "unified-limits"],
)
def test_the_settings_fact_is_what_glance_verify_config_reads(
    release: str, settings: dict[str, object]
) -> None:
    """The glance role's local fact (tasks/settings.yml) passes glance-verify's --config
    checks, and says what the role deployed."""
    data = role_var(
        "glance",
        "_glance_settings",
        debian_release=release,
        ansible_facts={"distribution_major_version": release},
        **SECRETS,
        **settings,
    )
    deployment = parse_deployment(json.dumps(data), "glance.fact")
    assert data["release"] == {
        "debian": release,
        "openstack": {"12": "Zed", "13": "2025.1"}[release],
    }
    assert deployment is not None
    if settings.get("glance_backends"):
        assert [b["name"] for b in data["backends"]] == ["fast", "bulk", "web"]
        assert data["image_cache"] == {"enabled": True, "dir": "/var/lib/glance/image-cache/"}
        assert data["quota"] == "64MB"
    assert data["keystone_limits"] == settings.get("glance_keystone_limits", {})


# Ceph RBD (issue 15): a key of the shape `ceph-authtool --gen-print-key` prints.
CEPH_KEY = "AQAAAAAAAAAAABAAYWJjZGVmZ2hpamtsbW5vcA=="


def test_glance_single_rbd_store_names_pool_user_conf_and_chunk_size() -> None:
    conf = glance_conf(
        glance_stores=["rbd", "http"], glance_default_store="rbd", glance_rbd_keyring=CEPH_KEY
    )
    store = own(conf, "glance_store")
    assert store["stores"] == "rbd,http"
    assert store["default_store"] == "rbd"
    assert store["rbd_store_pool"] == "images"
    assert store["rbd_store_user"] == "glance"
    assert store["rbd_store_ceph_conf"] == "/etc/ceph/ceph.conf"
    assert store["rbd_store_chunk_size"] == "8"


def test_glance_rbd_options_follow_the_variables() -> None:
    store = glance_conf(
        glance_stores=["rbd"],
        glance_default_store="rbd",
        glance_rbd_keyring=CEPH_KEY,
        glance_rbd_pool="glance-images",
        glance_rbd_user="img",
        glance_rbd_ceph_conf="/etc/ceph/prod.conf",
        glance_rbd_chunk_size=4,
    )["glance_store"]
    assert (store["stores"], store["rbd_store_pool"], store["rbd_store_user"]) == (
        "rbd",
        "glance-images",
        "img",
    )
    assert store["rbd_store_ceph_conf"] == "/etc/ceph/prod.conf"
    assert store["rbd_store_chunk_size"] == "4"


def test_glance_file_store_has_no_rbd_options_and_hides_direct_url() -> None:
    conf = glance_conf()
    assert not [k for k in own(conf, "glance_store") if k.startswith("rbd_")]
    assert "show_image_direct_url" not in conf["DEFAULT"]


def test_glance_show_image_direct_url_is_a_variable() -> None:
    assert glance_conf(glance_show_image_direct_url=True)["DEFAULT"]["show_image_direct_url"] == (
        "true"
    )


RBD_BACKENDS = [
    {"name": "fast", "path": "/var/lib/glance/images/"},
    {
        "name": "ceph",
        "type": "rbd",
        "pool": "images",
        "user": "glance",
        "keyring": CEPH_KEY,
        "description": "Ceph RBD",
        "default": True,
    },
    {
        "name": "cold",
        "type": "rbd",
        "pool": "cold",
        "user": "glance",
        "keyring": CEPH_KEY,
        "ceph_conf": "/etc/ceph/cold.conf",
        "chunk_size": 16,
    },
]


def test_glance_rbd_backends_render_a_section_each() -> None:
    conf = glance_conf(glance_backends=RBD_BACKENDS)
    assert conf["DEFAULT"]["enabled_backends"] == "fast:file, ceph:rbd, cold:rbd"
    assert own(conf, "glance_store") == {"default_backend": "ceph"}
    assert own(conf, "ceph") == {
        "store_description": "Ceph RBD",
        "rbd_store_pool": "images",
        "rbd_store_user": "glance",
        "rbd_store_ceph_conf": "/etc/ceph/ceph.conf",
        "rbd_store_chunk_size": "8",
    }
    assert own(conf, "cold") == {
        "rbd_store_pool": "cold",
        "rbd_store_user": "glance",
        "rbd_store_ceph_conf": "/etc/ceph/cold.conf",
        "rbd_store_chunk_size": "16",
    }


@pytest.mark.parametrize(
    "settings",
    [
        {"glance_stores": ["rbd"], "glance_default_store": "rbd", "glance_rbd_keyring": CEPH_KEY},
        {"glance_backends": RBD_BACKENDS},
    ],
    ids=["single-store", "backends"],
)
def test_the_ceph_key_never_reaches_glance_api_conf(settings: dict[str, object]) -> None:
    assert CEPH_KEY not in render_conf_text("glance-api.conf", **{**SECRETS, **settings})


def test_glance_rbd_stores_give_one_keyring_per_user_and_a_ceph_conf_per_path() -> None:
    overrides = {**SECRETS, "glance_backends": RBD_BACKENDS}
    stores = role_var("glance", "_glance_rbd_stores", **overrides)
    assert [(s["name"], s["user"], s["ceph_conf"]) for s in stores] == [
        ("ceph", "glance", "/etc/ceph/ceph.conf"),
        ("cold", "glance", "/etc/ceph/cold.conf"),
    ]
    conf = {"global": {"mon_host": "192.0.2.10"}}
    files = role_var("glance", "_glance_ceph_conf_files", glance_ceph_conf=conf, **overrides)
    assert [(f["dest"], f["mode"], f["conf"]) for f in files] == [
        ("/etc/ceph/ceph.conf", "0644", conf),
        ("/etc/ceph/cold.conf", "0644", conf),
    ]
    # Only the file store's directory: no directory for an rbd backend.
    assert "/var/lib/glance/images" in role_var("glance", "_glance_directories", **overrides)


def test_glance_rbd_store_installs_librbd_bindings() -> None:
    assert role_var("glance", "_glance_rbd_packages") == ["python3-rbd", "python3-rados"]


def test_ceph_conf_has_the_one_replica_lab_settings() -> None:
    conf = render_ini(
        "ceph",
        "etc/ceph/ceph.conf.j2",
        ceph_fsid="0b9f8a5e-7c1d-4f6b-9a7e-2b1c3d4e5f60",
        ceph_mon_id="ceph",
        ceph_mon_address="192.0.2.10",
    )
    glob = conf["global"]
    assert glob["fsid"] == "0b9f8a5e-7c1d-4f6b-9a7e-2b1c3d4e5f60"
    assert glob["mon_host"] == "[v2:192.0.2.10:3300,v1:192.0.2.10:6789]"
    assert glob["mon_initial_members"] == "ceph"
    assert (glob["osd_pool_default_size"], glob["osd_pool_default_min_size"]) == ("1", "1")
    assert glob["mon_allow_pool_size_one"] == "true"
    assert glob["osd_crush_chooseleaf_type"] == "0"
    assert glob["mon_warn_on_pool_no_redundancy"] == "false"
    assert glob["auth_allow_insecure_global_id_reclaim"] == "false"
    assert glob["osd_pool_default_pg_autoscale_mode"] == "off"
    assert conf["osd"]["bluestore_block_create"] == "true"
    assert conf["osd"]["bluestore_block_size"] == "10737418240"
    assert conf["osd"]["osd_memory_target"] == "939524096"


def test_ceph_conf_overrides_set_and_remove_options() -> None:
    conf = render_ini(
        "ceph",
        "etc/ceph/ceph.conf.j2",
        ceph_fsid="0b9f8a5e-7c1d-4f6b-9a7e-2b1c3d4e5f60",
        ceph_mon_address="192.0.2.10",
        ceph_mon_id="ceph",
        ceph_conf_overrides={"global": {"mon_data_avail_warn": None}, "mon": {"debug_mon": 5}},
    )
    assert "mon_data_avail_warn" not in conf["global"]
    assert conf["mon"]["debug_mon"] == "5"


def test_ceph_client_keyring_holds_key_and_caps() -> None:
    text = render(
        "ceph",
        "etc/ceph/ceph.client.keyring.j2",
        item={
            "name": "glance",
            "key": CEPH_KEY,
            "caps": {"osd": "profile rbd pool=images", "mon": "profile rbd"},
        },
    )
    assert text.splitlines() == [
        "[client.glance]",
        f"\tkey = {CEPH_KEY}",
        '\tcaps mon = "profile rbd"',
        '\tcaps osd = "profile rbd pool=images"',
    ]


def test_ceph_daemons_run_from_init_scripts_without_systemd() -> None:
    daemons = role_var(
        "ceph",
        "_ceph_daemons",
        ceph_mon_id="ceph",
        ceph_osd_count=2,
        ansible_facts={"service_mgr": "service"},
    )
    assert [d["service"] for d in daemons] == [
        "ceph-mon-ceph",
        "ceph-mgr-ceph",
        "ceph-osd-0",
        "ceph-osd-1",
    ]
    daemons = role_var(
        "ceph", "_ceph_daemons", ceph_mon_id="ceph", ansible_facts={"service_mgr": "systemd"}
    )
    assert [d["service"] for d in daemons] == ["ceph-mon@ceph", "ceph-mgr@ceph", "ceph-osd@0"]


@pytest.mark.parametrize(
    ("settings", "pool", "hidden"),
    [
        # The ceph scenario's (molecule/ceph/molecule.yml).
        (
            {"glance_stores": ["rbd", "http"], "glance_default_store": "rbd",
             "glance_show_image_direct_url": True},
            "images",
            False,
        ),
        ({"glance_stores": ["file", "rbd"], "glance_default_store": "file"}, None, True),
        (
            {"glance_backends": RBD_BACKENDS, "glance_show_multiple_locations": True},
            "images",
            False,
        ),
    ],
    ids=["single-rbd-default", "single-rbd-not-default", "rbd-backends"],
)  # fmt: skip
def test_the_settings_fact_tells_the_verifier_the_rbd_pool_and_where_locations_show(
    settings: dict[str, object], pool: str | None, hidden: bool
) -> None:
    """glance-verify plans store-rbd from these: the pool of the image's store, and
    whether Glance shows a location at all."""
    data = role_var(
        "glance",
        "_glance_settings",
        ansible_facts={"distribution_major_version": "12"},
        **SECRETS,
        **settings,
    )
    deployment = parse_deployment(json.dumps(data), "glance.fact")
    assert deployment.rbd_pool_of(None) == pool
    assert deployment.locations_hidden is hidden
    assert CEPH_KEY not in json.dumps(data)
    if settings.get("glance_backends"):
        assert [(b["name"], b["type"], b["pool"]) for b in data["backends"]] == [
            ("fast", "file", None),
            ("ceph", "rbd", "images"),
            ("cold", "rbd", "cold"),
        ]
        assert deployment.rbd_pool_of("cold") == "cold"
        assert deployment.rbd_pool_of("fast") is None
    else:
        assert data["single_store"]["rbd_pool"] == "images"


def test_import_methods_are_the_three_both_releases_offer_in_brackets() -> None:
    # enabled_import_methods is a ListOpt with bounds: oslo.config reads [a, b] only.
    for release in ("12", "13"):
        conf = glance_conf(debian_release=release)
        assert conf["DEFAULT"]["enabled_import_methods"] == (
            "[glance-direct, web-download, copy-image]"
        )
    assert glance_conf(glance_import_methods=[])["DEFAULT"]["enabled_import_methods"] == "[]"


def test_import_filters_default_to_web_ports_and_no_loopback() -> None:
    opts = own(glance_conf(), "import_filtering_opts")
    assert opts == {
        "allowed_schemes": "[http, https]",
        "allowed_hosts": "[]",
        "disallowed_hosts": "[127.0.0.1, ::1, localhost, 169.254.169.254]",
        "allowed_ports": "[80, 443]",
    }


def test_import_filters_leave_out_a_disallowed_list_glance_would_ignore() -> None:
    opts = own(
        glance_conf(
            glance_import_allowed_hosts=["127.0.0.1"],
            glance_import_allowed_ports=[],
            glance_import_disallowed_ports=[22, 3306],
        ),
        "import_filtering_opts",
    )
    assert opts["allowed_hosts"] == "[127.0.0.1]"
    assert "disallowed_hosts" not in opts
    assert opts["allowed_ports"] == "[]"
    assert opts["disallowed_ports"] == "[22, 3306]"


def test_the_staging_area_is_on_disk_in_both_store_modes() -> None:
    assert glance_conf()["DEFAULT"]["node_staging_uri"] == "file:///var/lib/glance/staging/"
    multi = glance_conf(
        glance_backends=[{"name": "fast", "path": "/var/lib/glance/images/", "default": True}]
    )
    assert "node_staging_uri" not in multi["DEFAULT"]
    assert multi["os_glance_staging_store"]["filesystem_store_datadir"] == (
        "/var/lib/glance/staging/"
    )
    assert multi["os_glance_tasks_store"]["filesystem_store_datadir"] == (
        "/var/lib/glance/tasks_work_dir/"
    )


def test_settings_fact_tells_the_import_filters_in_force() -> None:
    settings = role_var(
        "glance",
        "_glance_settings",
        ansible_facts={"distribution_major_version": "12"},
        glance_import_allowed_hosts=["192.0.2.10"],
        glance_import_allowed_ports=[80, 443, 8089],
        **SECRETS,
    )
    assert settings["image_import"] == {
        "methods": ["glance-direct", "web-download", "copy-image"],
        "filters": {
            "allowed_schemes": ["http", "https"],
            "disallowed_schemes": [],
            "allowed_hosts": ["192.0.2.10"],
            # Glance ignores it when allowed_hosts is set.
            "disallowed_hosts": [],
            "allowed_ports": [80, 443, 8089],
            "disallowed_ports": [],
        },
    }
    deployment = parse_deployment(json.dumps(settings), "fact")
    assert deployment.import_methods == ("glance-direct", "web-download", "copy-image")
    assert deployment.import_filters is not None
    assert deployment.import_filters.allowed_ports == (80, 443, 8089)
