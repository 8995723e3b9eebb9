"""The Glance database check: a deleted image keeps its ``images`` row (status deleted)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from glance_verify.errors import CloudUnreachable, ConfigError

SCHEMES = ("mysql+pymysql", "mysql")
DEFAULT_PORT = 3306
MASK = "***"
_PASSWORD_IN_URL = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^@\s]*@")


def mask_url(text: str) -> str:
    """Replace the password of any ``scheme://user:password@`` in ``text`` with ***."""
    return _PASSWORD_IN_URL.sub(lambda m: f"{m.group('head')}{MASK}@", text)


@dataclass(frozen=True)
class DbUrl:
    """A parsed ``mysql+pymysql://user:pass@host[:port]/db`` URL. The password never prints."""

    user: str
    password: str = field(repr=False)
    host: str
    port: int
    database: str
    unix_socket: str | None = None

    def masked(self) -> str:
        return f"mysql+pymysql://{self.user}:{MASK}@{self.host}:{self.port}/{self.database}"

    def __str__(self) -> str:
        return self.masked()


def parse_db_url(url: str) -> DbUrl:
    """Parse a SQLAlchemy-style MySQL URL as found in glance-api.conf ``[database]``."""
    shown = mask_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"--db-url {shown}: {exc}") from None
    if parts.scheme not in SCHEMES:
        raise ConfigError(f"--db-url {shown}: scheme must be mysql+pymysql:// (or mysql://)")
    database = unquote(parts.path.lstrip("/"))
    query = parse_qs(parts.query)
    socket = query.get("unix_socket", [None])[0]
    if not parts.username or not (parts.hostname or socket) or not database or "/" in database:
        raise ConfigError(
            f"--db-url {shown}: expected mysql+pymysql://USER:PASSWORD@HOST[:PORT]/DB"
        )
    return DbUrl(
        user=unquote(parts.username),
        password=unquote(parts.password or ""),
        host=parts.hostname or "localhost",
        port=port or DEFAULT_PORT,
        database=database,
        unix_socket=socket,
    )


class ImageDatabase:
    """A short-lived read-only connection to the Glance database."""

    def __init__(self, url: DbUrl, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout

    def _connect(self) -> Any:
        import pymysql  # noqa: PLC0415 - only needed when --db-url is given

        try:
            return pymysql.connect(
                host=self.url.host,
                port=self.url.port,
                user=self.url.user,
                password=self.url.password,
                database=self.url.database,
                unix_socket=self.url.unix_socket,
                connect_timeout=int(self.timeout),
                cursorclass=pymysql.cursors.DictCursor,
            )
        except pymysql.err.MySQLError as exc:
            raise CloudUnreachable(f"database {self.url}: {_mysql_message(exc)}") from None

    def check(self) -> None:
        """Connect and make sure this is a Glance database (an ``images`` table)."""
        import pymysql  # noqa: PLC0415

        conn = self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT id FROM images LIMIT 1")
        except pymysql.err.MySQLError as exc:
            raise ConfigError(
                f"database {self.url}: not a Glance database? {_mysql_message(exc)}"
            ) from None
        finally:
            conn.close()

    def image_row(self, image_id: str) -> dict[str, Any] | None:
        """The ``images`` row of ``image_id`` including soft-deleted rows, or None."""
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT id, status, deleted, deleted_at, size, checksum,"
                    " os_hash_algo, os_hash_value FROM images WHERE id = %s",
                    (image_id,),
                )
                row: dict[str, Any] | None = cur.fetchone()
                return row
        finally:
            conn.close()


def _mysql_message(exc: Exception) -> str:
    args: tuple[object, ...] = tuple(getattr(exc, "args", ()))
    if len(args) >= 2:
        return f"({args[0]}) {args[1]}"
    return str(exc) or type(exc).__name__
