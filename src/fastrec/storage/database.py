"""Where fastrec's databases live: SQLite files (the default) or one PostgreSQL database.

One machine needs nothing but the package: the recordings index, the admin database and
the policy store are SQLite files in the recordings directory.  A fleet of gateways sets
``FASTREC_DATABASE_URL=postgresql://...`` and every store keeps its tables in that one
PostgreSQL database instead, so every gateway and admin server sees the same rows.

This module is the small dialect layer the three stores share, so each store's queries
are written once:

- :class:`PgConnection` offers the part of :class:`sqlite3.Connection` the stores use:
  ``execute(sql, params)`` with SQLite's ``?`` placeholders, rows readable by position
  and by column name (as :class:`sqlite3.Row`), ``with conn:`` as one transaction
  (committed on exit, rolled back on error).  Outside ``with`` every statement commits
  on its own (autocommit), so a read never leaves a transaction open.  A connection the
  server dropped (a PostgreSQL restart, a proxy's idle timeout) is opened again: a
  transaction's start and a read outside one are retried once on the new connection (they
  changed nothing); a statement inside a transaction is not, its caller sees the error.
- :func:`migrate` brings a store's tables forward through numbered steps, recorded in the
  ``fastrec_schema`` table (one row per store).  All steps run in one transaction holding
  a PostgreSQL advisory lock, so of two gateways starting at once one migrates and the
  other waits, then finds the work done: migrations are idempotent and never run twice.

Invariants: a URL's password never reaches a message or a log (:func:`shown_url`); a
database whose schema is newer than this fastrec understands is refused, never modified.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import zlib
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeAlias, TypeGuard

from fastrec.privacy.connection import strip_credentials

if TYPE_CHECKING:
    import psycopg

__all__ = ["DATABASE_URL_ENV", "POSTGRES_SCHEMES", "DatabaseUnavailable", "DbConnection", "DbRow", "PgConnection",
           "Row", "check_database_url", "is_postgres", "migrate", "postgres_ddl", "schema_versions", "shown_url"]

DATABASE_URL_ENV: Final = "FASTREC_DATABASE_URL"
#: what FASTREC_DATABASE_URL may start with (unset or empty: SQLite files)
POSTGRES_SCHEMES: Final = ("postgresql://", "postgres://")
SCHEMA_TABLE: Final = "fastrec_schema"
CONNECT_TIMEOUT: Final = 10  # seconds: a gateway must not hang on start-up when the server is gone
_LOCK_KEY: Final = zlib.crc32(b"fastrec schema migrations")  # the advisory lock of every migration


class DatabaseUnavailable(OSError):
    """The database at ``url`` (shown without its password) cannot be used: ``problem``.

    An OSError, as :class:`~fastrec.storage.dbfile.DatabaseFileProblem` is: callers that
    report an unusable SQLite file report an unreachable PostgreSQL server the same way."""

    def __init__(self, url: str, problem: str) -> None:
        self.url = shown_url(url)
        self.problem = problem
        super().__init__(f"database {self.url}: {problem}")


def shown_url(url: str) -> str:
    """``url`` with any password removed: the form messages and logs show."""
    return strip_credentials(url)


def is_postgres(url: str | None) -> TypeGuard[str]:
    """True when ``url`` names a PostgreSQL database (else: the SQLite default)."""
    return url is not None and url.strip().lower().startswith(POSTGRES_SCHEMES)


def check_database_url(value: object) -> str | None:
    """A FASTREC_DATABASE_URL value, validated: None (unset or empty) means SQLite files.

    Raises ValueError naming what is allowed for another scheme or a URL libpq cannot
    parse; the caller names the variable and shows the value without its password.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"must be text, got {type(value).__name__}")
    url = value.strip()
    if not url:
        return None  # FASTREC_DATABASE_URL= in a .env: SQLite, as when it is unset
    if not is_postgres(url):
        raise ValueError(f"must start with {' or '.join(POSTGRES_SCHEMES)} (unset: SQLite files in the "
                         "recordings directory)")
    from psycopg.conninfo import conninfo_to_dict  # libpq's own parser: what connect() will read

    example = "e.g. postgresql://user@host:5432/fastrec"
    try:
        parts = conninfo_to_dict(url)
    except Exception as exc:  # noqa: BLE001 - psycopg.ProgrammingError; its text names the part
        raise ValueError(f"is not a valid PostgreSQL URL ({_first_line(exc)}); {example}") from None
    for port in str(parts.get("port") or "5432").split(","):  # libpq takes a list of hosts and ports
        if not (port.isdigit() and 1 <= int(port) <= 65535):
            raise ValueError(f"is not a valid PostgreSQL URL (port {port!r} must be between 1 and 65535); {example}")
    return url


class Row(Sequence[Any]):
    """One result row, readable by position (``row[0]``, unpacking) and by column name
    (``row["name"]``), as :class:`sqlite3.Row` is."""

    __slots__ = ("_names", "_values")

    def __init__(self, values: Sequence[Any], names: Mapping[str, int]) -> None:
        self._values = tuple(values)
        self._names = names

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return self._values[self._names[key]]
        return self._values[key]

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def keys(self) -> list[str]:
        return list(self._names)

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._names, self._values, strict=False))!r})"


def _row_factory(cursor: Any) -> Any:
    names = {column.name: i for i, column in enumerate(cursor.description or ())}
    return lambda values: Row(values, names)


@functools.lru_cache(maxsize=512)
def _pg_sql(sql: str) -> str:
    """SQLite's ``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled).  Our
    statements hold no ``?`` inside string literals."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgConnection:
    """One psycopg 3 connection with the subset of :class:`sqlite3.Connection`'s interface
    the stores use (see the module docstring).  Not thread-safe by itself: each store holds
    it under its own lock, as it does its SQLite connection."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._transactions: list[Any] = []  # psycopg Transaction objects, innermost last
        self._conn: psycopg.Connection[Any] | None = self._connect()

    def _connect(self) -> psycopg.Connection[Any]:
        import psycopg

        try:
            return psycopg.connect(self.url, autocommit=True, row_factory=_row_factory,
                                   connect_timeout=CONNECT_TIMEOUT, application_name="fastrec")
        except psycopg.Error as exc:
            raise DatabaseUnavailable(self.url, f"cannot connect ({_first_line(exc)})") from None

    def _live(self) -> psycopg.Connection[Any]:
        if self._conn is None:
            raise ValueError(f"database {shown_url(self.url)} is closed")
        if self._conn.broken and not self._transactions:  # the server went away: try once more
            self._conn.close()
            self._conn = self._connect()
        return self._conn

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> psycopg.Cursor[Any]:
        """Run one statement written with ``?`` placeholders; the cursor holds its rows."""
        # no parameters: nothing is substituted, a "%" stays as written
        query, args = (_pg_sql(sql), params) if params else (sql, None)
        if self._transactions or not sql.lstrip()[:6].upper() == "SELECT":
            return self._live().execute(query, args)  # type: ignore[arg-type]
        return self._retried(lambda conn: conn.execute(query, args))  # type: ignore[arg-type]

    def _retried(self, work: Any) -> Any:
        """``work(connection)``, once more on a new connection when the old one was dropped."""
        import psycopg

        try:
            return work(self._live())
        except psycopg.OperationalError:
            if self._conn is None or not self._conn.broken:
                raise
        return work(self._live())

    def script(self, sql: str) -> None:
        """Run several statements without parameters (a migration step)."""
        self._live().execute(sql)  # type: ignore[arg-type]

    def __enter__(self) -> PgConnection:
        def begin(conn: psycopg.Connection[Any]) -> Any:
            transaction = conn.transaction()
            transaction.__enter__()
            return transaction

        self._transactions.append(begin(self._live()) if self._transactions else self._retried(begin))
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._transactions.pop().__exit__(*exc_info)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


#: what a store's queries run on: the SQLite default or PostgreSQL, the same interface
DbConnection: TypeAlias = sqlite3.Connection | PgConnection
#: a row of either: read by position or by column name
DbRow: TypeAlias = sqlite3.Row | Row


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return strip_credentials(text.splitlines()[0]) if text else type(exc).__name__


def postgres_ddl(sqlite_ddl: str) -> str:
    """A migration step written for SQLite, as PostgreSQL DDL: an ``INTEGER PRIMARY KEY
    AUTOINCREMENT`` becomes an identity column and ``REAL`` (8 bytes in SQLite, 4 in
    PostgreSQL) ``DOUBLE PRECISION``, so epochs keep their microseconds.  Steps that need
    more (triggers) are written for each dialect."""
    ddl = re.sub(r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
                 sqlite_ddl)
    return re.sub(r"\bREAL\b", "DOUBLE PRECISION", ddl)


def migrate(conn: PgConnection, component: str, steps: Sequence[str]) -> int:
    """Bring ``component``'s tables to version ``len(steps)``; returns the steps taken now.

    Step N (1-based) brings version N-1 to N; a released step is never edited.  Runs in one
    transaction under an advisory lock: concurrent callers take turns, and the later one
    finds the version already reached.  Raises DatabaseUnavailable for a schema newer than
    ``steps`` knows.
    """
    with conn:
        conn.execute("SELECT pg_advisory_xact_lock(?)", (_LOCK_KEY,))
        conn.script(f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} (component TEXT PRIMARY KEY, "
                    "version INTEGER NOT NULL, updated_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        row = conn.execute(f"SELECT version FROM {SCHEMA_TABLE} WHERE component = ?", (component,)).fetchone()
        version = 0 if row is None else int(row[0])
        if version > len(steps):
            raise DatabaseUnavailable(conn.url, f"the {component} schema is version {version}, newer than this "
                                                f"fastrec understands ({len(steps)}); upgrade fastrec")
        for step in range(version, len(steps)):
            conn.script(steps[step])
        if version < len(steps):
            conn.execute(f"INSERT INTO {SCHEMA_TABLE} (component, version) VALUES (?, ?) ON CONFLICT (component) "
                         "DO UPDATE SET version = excluded.version, updated_at = now()", (component, len(steps)))
    return len(steps) - version


def connect_migrated(url: str, component: str, steps: Sequence[str]) -> PgConnection:
    """A connection to ``url`` with ``component``'s tables migrated (:func:`migrate`);
    closed again when that fails."""
    conn = PgConnection(url)
    try:
        migrate(conn, component, steps)
    except BaseException:
        conn.close()
        raise
    return conn


def schema_versions(conn: PgConnection) -> dict[str, int]:
    """The schema version of every store in the database (empty before any migration)."""
    exists = conn.execute("SELECT to_regclass(?)", (SCHEMA_TABLE,)).fetchone()[0]
    if exists is None:
        return {}
    return {str(r[0]): int(r[1]) for r in conn.execute(f"SELECT component, version FROM {SCHEMA_TABLE}")}
