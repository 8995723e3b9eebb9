"""The validated settings of one run (built by the CLI from its arguments and --config).

``Options``' field defaults are the one place the defaults live: the command line leaves
an option it was not given unset, and the CLI fills in from here (``DEFAULTS``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from glance_verify.db import DbUrl
from glance_verify.errors import ConfigError
from glance_verify.hashing import MIB
from glance_verify.imports import ImportFilters
from glance_verify.source import DEFAULT_CACHE_DIR, DEFAULT_IMAGE_URL

DEFAULT_TIMEOUT = 300.0
#: The response header the haproxy role sets to the name of the backend that answered.
DEFAULT_SERVED_BY_HEADER = "X-Served-By"


@dataclass(frozen=True)
class Backend:
    """A named store of a multi-store Glance (``enabled_backends``), from ``--backend``."""

    name: str
    #: Its filesystem_store_datadir on the Glance host, when given (``NAME=DIR``).
    directory: PurePosixPath | None = None
    #: The Ceph pool of an rbd backend (from --config): its location names it.
    pool: str | None = None


@dataclass(frozen=True)
class Options:
    #: The cloud's name, for the reports (--os-cloud or $OS_CLOUD).
    cloud: str | None = None
    #: openstacksdk's --os-* options as given (name, value), for the connection.
    cloud_args: tuple[tuple[str, Any], ...] = ()
    #: The --config file, and the release it says was deployed: (Debian, OpenStack).
    config_path: Path | None = None
    expect_release: tuple[str, str] | None = None
    image_file: str | None = None
    image_url: str = DEFAULT_IMAGE_URL
    cache_dir: Path = field(default_factory=lambda: Path(DEFAULT_CACHE_DIR).expanduser())
    fallback: bool = True
    name_prefix: str = "glance-verify"
    disk_format: str = "qcow2"
    container_format: str = "bare"
    visibility: str = "public"
    store: str | None = None
    hash_algo: str = "sha512"
    expect_hash: tuple[str, str] | None = None
    db_url: DbUrl | None = None
    #: The Glance host's / as mounted here (``--host-root``); local paths are under it.
    host_root: Path | None = None
    #: The file store's directory as a path on this machine (under host_root when given).
    store_path: Path | None = None
    backends: tuple[Backend, ...] = ()
    default_backend: str | None = None
    #: the --backend directories are on this machine (all-in-one): check their files
    local_stores: bool = False
    #: user_storage_quota in bytes, and as given (e.g. ``64MB``).
    quota: int | None = None
    quota_text: str | None = None
    #: Keystone unified limits: check /v2/info/usage and the image_size_total refusal.
    keystone_limits: bool = False
    #: --keystone-limit NAME=N: limits /v2/info/usage must report.
    keystone_limit_expect: tuple[tuple[str, int], ...] = ()
    #: The most data (bytes) the limits step may upload to go over image_size_total.
    limit_fill_max: int = 256 * MIB
    image_cache: bool = False
    image_cache_dir: Path | None = None
    http_url: str | None = None
    #: Each glance-api node's own URL (--api-node), e.g. http://10.0.0.21:9292: steps
    #: api-nodes and lb-spread run when there is any.
    api_nodes: tuple[str, ...] = ()
    #: The load balancer's response header naming the node that answered; "" turns step
    #: lb-spread off.
    served_by_header: str = DEFAULT_SERVED_BY_HEADER
    #: The Ceph pool of the store the image goes to, when it is rbd (step store-rbd).
    rbd_pool: str | None = None
    #: The settings say Glance shows no location (show_image_direct_url and
    #: show_multiple_locations off): store-rbd has nothing to look at.
    locations_hidden: bool = False
    #: The import methods Glance enables (--import-methods, or --config): the import
    #: steps run for these.
    import_methods: tuple[str, ...] = ()
    #: [import_filtering_opts] as deployed (--config), else Glance's defaults.
    import_filters: ImportFilters = field(default_factory=ImportFilters)
    #: Address and port of the HTTP server the web-download steps start here; Glance
    #: fetches from http://ADDRESS:PORT/.
    serve_address: str = "127.0.0.1"
    serve_port: int = 8089
    #: The staging area (node_staging_uri's directory) as a path here, when local.
    staging_path: Path | None = None
    #: The metadata definitions catalog was loaded (--metadefs, or --config): step
    #: metadefs runs; with the definition files' directory as a path here, when local.
    metadefs: bool = False
    metadefs_path: Path | None = None
    #: Append each temporary user's password here (for a harness's leak scan).
    record_secrets: Path | None = None
    member_role: str = "member"
    skip: frozenset[str] = frozenset()
    json_path: Path | None = None
    #: --json - or -f json: the JSON report on stdout, the progress lines on stderr.
    json_stdout: bool = False
    #: --require-enabled: a step the options turn on must pass (skipped fails the run).
    require_enabled: bool = False
    junit_path: Path | None = None
    #: The HTML report (--html, else beside --json), and its template (found at parse time).
    html_path: Path | None = None
    html_template: Path | None = None
    timeout: float = DEFAULT_TIMEOUT
    keep: bool = False
    quiet: bool = False
    #: --explain: after each step, the openstack and glance commands that do the same.
    explain: bool = False
    #: --progress-file FILE: the step lines and progress lines, also there as they happen.
    progress_file: Path | None = None
    #: --explain-script FILE: write the replayable bash script of the lifecycle steps.
    explain_script: Path | None = None
    debug: bool = False


#: The defaults of every option (read by the CLI's help texts and to fill in).
DEFAULTS = Options()


def on_host(root: Path | None, path: PurePosixPath | Path | str) -> Path:
    """Where the Glance host's ``path`` is on this machine: itself, or under ``root``."""
    if root is None:
        return Path(path)
    return root / PurePosixPath(path).relative_to("/")


def local_dir_option(flag: str, text: str, host_root: Path | None) -> Path:
    """A directory of the Glance host given as ``flag``, as a path on this machine."""
    if host_root is not None and not text.startswith("/"):
        raise ConfigError(f"{flag} {text}: give an absolute path with --host-root")
    path = on_host(host_root, text)
    if not path.is_dir():
        under = f" under --host-root {host_root}" if host_root is not None else ""
        raise ConfigError(f"{flag} {text}: not a directory{under}")
    return path


def read_input(path: Path, source: str) -> str:
    """The text of an input file (a ledger, a --config file); ConfigError naming ``source``."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{source}: is a directory") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot read it ({exc})") from None
