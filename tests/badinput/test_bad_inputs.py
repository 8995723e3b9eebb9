"""Bad input stops the playbooks in preflight, before any host changes.

Each case writes an inventory (this host, local connection) with one invalid
setting and runs the real `playbooks/site.yml`. The run must fail inside the
preflight play, report changed=0, and fail with a message that names the
variable. The runs print the ansible.posix.json callback's document: the plays
started, the recap (``stats``) and the failed task's result are read from it.
The runs use --check as a second guard: should a check ever go missing, the
host is still not changed (and the test fails because the run reached a later
play).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import ansible_json
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "playbooks" / "site.yml"
PREFLIGHT_PLAY = "Check the inventory before changing anything"


def later_plays(data: dict[str, Any]) -> list[str]:
    """Every play the run started besides preflight: none may have started."""
    return [name for name in ansible_json.play_names(data) if name != PREFLIGHT_PLAY]


GROUPS = ("database", "memcached", "keystone", "glance")


def write_inventory(
    path: Path, credentials: Path, host_vars: dict[str, Any], groups: tuple[str, ...] = GROUPS
) -> Path:
    host = {
        "ansible_connection": "local",
        "ansible_python_interpreter": "/usr/bin/python3",
        "lab_address": "127.0.0.1",
        "lab_credentials_dir": str(credentials),
        **host_vars,
    }
    for key in [k for k, v in host.items() if v is None]:
        del host[key]  # None means: leave the variable out
    inventory = {
        "all": {
            "children": {
                "lab": {"hosts": {"controller": host}},
                **{group: {"children": {"lab": None}} for group in groups},
            }
        }
    }
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path


def run_site(inventory: Path, playbook: Path = PLAYBOOK) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        **ansible_json.ENV,
    }
    playbook_bin = Path(sys.executable).with_name("ansible-playbook")
    return subprocess.run(
        [str(playbook_bin), "-i", str(inventory), "--check", str(playbook)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


#: A Ceph key of the right shape: the rbd cases check it is never printed.
CEPH_KEY = "AQAAAAAAAAAAABAAYWJjZGVmZ2hpamtsbW5vcA=="
FILE_BACKEND = {"name": "fast", "path": "/var/lib/glance/images/"}
RBD_BACKEND = {
    "name": "ceph",
    "type": "rbd",
    "pool": "images",
    "user": "glance",
    "keyring": CEPH_KEY,
    "default": True,
}
RBD_STORE = {"glance_stores": ["rbd", "http"], "glance_default_store": "rbd"}


def rbd_backend_without(field: str) -> dict[str, Any]:
    return {"glance_backends": [FILE_BACKEND, {k: v for k, v in RBD_BACKEND.items() if k != field}]}


RBD_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("rbd-store-without-keyring", RBD_STORE, "glance_rbd_keyring"),
    (
        "rbd-store-empty-pool",
        {**RBD_STORE, "glance_rbd_keyring": CEPH_KEY, "glance_rbd_pool": ""},
        "glance_rbd_pool",
    ),
    (
        "rbd-store-empty-user",
        {**RBD_STORE, "glance_rbd_keyring": CEPH_KEY, "glance_rbd_user": ""},
        "glance_rbd_user",
    ),
    ("rbd-backend-without-pool", rbd_backend_without("pool"), "glance_backends[1].pool"),
    ("rbd-backend-without-user", rbd_backend_without("user"), "glance_backends[1].user"),
    ("rbd-backend-without-keyring", rbd_backend_without("keyring"), "glance_backends[1].keyring"),
]

# (case id, host vars, extra inventory change, variable the message must name)


def images(**changes: Any) -> dict[str, Any]:
    """glance_images_list with a good first image and a second one changed as given (a value
    of None leaves that key out)."""
    good = {"name": "lab-raw", "file": "/srv/images/lab.raw", "disk_format": "raw"}
    second = {k: v for k, v in {**good, "name": "second", **changes}.items() if v is not None}
    return {"glance_images_list": [good, second]}


#: The kept images (glance_images role): the message names the entry and the field.
IMAGE_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("image-without-name", images(name=None), "glance_images_list[1].name"),
    ("image-without-format", images(disk_format=None), "glance_images_list[1].disk_format"),
    (
        "image-unknown-disk-format",
        images(disk_format="floppy"),
        "glance_images_list[1].disk_format",
    ),
    (
        "image-unknown-container-format",
        images(container_format="zip"),
        "glance_images_list[1].container_format",
    ),
    ("image-sha512-not-hex", images(sha512="z" * 128), "glance_images_list[1].sha512"),
    ("image-sha512-too-short", images(sha512="ab" * 32), "glance_images_list[1].sha512"),
    (
        "image-file-and-url",
        images(url="http://example.org/a.img"),
        "glance_images_list[1].file/.url",
    ),
    ("image-no-source", images(file=None), "glance_images_list[1].file/.url"),
    ("image-relative-file", images(file="images/lab.raw"), "glance_images_list[1].file"),
    (
        "image-ftp-url",
        images(file=None, url="ftp://example.org/a.img"),
        "glance_images_list[1].url",
    ),
    ("image-bad-visibility", images(visibility="everyone"), "glance_images_list[1].visibility"),
    (
        "image-property-number",
        images(properties={"min_ram": 64}),
        "glance_images_list[1].properties",
    ),
    ("image-unknown-key", images(checksum="abc"), "glance_images_list[1]: unknown key"),
    ("image-twice", images(name="lab-raw"), "glance_images_list has the name(s) lab-raw"),
    ("images-not-a-list", {"glance_images_list": {"name": "x"}}, "glance_images_list"),
    ("lab-cirros-relative", {"lab_cirros_image": "cirros.img"}, "lab_cirros_image"),
    (
        "lab-cirros-name-taken",
        {"glance_images_list": [{"name": "cirros", "file": "/srv/c.img", "disk_format": "qcow2"}]},
        "lab_cirros_image_name",
    ),
]

CASES: list[tuple[str, dict[str, Any], str]] = [
    *RBD_CASES,
    ("default-store-not-enabled", {"glance_default_store": "rbd"}, "glance_default_store"),
    ("unknown-store", {"glance_stores": ["file", "ftp"]}, "glance_stores"),
    ("no-stores", {"glance_stores": []}, "glance_stores"),
    (
        "backend-without-path",
        {"glance_backends": [{"name": "fast", "default": True}]},
        "glance_backends[0]",
    ),
    (
        "two-default-backends",
        {
            "glance_backends": [
                {"name": "fast", "path": "/var/lib/glance/images/", "default": True},
                {"name": "bulk", "path": "/srv/glance/bulk", "default": True},
            ]
        },
        "glance_backends",
    ),
    (
        "no-default-backend",
        {"glance_backends": [{"name": "fast", "path": "/var/lib/glance/images/"}]},
        "glance_backends",
    ),
    (
        "reserved-backend-name",
        {
            "glance_backends": [
                {"name": "os_glance_mine", "path": "/var/lib/glance/images/", "default": True}
            ]
        },
        "glance_backends[0]",
    ),
    (
        "backends-strand-existing-images",
        {"glance_backends": [{"name": "fast", "path": "/srv/glance/fast", "default": True}]},
        "glance_filesystem_store_datadir",
    ),
    (
        "http-backend-as-default",
        {
            "glance_backends": [
                {"name": "fast", "path": "/var/lib/glance/images/"},
                {"name": "web", "type": "http", "default": True},
            ]
        },
        "glance_backends",
    ),
    ("quota-with-space", {"glance_user_storage_quota": "10 GB"}, "glance_user_storage_quota"),
    (
        "limits-missing-a-resource",
        {"glance_keystone_limits": {"image_size_total": 1024, "image_count_total": 10}},
        "glance_keystone_limits",
    ),
    (
        "limit-not-a-number",
        {
            "glance_keystone_limits": {
                "image_size_total": "1TB",
                "image_stage_total": 1024,
                "image_count_total": 10,
                "image_count_uploading": 2,
            }
        },
        "glance_keystone_limits",
    ),
    (
        "limits-with-legacy-quota",
        {
            "glance_user_storage_quota": "10GB",
            "glance_keystone_limits": {
                "image_size_total": 10240,
                "image_stage_total": 10240,
                "image_count_total": 100,
                "image_count_uploading": 10,
            },
        },
        "glance_user_storage_quota",
    ),
    (
        "cache-max-size-zero",
        {"glance_image_cache_enabled": True, "glance_image_cache_max_size": 0},
        "glance_image_cache_max_size",
    ),
    ("port-out-of-range", {"glance_bind_port": 70000}, "glance_bind_port"),
    ("port-not-a-number", {"glance_bind_port": "ninety"}, "glance_bind_port"),
    ("workers-not-a-number", {"glance_workers": "many"}, "glance_workers"),
    ("stores-not-a-list", {"glance_stores": {"file": True}}, "glance_stores"),
    (
        "keystone-url-bad-scheme",
        {"glance_keystone_url": "ftp://127.0.0.1:5000"},
        "glance_keystone_url",
    ),
    (
        "keystone-url-with-path",
        {"keystone_public_url": "http://127.0.0.1:5000/v3"},
        "keystone_public_url",
    ),
    (
        "endpoint-without-scheme",
        {"glance_keystone_public_url": "controller:9292"},
        "glance_keystone_public_url",
    ),
    (
        "auth-url-without-v3",
        {"openstack_client_admin_auth_url": "http://127.0.0.1:5000"},
        "openstack_client_admin_auth_url",
    ),
    ("empty-region", {"keystone_region": ""}, "keystone_region"),
    ("region-with-space", {"glance_region": "Region One"}, "glance_region"),
    (
        "override-section-not-a-mapping",
        {"glance_api_conf_overrides": {"DEFAULT": "debug=true"}},
        "glance_api_conf_overrides",
    ),
    (
        "override-value-on-two-lines",
        {"glance_cache_conf_overrides": {"DEFAULT": {"image_cache_dir": "/a\n[evil]"}}},
        "glance_cache_conf_overrides",
    ),
    (
        "override-option-name-with-space",
        {"keystone_conf_overrides": {"token": {"expira tion": 1}}},
        "keystone_conf_overrides",
    ),
    (
        "override-value-a-list-of-mappings",
        {"glance_api_conf_overrides": {"DEFAULT": {"workers": [{"a": 1}]}}},
        "glance_api_conf_overrides",
    ),
    (
        "memcached-without-port",
        {"glance_memcached_servers": ["localhost"]},
        "glance_memcached_servers",
    ),
    (
        "relative-store-dir",
        {"glance_filesystem_store_datadir": "images/"},
        "glance_filesystem_store_datadir",
    ),
    ("store-dir-mode-not-octal", {"glance_store_dir_mode": "0999"}, "glance_store_dir_mode"),
    ("wildcard-address", {"lab_address": "0.0.0.0"}, "lab_address"),  # noqa: S104 (the bad input)
    ("relative-credentials-dir", {"lab_credentials_dir": "creds"}, "lab_credentials_dir"),
    ("missing-credentials-dir", {"lab_credentials_dir": None}, "lab_credentials_dir"),
    (
        "unknown-import-method",
        {"glance_import_methods": ["glance-direct", "ftp-upload"]},
        "glance_import_methods",
    ),
    (
        "import-host-range",
        {"glance_import_allowed_hosts": ["10.0.0.0/8"]},
        "glance_import_allowed_hosts",
    ),
    (
        "import-host-url",
        {"glance_import_disallowed_hosts": ["http://169.254.169.254/"]},
        "glance_import_disallowed_hosts",
    ),
    (
        "import-port-out-of-range",
        {"glance_import_allowed_ports": [80, 443, 70000]},
        "glance_import_allowed_ports",
    ),
    (
        "import-ports-as-text",
        {"glance_import_allowed_ports": "80,443"},
        "glance_import_allowed_ports",
    ),
    (
        "import-scheme-ftp",
        {"glance_import_allowed_schemes": ["http", "ftp"]},
        "glance_import_allowed_schemes",
    ),
    *IMAGE_CASES,
    ("empty-db-password", {"glance_db_password": ""}, "glance_db_password"),
    ("empty-keystone-password", {"glance_keystone_password": ""}, "glance_keystone_password"),
    ("no-db-user-hosts", {"glance_db_user_hosts": []}, "glance_db_user_hosts"),
    ("zero-uwsgi-processes", {"keystone_uwsgi_processes": 0}, "keystone_uwsgi_processes"),
    ("zero-memcached-memory", {"memcached_memory_mb": 0}, "memcached_memory_mb"),
]


@pytest.mark.parametrize(
    ("host_vars", "variable"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_fails_in_preflight(
    tmp_path: Path, host_vars: dict[str, Any], variable: str
) -> None:
    inventory = write_inventory(tmp_path / "hosts.yml", tmp_path / "credentials", host_vars)
    result = run_site(inventory)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out[-3000:]
    data = ansible_json.load(result.stdout)
    assert ansible_json.play_names(data)[:1] == [PREFLIGHT_PLAY], out[-3000:]
    # The run stopped in preflight: no later play started (whatever it is
    # called: site.yml's next play is prerequisites.yml's MariaDB), nothing changed.
    assert later_plays(data) == [], ansible_json.play_names(data)
    changed = ansible_json.changed_counts(data)
    assert changed and all(n == 0 for n in changed.values()), data["stats"]
    # The message of the failed task names the variable that is wrong.
    message = ansible_json.fatal_message(data)
    assert variable in message, message


@pytest.mark.parametrize(
    "host_vars",
    [c[1] for c in RBD_CASES if c[0] != "rbd-backend-without-keyring"],
    ids=[c[0] for c in RBD_CASES if c[0] != "rbd-backend-without-keyring"],
)
def test_a_refused_rbd_store_never_prints_its_key(
    tmp_path: Path, host_vars: dict[str, Any]
) -> None:
    host_vars = {**host_vars, "glance_rbd_keyring": host_vars.get("glance_rbd_keyring")}
    inventory = write_inventory(tmp_path / "hosts.yml", tmp_path / "credentials", host_vars)
    message, out = preflight_failure(inventory)
    assert "fix" in message or "give" in message, message
    assert CEPH_KEY not in out


def preflight_failure(inventory: Path) -> tuple[str, str]:
    """Run site.yml, require it to stop in preflight; the failed task's message and the
    whole output."""
    result = run_site(inventory)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out[-3000:]
    data = ansible_json.load(result.stdout)
    assert later_plays(data) == [], ansible_json.play_names(data)
    return ansible_json.fatal_message(data), out


def test_missing_group_fails_in_preflight(tmp_path: Path) -> None:
    groups = tuple(g for g in GROUPS if g != "glance")
    inventory = write_inventory(tmp_path / "hosts.yml", tmp_path / "credentials", {}, groups)
    message, _ = preflight_failure(inventory)
    assert "no host in group 'glance'" in message, message


def test_later_plays_sees_the_play_after_preflight() -> None:
    """The guard above must be able to fail: it sees the play that follows preflight."""
    later = "MariaDB"
    data = {"plays": [{"play": {"name": PREFLIGHT_PLAY}}, {"play": {"name": later}}], "stats": {}}
    assert later_plays(data) == [later]


# The preflight play checks every role's inputs and then turns the roles' own
# checks off for the run (<role>_check_inputs). A role used alone, without it,
# still refuses bad input before its first change.
def test_role_used_alone_checks_its_own_inputs(tmp_path: Path) -> None:
    inventory = write_inventory(
        tmp_path / "hosts.yml",
        tmp_path / "credentials",
        {
            "glance_backends": [
                {"name": "fast", "path": "/var/lib/glance/images/", "default": True},
                {"name": "bulk", "path": "/srv/glance/bulk", "default": True},
            ]
        },
    )
    # The wiring of playbooks/group_vars, beside the inventory (where Ansible reads it too).
    shutil.copytree(ROOT / "playbooks" / "group_vars", tmp_path / "group_vars")
    playbook = tmp_path / "glance-alone.yml"
    playbook.write_text(
        yaml.safe_dump([{"name": "Glance alone", "hosts": "glance", "roles": ["glance"]}])
    )
    result = run_site(inventory, playbook)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out[-3000:]
    data = ansible_json.load(result.stdout)
    failed = ansible_json.failed_results(data)
    first_failed = failed[0][0] if failed else None
    assert first_failed == "glance : Check that exactly one file backend is the default", failed
    assert "glance_backends" in ansible_json.fatal_message(data), ansible_json.fatal_message(data)
    ran = [task["task"]["name"] for play in data["plays"] for task in play["tasks"]]
    assert not [name for name in ran if "Install" in name or "Read the installed" in name], ran
    assert all(n == 0 for n in ansible_json.changed_counts(data).values()), data["stats"]


# Issue #14: a password file the operator wrote that the password lookup would read
# changed (it drops trailing whitespace and cuts at " salt=") stops preflight, which
# names the file and never prints the password.
@pytest.mark.parametrize(
    "content",
    ["Trailing-space-pw \n", "Salted-pw salt=abcdefgh\n", "Two-line-pw\nsecond-line\n"],
    ids=["trailing-space", "salt", "two-lines"],
)
def test_operator_password_file_read_changed_fails_in_preflight(
    tmp_path: Path, content: str
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir(mode=0o700)
    (credentials / "glance_keystone_password").write_text(content)
    inventory = write_inventory(tmp_path / "hosts.yml", credentials, {})
    message, out = preflight_failure(inventory)
    assert f"{credentials}/glance_keystone_password" in message, message
    assert content.split()[0] not in out, "the password was printed"


# Issue #15: several glance hosts, a load balancer. Each host of these
# inventories is this machine again (local connection), under its own address.
def write_hosts_inventory(
    path: Path, credentials: Path, hosts: dict[str, tuple[tuple[str, ...], dict[str, Any]]]
) -> Path:
    """An inventory of several hosts: name -> (groups, host vars)."""
    common = {
        "ansible_connection": "local",
        "ansible_python_interpreter": "/usr/bin/python3",
        "lab_credentials_dir": str(credentials),
    }
    groups: dict[str, dict[str, Any]] = {}
    for name, (host_groups, host_vars) in hosts.items():
        for group in host_groups:
            groups.setdefault(group, {"hosts": {}})["hosts"][name] = {**common, **host_vars}
    path.write_text(yaml.safe_dump({"all": {"children": groups}}, sort_keys=False))
    return path


CONTROLLER = ("database", "memcached", "keystone")


@pytest.mark.parametrize(
    "store_vars",
    [{}, {"glance_stores": ["file", "http"]}, {"glance_backends": [FILE_BACKEND, RBD_BACKEND]}],
    ids=["default-stores", "file-store", "file-backend"],
)
def test_two_glance_hosts_with_a_file_store_fail_in_preflight(
    tmp_path: Path, store_vars: dict[str, Any]
) -> None:
    inventory = write_hosts_inventory(
        tmp_path / "hosts.yml",
        tmp_path / "credentials",
        {
            "controller": ((*CONTROLLER, "glance"), {"lab_address": "127.0.0.1", **store_vars}),
            "glance2": (("glance",), {"lab_address": "127.0.0.2", **store_vars}),
        },
    )
    message, out = preflight_failure(inventory)
    assert "glance_stores / glance_backends" in message, message
    assert "scattered" in message and "rbd" in message, message
    assert CEPH_KEY not in out


def test_two_glance_hosts_on_rbd_pass_that_check(tmp_path: Path) -> None:
    """The refusal above is about the file store only: on rbd, preflight goes past it."""
    store_vars = {**RBD_STORE, "glance_rbd_keyring": CEPH_KEY}
    inventory = write_hosts_inventory(
        tmp_path / "hosts.yml",
        tmp_path / "credentials",
        {
            "controller": ((*CONTROLLER, "glance"), {"lab_address": "127.0.0.1", **store_vars}),
            "glance2": (("glance",), {"lab_address": "127.0.0.2", **store_vars}),
            # A bad input after that check, so that the run stops in preflight anyway.
            "lb": (
                ("loadbalancer",),
                {"lab_address": "127.0.0.3", "haproxy_served_by_header": "X Bad"},
            ),
        },
    )
    message, _ = preflight_failure(inventory)
    assert "haproxy_served_by_header" in message, message


def test_load_balancer_on_a_glance_address_fails_in_preflight(tmp_path: Path) -> None:
    inventory = write_hosts_inventory(
        tmp_path / "hosts.yml",
        tmp_path / "credentials",
        {"controller": ((*CONTROLLER, "glance", "loadbalancer"), {"lab_address": "127.0.0.1"})},
    )
    message, _ = preflight_failure(inventory)
    assert "loadbalancer group with lab_address 127.0.0.1" in message, message
    assert "9292" in message, message
