"""``glance-verify --config FILE``: the settings file the glance role writes about what it
deployed, read strictly, and what the verifier takes from it.

Format 1 (every key optional except ``format``)::

    {"format": 1,
     "release": {"debian": "13", "openstack": "2025.1"},
     "api_url": "http://127.0.0.1:9292",
     "single_store": {"stores": ["file", "http"], "default": "file",
                      "file_dir": "/var/lib/glance/images/", "rbd_pool": null},
     "backends": [{"name": "fast", "type": "file", "path": "/var/lib/glance/images/",
                   "pool": null, "default": true}],
     "show_image_direct_url": false,
     "show_multiple_locations": false,
     "staging_dir": "/var/lib/glance/staging/",
     "metadefs_dir": "/etc/glance/metadefs",
     "image_import": {"methods": ["glance-direct", "web-download", "copy-image"],
                      "filters": {"allowed_schemes": ["http", "https"],
                                  "disallowed_schemes": [], "allowed_hosts": [],
                                  "disallowed_hosts": ["127.0.0.1"],
                                  "allowed_ports": [80, 443], "disallowed_ports": []}},
     "image_cache": {"enabled": true, "dir": "/var/lib/glance/image-cache/"},
     "quota": "64MB",
     "keystone_limits": {"image_size_total": 100},
     "database": {"host": "127.0.0.1", "name": "glance", "user": "glance"}}

``backends`` empty: single-store mode (``single_store``); ``rbd_pool`` / ``pool``: the
Ceph pool of an rbd store (null otherwise); ``image_import`` absent: the import steps do
not run (a filter list left out: Glance's default); ``quota`` "0": off;
``keystone_limits`` {}: off; ``metadefs_dir``: the
role loaded the metadata definitions catalog from there (absent: step metadefs does
not run). A missing file, bad JSON, another format, an unknown key or a
value of the wrong type is a ConfigError naming the file and the key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glance_verify.errors import ConfigError
from glance_verify.imports import ImportFilters
from glance_verify.options import read_input
from glance_verify.storage import LIMIT_RESOURCES

FORMAT = 1
_NONE = type(None)

#: The keys of format 1 and the type of each value: a type (or tuple of types), a dict
#: of the keys of an object, or a one-item list: a list of that.
SCHEMA: dict[str, Any] = {
    "format": int,
    "release": {"debian": str, "openstack": str},
    "api_url": str,
    "single_store": {
        "stores": [str],
        "default": str,
        "file_dir": (str, _NONE),
        "rbd_pool": (str, _NONE),
    },
    "backends": [
        {"name": str, "type": str, "path": (str, _NONE), "pool": (str, _NONE), "default": bool}
    ],
    "show_image_direct_url": bool,
    "show_multiple_locations": bool,
    "staging_dir": (str, _NONE),
    "metadefs_dir": str,
    "image_import": {
        "methods": [str],
        "filters": {
            "allowed_schemes": [str],
            "disallowed_schemes": [str],
            "allowed_hosts": [str],
            "disallowed_hosts": [str],
            "allowed_ports": [int],
            "disallowed_ports": [int],
        },
    },
    "image_cache": {"enabled": bool, "dir": (str, _NONE)},
    "quota": (str, int),
    "keystone_limits": dict.fromkeys(LIMIT_RESOURCES, int),
    "database": {"host": str, "name": str, "user": str},
}
_TYPE_NAMES = {str: "a string", int: "a whole number", bool: "true or false", _NONE: "null"}


@dataclass(frozen=True)
class DeployedBackend:
    """One entry of ``backends``: a store of a multi-store Glance."""

    name: str
    type: str
    path: str | None
    default: bool
    #: The Ceph pool of an rbd backend.
    pool: str | None = None


@dataclass(frozen=True)
class Deployment:
    """What the settings file says was deployed (absent keys: the feature is off)."""

    source: str
    #: (Debian release, OpenStack release), e.g. ("13", "2025.1").
    release: tuple[str, str] | None = None
    api_url: str | None = None
    default_store: str | None = None
    file_dir: str | None = None
    #: The single store's Ceph pool, when rbd is among its stores.
    rbd_pool: str | None = None
    backends: tuple[DeployedBackend, ...] = ()
    staging_dir: str | None = None
    #: Where the metadata definition files the role loaded are (None: it loads none).
    metadefs_dir: str | None = None
    #: The enabled import methods (None: the file does not say).
    import_methods: tuple[str, ...] | None = None
    import_filters: ImportFilters | None = None
    image_cache: bool = False
    image_cache_dir: str | None = None
    #: user_storage_quota as configured; None when off ("0").
    quota: str | None = None
    keystone_limits: tuple[tuple[str, int], ...] = ()
    db_url: str | None = None
    #: show_image_direct_url and show_multiple_locations (None: the file does not say).
    show_image_direct_url: bool | None = None
    show_multiple_locations: bool | None = None

    @property
    def locations_hidden(self) -> bool:
        """The file says Glance shows neither direct_url nor locations."""
        return self.show_image_direct_url is False and self.show_multiple_locations is False

    def rbd_pool_of(self, store: str | None) -> str | None:
        """The Ceph pool an upload lands in when its store is rbd: ``store`` (a backend's
        name; None: the default store), else None."""
        if self.backends:
            backend = (
                self.default_backend
                if store is None
                else next((b for b in self.backends if b.name == store), None)
            )
            return backend.pool if backend is not None and backend.type == "rbd" else None
        if store is None and self.default_store == "rbd":
            return self.rbd_pool
        return None

    @property
    def upload_backends(self) -> tuple[DeployedBackend, ...]:
        """The backends that take uploads (file and rbd): step backends tries each."""
        return tuple(b for b in self.backends if b.type in ("file", "rbd"))

    @property
    def default_backend(self) -> DeployedBackend | None:
        return next((b for b in self.backends if b.default), None)

    @property
    def file_backends(self) -> tuple[DeployedBackend, ...]:
        return tuple(b for b in self.backends if b.type == "file")

    def store_dir(self) -> tuple[str, str] | None:
        """Where the default store keeps the main upload when it is a file store: (the
        key that says so, the directory), or None."""
        if self.backends:
            default = self.default_backend
            for index, backend in enumerate(self.backends):
                if backend is default and backend.type == "file" and backend.path:
                    return f"backends[{index}].path", backend.path
            return None
        if self.default_store == "file" and self.file_dir:
            return "single_store.file_dir", self.file_dir
        return None


def _type_name(kind: Any) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)


def _json_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {dict: "an object", list: "a list", str: "a string", int: "a number"}.get(
        type(value), type(value).__name__
    )


def check(value: object, schema: Any, key: str) -> None:
    """ConfigError (naming ``key``) unless ``value`` has the shape ``schema`` says."""
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected an object, got {_json_name(value)}")
        for name, item in value.items():
            if name not in schema:
                raise ConfigError(f"{key}.{name}: unknown key (known: {', '.join(schema)})")
            check(item, schema[name], f"{key}.{name}")
        return
    if isinstance(schema, list):
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {_json_name(value)}")
        for index, item in enumerate(value):
            check(item, schema[0], f"{key}[{index}]")
        return
    kinds = schema if isinstance(schema, tuple) else (schema,)
    # JSON true/false are Python bools, which are ints too: not a number here.
    wrong_bool = isinstance(value, bool) and bool not in kinds
    if wrong_bool or not isinstance(value, kinds):
        raise ConfigError(f"{key}: expected {_type_name(schema)}, got {_json_name(value)}")


def parse_deployment(text: str, source: str) -> Deployment:
    """A Deployment from the file's text; ConfigError naming ``source`` and the key."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    try:
        return _deployment(data, source)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _deployment(data: object, source: str) -> Deployment:
    if not isinstance(data, dict):
        raise ConfigError(f"expected a JSON object, got {_json_name(data)}")
    if "format" not in data:
        raise ConfigError(f"format: missing (this verifier reads format {FORMAT})")
    if data["format"] != FORMAT or isinstance(data["format"], bool):
        raise ConfigError(f"format: {data['format']!r}, this verifier reads format {FORMAT}")
    for name, value in data.items():
        if name not in SCHEMA:
            raise ConfigError(f"{name}: unknown key (known: {', '.join(SCHEMA)})")
        check(value, SCHEMA[name], name)
    release = None
    if "release" in data:
        given = _require(data["release"], "release", "debian", "openstack")
        release = (str(given["debian"]), str(given["openstack"]))
    single = data.get("single_store", {})
    cache = data.get("image_cache", {})
    backends = tuple(
        DeployedBackend(
            b["name"], b.get("type", "file"), b.get("path"), b.get("default", False), b.get("pool")
        )
        for i, b in enumerate(data.get("backends", []))
        if _require(b, f"backends[{i}]", "name")
    )
    if backends and sum(b.default for b in backends) != 1:
        raise ConfigError('backends: exactly one must have "default": true')
    image_import = data.get("image_import", {})
    methods = image_import.get("methods")
    filters = None
    if "filters" in image_import:
        lists = {k: tuple(v) for k, v in image_import["filters"].items()}
        filters = ImportFilters(**lists)
    quota = str(data["quota"]) if "quota" in data else None
    database = data.get("database")
    db_url = None
    if database is not None:
        db = _require(database, "database", "host", "name", "user")
        db_url = f"mysql+pymysql://{db['user']}@{db['host']}/{db['name']}"
    return Deployment(
        source=source,
        release=release,
        api_url=data.get("api_url"),
        default_store=single.get("default"),
        file_dir=single.get("file_dir"),
        rbd_pool=single.get("rbd_pool"),
        backends=backends,
        staging_dir=data.get("staging_dir"),
        metadefs_dir=data.get("metadefs_dir"),
        import_methods=tuple(methods) if methods is not None else None,
        import_filters=filters,
        image_cache=bool(cache.get("enabled", False)),
        image_cache_dir=cache.get("dir"),
        quota=None if quota in (None, "0", "0B") else quota,
        keystone_limits=tuple(sorted(data.get("keystone_limits", {}).items())),
        db_url=db_url,
        show_image_direct_url=data.get("show_image_direct_url"),
        show_multiple_locations=data.get("show_multiple_locations"),
    )


def _require(obj: Mapping[str, Any], key: str, *names: str) -> Mapping[str, Any]:
    missing = [n for n in names if n not in obj]
    if missing:
        raise ConfigError(f"{key}.{missing[0]}: missing")
    return obj


def read_deployment(path: Path, flag: str = "--config") -> Deployment:
    source = f"{flag} {path}"
    return parse_deployment(read_input(path, source), source)
