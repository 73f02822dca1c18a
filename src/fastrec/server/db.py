"""The admin server's own database: users, API tokens, browser sessions, the audit log,
reviews, bookmarks and share links, in one SQLite file beside the recordings index, or in
PostgreSQL (``FASTREC_DATABASE_URL``) where every admin server of a fleet shares them.

One machine needs nothing else.  The file is created private (see
:mod:`fastrec.storage.dbfile`); the schema carries its version (``PRAGMA user_version``)
and is migrated forward on open, one numbered step at a time, each in its own transaction,
so a server stopped mid-upgrade restarts from the last whole step.  A database of another
program at the path is refused, never modified.

Every repository (users, audit, shares...) goes through :meth:`AdminDatabase.read` and
:meth:`AdminDatabase.write`: one connection, one lock, short transactions; the server's
request threads and its event loop share it.  The connection is a :class:`sqlite3.Connection`
or a :class:`~fastrec.storage.database.PgConnection` (the same interface, ``?``
placeholders): the repositories' SQL is written once, portable to both.  In PostgreSQL the
same numbered steps (translated by :func:`~fastrec.storage.database.postgres_ddl`) run on
open under an advisory lock, so two servers starting at once never both migrate.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastrec.storage.database import PgConnection, connect_migrated, is_postgres, postgres_ddl
from fastrec.storage.dbfile import DatabaseFileProblem, SqliteOwner, claim_database_file

__all__ = ["ADMIN_DB_FILE", "AdminDatabase"]

ADMIN_DB_FILE = "fastrec_admin.sqlite3"
APPLICATION_ID = 0x66726164  # "frad"

# Step N brings a database from user_version N-1 to N.  Never edit a step once released.
_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE users (
        name          TEXT PRIMARY KEY,      -- as typed at creation
        name_key      TEXT NOT NULL UNIQUE,  -- casefolded: "Admin" and "admin" are one account
        role          TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at    REAL NOT NULL,
        disabled      INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE api_tokens (
        id           TEXT PRIMARY KEY,
        user_name    TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        label        TEXT NOT NULL,
        token_hash   TEXT NOT NULL UNIQUE,
        created_at   REAL NOT NULL,
        last_used_at REAL,
        revoked_at   REAL
    );
    CREATE TABLE web_sessions (
        id_hash     TEXT PRIMARY KEY,
        user_name   TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        csrf_token  TEXT NOT NULL,
        created_at  REAL NOT NULL,
        expires_at  REAL NOT NULL,
        address     TEXT,
        user_agent  TEXT
    );
    CREATE TABLE audit_log (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        at          REAL NOT NULL,
        actor       TEXT,
        actor_type  INTEGER NOT NULL,
        action      TEXT NOT NULL,
        target      TEXT,
        status      INTEGER NOT NULL,
        address     TEXT,
        user_agent  TEXT,
        device_type INTEGER NOT NULL,
        details     TEXT
    );
    CREATE INDEX audit_at ON audit_log(at);
    CREATE INDEX audit_action ON audit_log(action, at);
    CREATE INDEX audit_actor ON audit_log(actor, at);
    CREATE TABLE reviews (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id  TEXT NOT NULL,
        user_name   TEXT NOT NULL,
        at          REAL NOT NULL,
        note        TEXT NOT NULL
    );
    CREATE INDEX reviews_session ON reviews(session_id, at);
    CREATE TABLE bookmarks (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id  TEXT NOT NULL,
        moment      REAL NOT NULL,          -- wall clock, epoch seconds
        note        TEXT NOT NULL,
        user_name   TEXT NOT NULL,
        created_at  REAL NOT NULL
    );
    CREATE INDEX bookmarks_session ON bookmarks(session_id, moment);
    CREATE TABLE share_links (
        id          TEXT PRIMARY KEY,
        token_hash  TEXT NOT NULL UNIQUE,
        session_id  TEXT NOT NULL,
        created_by  TEXT NOT NULL,
        created_at  REAL NOT NULL,
        expires_at  REAL NOT NULL,
        start_at    REAL,
        revoked_at  REAL,
        revoked_by  TEXT
    );
    CREATE INDEX share_links_session ON share_links(session_id);
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)
PG_COMPONENT = "admin"
PG_MIGRATIONS: tuple[str, ...] = tuple(postgres_ddl(step) for step in _MIGRATIONS)


class AdminDatabase(SqliteOwner):
    """The admin database at ``path`` (created when missing); thread-safe; a context manager.

    Raises :class:`fastrec.storage.dbfile.DatabaseFileProblem` for a path that is a link,
    a directory, a database of another program or one of a newer schema than this
    version understands.  With a PostgreSQL ``database_url`` the tables live there (``path``
    is not used) and :class:`~fastrec.storage.database.DatabaseUnavailable` says why it
    cannot be used.
    """

    def __init__(self, path: str | os.PathLike[str], *, database_url: str | None = None) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | PgConnection | None = None
        if is_postgres(database_url):
            self._conn = connect_migrated(database_url, PG_COMPONENT, PG_MIGRATIONS)
            return
        created = claim_database_file(self.path)
        conn = self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10.0)
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            self._migrate(conn, created)
            conn.execute("PRAGMA journal_mode=WAL")
        except BaseException:
            self.close()
            raise

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection | PgConnection]:
        """A connection inside one transaction (committed on exit, rolled back on error)."""
        with self._lock:
            conn = self._db()
            with conn:
                yield conn

    def read(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        """All rows of one query (rows read by position or by column name)."""
        with self._lock:
            return self._db().execute(sql, params).fetchall()

    def _db(self) -> sqlite3.Connection | PgConnection:
        if self._conn is None:
            raise ValueError(f"admin database {self.path} is closed")
        return self._conn

    def _migrate(self, conn: sqlite3.Connection, created: bool) -> None:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        if not (created or app_id == APPLICATION_ID or (app_id == 0 and tables == 0)):
            raise DatabaseFileProblem(self.path, f"a database of another program (application_id {app_id}); "
                                              "left as it is")
        if version > SCHEMA_VERSION:
            raise DatabaseFileProblem(self.path, f"schema version {version} is newer than this fastrec "
                                              f"understands ({SCHEMA_VERSION}); upgrade fastrec")
        for step in range(version, SCHEMA_VERSION):
            with conn:
                conn.executescript("BEGIN;" + _MIGRATIONS[step] +
                                   f";PRAGMA user_version = {step + 1};"
                                   f"PRAGMA application_id = {APPLICATION_ID};COMMIT;")
