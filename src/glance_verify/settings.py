"""From glance-verify's parsed arguments, and the --config file, to validated Options.

Everything that can be checked before touching the cloud is checked here. An option the
command line did not give is None in the arguments; it comes from --config when the file
says it, else from ``Options``' default. The store and cache directories the file names
are only looked at when the Glance host's files are visible here: ``--local-stores``
(all-in-one) or ``--host-root DIR`` (the Glance host's / mounted here).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO, TypeVar

from glance_verify.command import check_name_prefix, check_timeout, cloud_name, cloud_options
from glance_verify.db import DbUrl, parse_db_url
from glance_verify.deployment import Deployment, read_deployment
from glance_verify.errors import ConfigError
from glance_verify.hashing import MIB, check_algorithm, parse_expected_hash
from glance_verify.html_report import find_template
from glance_verify.imports import KNOWN_METHODS, ImportFilters
from glance_verify.nodes import check_header_name, parse_api_nodes
from glance_verify.options import DEFAULTS, Backend, Options, local_dir_option
from glance_verify.plan import SKIPPABLE
from glance_verify.report import check_writable
from glance_verify.source import validate_image_file, validate_url
from glance_verify.storage import (
    check_backends,
    check_pool,
    parse_backend,
    parse_limit,
    parse_quota,
)

DB_URL_ENV = "GLANCE_VERIFY_DB_URL"
V = TypeVar("V")


def given(value: V | None, default: V) -> V:
    """The command line's value, else the default (``Options``')."""
    return default if value is None else value


def skip_set(items: Sequence[str]) -> frozenset[str]:
    """--skip values: repeatable and comma-separated, each a skippable step's name."""
    skip: set[str] = set()
    for item in items:
        for name in filter(None, (s.strip() for s in item.split(","))):
            if name not in SKIPPABLE:
                raise ConfigError(
                    f"--skip {name}: not a step that can be skipped ({', '.join(SKIPPABLE)})"
                )
            skip.add(name)
    return frozenset(skip)


def db_url_from_args(url: str | None, password_file: str | None) -> DbUrl | None:
    db_url = parse_db_url(url) if url else None
    if password_file:
        if db_url is None:
            raise ConfigError("--db-password-file needs --db-url")
        if db_url.password:
            raise ConfigError("--db-url already has a password; drop it or --db-password-file")
        db_url = dataclasses.replace(db_url, password=read_password(password_file))
    return db_url


def read_password(name: str, stdin: TextIO | None = None) -> str:
    """The first line of a file, or of stdin for ``-``, without its line end."""
    try:
        if name == "-":
            line = (stdin if stdin is not None else sys.stdin).readline()
        else:
            with Path(name).open(encoding="utf-8") as handle:
                line = handle.readline()
    except OSError as exc:
        raise ConfigError(f"--db-password-file {name}: {exc.strerror}") from None
    password = line.rstrip("\r\n")
    if not password:
        raise ConfigError(f"--db-password-file {name}: empty")
    return password


def host_root_option(text: str | None) -> Path | None:
    if not text:
        return None
    root = Path(text)
    if not root.is_dir():
        raise ConfigError(f"--host-root {text}: not a directory")
    return root


class Sources:
    """The command line first, then the --config file: one field at a time."""

    def __init__(self, args: argparse.Namespace, deployment: Deployment | None) -> None:
        self.args = args
        self.deployment = deployment
        self.host_root = host_root_option(args.host_root)
        #: The Glance host's files are visible here: the file's directories may be looked at.
        self.files_here = bool(args.local_stores) or self.host_root is not None

    def local_dir(
        self, flag_value: str | None, flag: str, key: str, from_file: str | None
    ) -> Path | None:
        """A directory of the Glance host, as a path here: the flag's, else the file's
        (only when its files are visible here)."""
        if flag_value:
            return local_dir_option(flag, flag_value, self.host_root)
        if self.deployment is None or not from_file or not self.files_here:
            return None
        return local_dir_option(f"{self.deployment.source}: {key}", from_file, self.host_root)

    def store_path(self) -> Path | None:
        found = self.deployment.store_dir() if self.deployment else None
        key, directory = found if found else ("", None)
        return self.local_dir(self.args.store_path, "--store-path", key, directory)

    def backends(self) -> tuple[tuple[Backend, ...], str | None, bool]:
        """--backend, --default-backend and --local-stores (with --config and --host-root,
        the backends' directories are looked at too)."""
        args, dep = self.args, self.deployment
        if args.backend is not None:
            backends = tuple(parse_backend(b) for b in args.backend)
        elif dep is not None:
            backends = tuple(
                dataclasses.replace(
                    parse_backend(f"{b.name}={b.path}" if b.path and b.type == "file" else b.name),
                    pool=b.pool if b.type == "rbd" else None,
                )
                for b in dep.upload_backends
            )
        else:
            backends = ()
        default = args.default_backend
        if default is None and dep is not None and dep.default_backend is not None:
            default = dep.default_backend.name
        local = bool(args.local_stores) or (dep is not None and self.host_root is not None)
        check_backends(backends, default, local=local, root=self.host_root)
        return backends, default, local

    def import_methods(self) -> tuple[str, ...]:
        """--import-methods (comma-separated), else what --config says, else none."""
        text = self.args.import_methods
        if text is None:
            dep = self.deployment
            return dep.import_methods or () if dep is not None else ()
        methods = tuple(m.strip() for m in text.split(",") if m.strip())
        unknown = [m for m in methods if m not in KNOWN_METHODS]
        if unknown:
            raise ConfigError(
                f"--import-methods {text}: unknown {', '.join(unknown)} "
                f"(known: {', '.join(KNOWN_METHODS)})"
            )
        return methods

    def import_filters(self) -> ImportFilters:
        dep = self.deployment
        if dep is not None and dep.import_filters is not None:
            return dep.import_filters
        return ImportFilters()

    def staging_path(self, import_methods: tuple[str, ...]) -> Path | None:
        """The staging area here, looked at only when the import steps run."""
        if not import_methods:
            return None
        directory = self.deployment.staging_dir if self.deployment else None
        return self.local_dir(None, "", "staging_dir", directory)

    def metadefs(self) -> tuple[bool, Path | None]:
        """--metadefs, or --config's metadefs_dir (looked at when the files are here)."""
        dep = self.deployment
        from_file = dep.metadefs_dir if dep is not None else None
        on = bool(self.args.metadefs) or from_file is not None
        return on, self.local_dir(None, "", "metadefs_dir", from_file)

    def quota(self) -> tuple[int | None, str | None]:
        text = self.args.quota
        if text is None and self.deployment is not None:
            text = self.deployment.quota
        return (parse_quota(text) if text is not None else None), text

    def keystone_limits(self) -> tuple[bool, tuple[tuple[str, int], ...], int]:
        """--keystone-limits, the --keystone-limit expectations, --limit-fill-max (bytes)."""
        args, dep = self.args, self.deployment
        on = bool(args.keystone_limits) or bool(dep and dep.keystone_limits)
        if args.keystone_limit:
            if not on:
                raise ConfigError("--keystone-limit needs --keystone-limits")
            expect = tuple(parse_limit(text) for text in args.keystone_limit)
        else:
            expect = dep.keystone_limits if dep is not None and on else ()
        fill_mib = given(args.limit_fill_max, DEFAULTS.limit_fill_max // MIB)
        if fill_mib < 1:
            raise ConfigError(f"--limit-fill-max {fill_mib}: give 1 MiB or more")
        return on, expect, fill_mib * MIB

    def image_cache(self) -> tuple[bool, Path | None]:
        args, dep = self.args, self.deployment
        on = bool(args.image_cache) or bool(dep and dep.image_cache)
        if args.image_cache_dir and not on:
            raise ConfigError("--image-cache-dir needs --image-cache")
        from_file = dep.image_cache_dir if dep is not None and on else None
        return on, self.local_dir(
            args.image_cache_dir, "--image-cache-dir", "image_cache.dir", from_file
        )

    def rbd_pool(self) -> str | None:
        """The Ceph pool the image goes to when its store is rbd: --rbd-pool, else the
        file's pool of --store (or of the default store)."""
        if self.args.rbd_pool is not None:
            return check_pool(self.args.rbd_pool, "--rbd-pool")
        if self.deployment is None:
            return None
        pool = self.deployment.rbd_pool_of(self.args.store)
        return check_pool(pool, f"{self.deployment.source}: pool") if pool else None

    def db_url(self) -> DbUrl | None:
        url = self.args.db_url or os.environ.get(DB_URL_ENV)
        if not url and self.deployment is not None:
            url = self.deployment.db_url
        return db_url_from_args(url, self.args.db_password_file)


def report_paths(args: argparse.Namespace) -> tuple[Path | None, bool, Path | None]:
    """--json FILE (or ``-``: stdout, as ``-f json``), --junit FILE: checked writable."""
    json_stdout = args.json == "-" or args.format == "json"
    json_path = Path(args.json) if args.json and args.json != "-" else None
    junit_path = Path(args.junit) if args.junit else None
    for path, flag in ((json_path, "--json"), (junit_path, "--junit")):
        if path is not None:
            check_writable(path, flag)
    if args.record_secrets:
        check_writable(Path(args.record_secrets), "--record-secrets")
    return json_path, json_stdout, junit_path


def html_report(
    args: argparse.Namespace, json_path: Path | None
) -> tuple[Path | None, Path | None]:
    """--html FILE, else FILE.html beside --json FILE (none with --no-html or without
    either); and its template, found now so that a missing one fails before the run."""
    if args.no_html:
        if args.html or args.html_template:
            raise ConfigError("--no-html: drop --html and --html-template, or --no-html")
        return None, None
    path = Path(args.html) if args.html else None
    if path is None and json_path is not None:
        path = json_path.with_suffix(".html")
    if path is None:
        if args.html_template:
            raise ConfigError("--html-template needs --html FILE or --json FILE")
        return None, None
    check_writable(path, "--html" if args.html else "--html (beside --json)")
    return path, find_template(Path(args.html_template) if args.html_template else None)


def options_from_args(args: argparse.Namespace) -> Options:
    """Validate everything that can be checked before touching the cloud."""
    d = DEFAULTS
    deployment = read_deployment(Path(args.config)) if args.config else None
    sources = Sources(args, deployment)
    skip = skip_set(args.skip or [])
    image_url = given(args.image_url, d.image_url)
    if args.image_file:
        validate_image_file(args.image_file)
    else:
        validate_url(image_url)
    store_path = sources.store_path()
    rbd_pool = sources.rbd_pool()
    if rbd_pool and args.store_path:
        raise ConfigError(
            f"--store-path {args.store_path}: the image's store is rbd (pool {rbd_pool}), "
            "it has no directory"
        )
    backends, default_backend, local_stores = sources.backends()
    quota, quota_text = sources.quota()
    limits_on, limit_expect, limit_fill_max = sources.keystone_limits()
    image_cache, image_cache_dir = sources.image_cache()
    if args.http_url is not None:
        validate_url(args.http_url, "--http-url")
    json_path, json_stdout, junit_path = report_paths(args)
    html_path, html_template = html_report(args, json_path)
    import_methods = sources.import_methods()
    metadefs, metadefs_path = sources.metadefs()
    serve_port = given(args.serve_port, d.serve_port)
    if not 1 <= serve_port <= 65535:
        raise ConfigError(f"--serve-port {serve_port}: give a TCP port from 1 to 65535")
    serve_address = given(args.serve_address, d.serve_address)
    if serve_address in ("0.0.0.0", "::", ""):  # noqa: S104 - refused here
        raise ConfigError(
            f"--serve-address {serve_address!r}: give the address Glance reaches this "
            "machine at (it is also the host of the URL Glance fetches)"
        )
    return Options(
        cloud=cloud_name(args),
        cloud_args=tuple(sorted(vars(cloud_options(args)).items())),
        config_path=Path(args.config) if args.config else None,
        expect_release=deployment.release if deployment else None,
        image_file=args.image_file,
        image_url=image_url,
        # (a fresh default: it expands ~ as HOME is now)
        cache_dir=Path(args.cache_dir).expanduser() if args.cache_dir else Options().cache_dir,
        fallback=not args.no_fallback,
        name_prefix=check_name_prefix("--name-prefix", given(args.name_prefix, d.name_prefix)),
        disk_format=given(args.disk_format, d.disk_format),
        container_format=given(args.container_format, d.container_format),
        visibility=given(args.visibility, d.visibility),
        store=args.store,
        hash_algo=check_algorithm(given(args.hash_algo, d.hash_algo)),
        expect_hash=parse_expected_hash(args.expect_hash) if args.expect_hash else None,
        db_url=sources.db_url(),
        host_root=sources.host_root,
        store_path=store_path,
        backends=backends,
        default_backend=default_backend,
        local_stores=local_stores,
        quota=quota,
        quota_text=quota_text,
        keystone_limits=limits_on,
        keystone_limit_expect=limit_expect,
        limit_fill_max=limit_fill_max,
        image_cache=image_cache,
        image_cache_dir=image_cache_dir,
        http_url=args.http_url,
        api_nodes=parse_api_nodes(args.api_node or []),
        served_by_header=check_header_name(given(args.served_by_header, d.served_by_header)),
        rbd_pool=rbd_pool,
        locations_hidden=bool(deployment and deployment.locations_hidden),
        import_methods=import_methods,
        import_filters=sources.import_filters(),
        serve_address=serve_address,
        serve_port=serve_port,
        staging_path=sources.staging_path(import_methods),
        metadefs=metadefs,
        metadefs_path=metadefs_path,
        record_secrets=Path(args.record_secrets) if args.record_secrets else None,
        member_role=given(args.member_role, d.member_role),
        skip=skip,
        json_path=json_path,
        json_stdout=json_stdout,
        junit_path=junit_path,
        html_path=html_path,
        html_template=html_template,
        require_enabled=bool(args.require_enabled),
        timeout=check_timeout(given(args.timeout, d.timeout)),
        keep=bool(args.keep),
        quiet=bool(args.quiet),
        explain=bool(args.explain),
        progress_file=Path(args.progress_file) if args.progress_file else None,
        explain_script=Path(args.explain_script) if args.explain_script else None,
        debug=bool(args.debug),
    )
