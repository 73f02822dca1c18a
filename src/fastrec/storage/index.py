"""An index of recordings, for searching by time, server, user, IP, type or session.

By default a SQLite file in the recordings directory; with ``database_url`` (the
``FASTREC_DATABASE_URL`` of a fleet) the ``segments`` table of a PostgreSQL database shared
by every gateway and admin server (:mod:`fastrec.storage.database`).  The queries are the
same for both; in PostgreSQL each row carries its *origin* (host name and recordings
directory of the gateway that indexed it): searches see every gateway's recordings, while
:meth:`RecordingIndex.remove` and :meth:`RecordingIndex.rebuild` touch only this origin's
rows, so one gateway's rebuild never drops another's recordings.  A gateway whose origin has
no rows yet (a new one, or a new database) is rebuilt from its directory on open.

The index is derived data: the metadata files are the truth, and the index can always be
rebuilt from them (:meth:`RecordingIndex.rebuild`).  Opening an index whose database is
missing rebuilds it from the recordings directory; a database of ours that is corrupt is
set aside (renamed, never deleted) and rebuilt, one of an older schema version is reset.

Recording never depends on the index: whatever makes it unusable -- a directory, a link
or another kind of file at its path, a database some other program made (another schema,
no ``application_id`` of ours), a locked or unreadable file, a PostgreSQL server that cannot
be reached -- is one exception,
:class:`IndexUnavailable` (path and problem), raised by the constructor.  A caller that
records catches it and goes on without an index (``rebuild`` makes a new one later).

Invariants: the database file is created by us, new, private, never through a link
(:mod:`fastrec.storage.dbfile`); a database we did not create is never modified.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from fastrec.storage.database import DatabaseUnavailable, PgConnection, connect_migrated, is_postgres, shown_url
from fastrec.storage.dbfile import DatabaseFileProblem, SqliteOwner, claim_database_file
from fastrec.storage.metadata import MetadataError, SegmentMetadata, iter_metadata
from fastrec.storage.naming import METADATA_SUFFIX, VIDEO_SUFFIX

__all__ = ["INDEX_FILE", "IndexEntry", "IndexUnavailable", "RecordingIndex"]

INDEX_FILE = "recordings_index.sqlite3"
SCHEMA_VERSION = 1
APPLICATION_ID = 0x66726563  # "frec": marks a database as ours (PRAGMA application_id)

log = structlog.get_logger("fastrec.storage.index")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS segments (
    path            TEXT PRIMARY KEY,   -- absolute path of the video
    metadata_path   TEXT,
    session_id      TEXT NOT NULL,
    part            INTEGER NOT NULL,
    con_codigo      TEXT,
    server          TEXT,
    server_key      TEXT,               -- casefolded copies: Unicode-aware matching
    ip              TEXT,
    user_name       TEXT,
    user_key        TEXT,
    connection_type TEXT,
    type_key        TEXT,
    start_iso       TEXT NOT NULL,
    start_epoch     REAL NOT NULL,
    end_iso         TEXT,
    until_epoch     REAL,               -- effective end; NULL while still recording
    status          TEXT NOT NULL,
    size_bytes      INTEGER,
    sha256          TEXT
);
CREATE INDEX IF NOT EXISTS segments_start ON segments(start_epoch);
CREATE INDEX IF NOT EXISTS segments_session ON segments(session_id, part);
CREATE INDEX IF NOT EXISTS segments_server ON segments(server_key);
CREATE INDEX IF NOT EXISTS segments_user ON segments(user_key);
CREATE INDEX IF NOT EXISTS segments_ip ON segments(ip);
"""
#: every table and index _SCHEMA creates: an index holding them all with our marks is set up
_SCHEMA_OBJECTS: tuple[str, ...] = tuple(re.findall(r"IF NOT EXISTS (\w+)", _SCHEMA))

# PostgreSQL: the same columns (epochs in double precision: REAL is 4 bytes there) and the
# origin; step N brings schema version N-1 to N; never edit a released step.
PG_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE segments (
        origin          TEXT NOT NULL,      -- host:directory of the gateway that indexed it
        path            TEXT NOT NULL,
        metadata_path   TEXT,
        session_id      TEXT NOT NULL,
        part            INTEGER NOT NULL,
        con_codigo      TEXT,
        server          TEXT,
        server_key      TEXT,
        ip              TEXT,
        user_name       TEXT,
        user_key        TEXT,
        connection_type TEXT,
        type_key        TEXT,
        start_iso       TEXT NOT NULL,
        start_epoch     DOUBLE PRECISION NOT NULL,
        end_iso         TEXT,
        until_epoch     DOUBLE PRECISION,
        status          TEXT NOT NULL,
        size_bytes      BIGINT,
        sha256          TEXT,
        PRIMARY KEY (origin, path)
    );
    CREATE INDEX segments_start ON segments(start_epoch);
    CREATE INDEX segments_session ON segments(session_id, part);
    CREATE INDEX segments_server ON segments(server_key);
    CREATE INDEX segments_user ON segments(user_key);
    CREATE INDEX segments_ip ON segments(ip);
    """,
)
PG_COMPONENT = "recordings_index"

_COLUMNS = ("path", "metadata_path", "session_id", "part", "con_codigo", "server", "server_key", "ip",
            "user_name", "user_key", "connection_type", "type_key", "start_iso", "start_epoch",
            "end_iso", "until_epoch", "status", "size_bytes", "sha256")


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One indexed segment."""

    path: Path
    metadata_path: Path | None
    session_id: str
    part: int
    con_codigo: str | None
    server: str | None
    ip: str | None
    user: str | None
    connection_type: str | None
    start_time: datetime
    end_time: datetime | None
    status: str
    size_bytes: int | None
    sha256: str | None


class IndexUnavailable(RuntimeError):
    """The index at ``path`` cannot be used (``problem`` says why); nothing was changed.

    Raised by :class:`RecordingIndex` for a directory, a link or another non-regular
    file at the index path, a database of another program, or one SQLite cannot open
    (locked, unreadable, a read-only directory).  Recording goes on without an index.
    """

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = path  # the file, or the database URL without its password
        self.problem = problem
        super().__init__(f"recording index {path}: {problem}")


def _fold(text: str | None) -> str | None:
    return None if text is None else text.strip().casefold()


def _row(meta: SegmentMetadata, video: Path, metadata: Path | None) -> dict[str, Any]:
    info = meta.connection_info
    start = meta.start_time.timestamp()
    if meta.end_time is not None:
        until: float | None = meta.end_time.timestamp()
    elif meta.duration_seconds is not None:
        until = start + meta.duration_seconds
    else:
        # still recording: open-ended; a finished file without an end: its start
        until = None if meta.status == "recording" else start
    return {
        "path": os.path.abspath(video),
        "metadata_path": None if metadata is None else os.path.abspath(metadata),
        "session_id": meta.session_id,
        "part": meta.chain.part,
        "con_codigo": None if info.con_codigo is None else str(info.con_codigo),
        "server": info.name, "server_key": _fold(info.name),
        "ip": None if info.ip is None else info.ip.strip(),
        "user_name": info.user, "user_key": _fold(info.user),
        "connection_type": info.connection_type, "type_key": _fold(info.connection_type),
        "start_iso": meta.start_time.isoformat(), "start_epoch": start,
        "end_iso": None if meta.end_time is None else meta.end_time.isoformat(),
        "until_epoch": until,
        "status": meta.status, "size_bytes": meta.file.size_bytes, "sha256": meta.file.sha256,
    }


def _entry(row: Any) -> IndexEntry:  # a sqlite3.Row or a database.Row
    return IndexEntry(
        path=Path(row["path"]),
        metadata_path=None if row["metadata_path"] is None else Path(row["metadata_path"]),
        session_id=row["session_id"], part=row["part"], con_codigo=row["con_codigo"],
        server=row["server"], ip=row["ip"], user=row["user_name"],
        connection_type=row["connection_type"],
        start_time=datetime.fromisoformat(row["start_iso"]),
        end_time=None if row["end_iso"] is None else datetime.fromisoformat(row["end_iso"]),
        status=row["status"], size_bytes=row["size_bytes"], sha256=row["sha256"],
    )


_LOCKED_ATTEMPTS = 8


class _Locked(Exception):
    """SQLite refused at once ("database is locked"); ``created``: the file was ours."""

    def __init__(self, created: bool) -> None:
        super().__init__(created)
        self.created = created


class RecordingIndex(SqliteOwner):
    """Index over the recordings of one directory; thread-safe; a context manager.

    ``db_path`` is the SQLite file; ``recordings_dir`` (default: the database's
    directory) is where :meth:`rebuild` looks when the database has to be recreated.
    With a PostgreSQL ``database_url`` the index lives there instead and ``db_path`` is
    not used (see the module docstring).
    """

    def __init__(self, db_path: str | os.PathLike[str], recordings_dir: str | os.PathLike[str] | None = None,
                 *, database_url: str | None = None) -> None:
        self.db_path = Path(db_path)
        self.recordings_dir = Path(recordings_dir) if recordings_dir is not None else self.db_path.parent
        # one connection shared under a lock: simple to close, and SQLite serialises writes anyway
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | PgConnection | None = None
        # SQLite: the whole file is this directory's.  PostgreSQL: the rows of this origin.
        self._origin: str | None = None
        if is_postgres(database_url):
            self._open_postgres(database_url)
            return
        # SQLite answers "locked" at once, without waiting, where waiting could deadlock (two
        # recorders creating one new file together); the loser closes and opens again
        created = False
        for attempt in range(_LOCKED_ATTEMPTS):
            try:
                self._open_sqlite(created)
                return
            except _Locked as exc:
                created = exc.created
                time.sleep(0.05 * (attempt + 1))
        raise IndexUnavailable(self.db_path, "SQLite cannot use it (database is locked)")

    def _open_sqlite(self, created: bool) -> bool:
        """Open (create) the SQLite index; returns whether this object created the file.
        Raises _Locked when SQLite refused at once because of another connection."""
        try:
            created = self._claim_file() or created
            try:
                self._conn = self._connect()
                rebuild = self._ensure_schema(created) or created
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError) or created:
                    raise  # locked, unreadable ...: not ours to repair
                self._set_aside(exc)  # "file is not a database", "malformed"
                self._claim_file()
                self._conn = self._connect()
                self._ensure_schema(True)
                rebuild = True
            if rebuild:
                self.rebuild(self.recordings_dir)
            return created
        except sqlite3.Error as exc:
            self.close()
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise _Locked(created) from exc
            raise IndexUnavailable(self.db_path, f"SQLite cannot use it ({exc})") from exc
        except OSError as exc:
            self.close()
            raise IndexUnavailable(self.db_path, f"cannot be opened ({exc.strerror or exc})") from exc
        except IndexUnavailable:
            self.close()
            raise

    def _open_postgres(self, url: str) -> None:
        import psycopg

        # resolved: the recorder and the admin server of one host name a directory alike
        self._origin = f"{socket.gethostname()}:{os.path.realpath(self.recordings_dir)}"
        try:
            self._conn = connect_migrated(url, PG_COMPONENT, PG_MIGRATIONS)
            known = self._conn.execute("SELECT 1 FROM segments WHERE origin = ? LIMIT 1", (self._origin,)).fetchone()
            if known is None:  # a gateway new to this database: its directory is the truth
                self.rebuild(self.recordings_dir)
        except DatabaseUnavailable as exc:
            self.close()
            raise IndexUnavailable(exc.url, exc.problem) from None
        except psycopg.Error as exc:
            self.close()
            raise IndexUnavailable(shown_url(url), f"PostgreSQL cannot use it ({str(exc).strip()})") from None
        except BaseException:
            self.close()
            raise

    # --- operations ---

    def add(self, metadata: SegmentMetadata, video_path: str | os.PathLike[str],
            metadata_path: str | os.PathLike[str] | None = None) -> None:
        """Insert or replace the entry of the segment at ``video_path``.

        ``metadata_path`` defaults to the name next to the video (``{base}_metadata.json``).
        """
        video = Path(video_path)
        if metadata_path is None and video.name.endswith(VIDEO_SUFFIX):
            metadata_path = video.with_name(video.name[: -len(VIDEO_SUFFIX)] + METADATA_SUFFIX)
        row = _row(metadata, video, None if metadata_path is None else Path(metadata_path))
        with self._lock, self._db() as conn:
            self._insert(conn, row)

    def remove(self, path: str | os.PathLike[str]) -> bool:
        """Drop the entry whose video or metadata file is ``path``; True if one was dropped."""
        key = os.path.abspath(path)
        scope, params = self._scope()
        with self._lock, self._db() as conn:
            cursor = conn.execute(f"DELETE FROM segments WHERE {scope}(path = ? OR metadata_path = ?)",
                                  (*params, key, key))
            return cursor.rowcount > 0

    def search(self, since: datetime | None = None, until: datetime | None = None,
               server: str | None = None, user: str | None = None, ip: str | None = None,
               connection_type: str | None = None, session_id: str | None = None,
               con_codigo: str | int | None = None) -> list[IndexEntry]:
        """Entries matching every given filter, ordered by start time, session and part.

        ``since``/``until`` select segments that overlap the interval (a segment still
        being recorded extends to now); naive datetimes are local time.  ``server`` (the
        connection name), ``user`` and ``connection_type`` match whole values, ignoring
        case (Unicode-aware); ``ip``, ``session_id`` and ``con_codigo`` match exactly.
        """
        clauses: list[str] = []
        params: list[Any] = []
        if since is not None:
            clauses.append("(until_epoch IS NULL OR until_epoch >= ?)")
            params.append(since.timestamp())
        if until is not None:
            clauses.append("start_epoch <= ?")
            params.append(until.timestamp())
        for column, value in (("server_key", _fold(server)), ("user_key", _fold(user)),
                              ("type_key", _fold(connection_type)),
                              ("ip", None if ip is None else ip.strip()),
                              ("session_id", session_id),
                              ("con_codigo", None if con_codigo is None else str(con_codigo))):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT * FROM segments {where} ORDER BY start_epoch, session_id, part, path"
        with self._lock:
            rows = self._db().execute(sql, params).fetchall()
        return [_entry(r) for r in rows]

    def count(self) -> int:
        """Number of indexed segments."""
        with self._lock:
            return int(self._db().execute("SELECT COUNT(*) FROM segments").fetchone()[0])

    def rebuild(self, directory: str | os.PathLike[str] | None = None) -> int:
        """Replace the whole index with the metadata files of ``directory``; returns the count.

        Unreadable metadata files are logged and skipped.  Segments whose video is gone
        are still indexed: the index must not hide that a recording existed.
        """
        folder = Path(directory) if directory is not None else self.recordings_dir
        rows = []
        for path, item in iter_metadata(folder):
            if isinstance(item, MetadataError):
                log.warning("Index rebuild skipped unreadable metadata", path=str(path), error=item.problem)
                continue
            name = item.file.name if item.file.name and Path(item.file.name).name == item.file.name \
                else path.name[: -len(METADATA_SUFFIX)] + VIDEO_SUFFIX
            rows.append(_row(item, folder / name, path))
        scope, params = self._scope()
        with self._lock, self._db() as conn:  # one transaction: readers never see it half-built
            conn.execute(f"DELETE FROM segments WHERE {scope}1 = 1", params)
            for row in rows:
                self._insert(conn, row)
        log.info("Recording index rebuilt", directory=str(folder), entries=len(rows))
        return len(rows)

    # --- internals ---

    def _db(self) -> sqlite3.Connection | PgConnection:
        if self._conn is None:
            raise ValueError(f"index {self.db_path} is closed")
        return self._conn

    def _scope(self) -> tuple[str, tuple[str, ...]]:
        """The condition (with its trailing AND) that selects the rows this index owns."""
        return ("", ()) if self._origin is None else ("origin = ? AND ", (self._origin,))

    def _claim_file(self) -> bool:
        """Make sure a regular file of ours is at the path: True when it was created now."""
        try:
            return claim_database_file(self.db_path)
        except DatabaseFileProblem as exc:
            raise IndexUnavailable(self.db_path, exc.problem.replace("the database", "the index")) from None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, check_same_thread=False, timeout=10.0)
        conn.row_factory = sqlite3.Row
        return conn

    def _ensure_schema(self, created: bool) -> bool:
        """Create or check the schema; True when an older schema of ours was reset.

        A database is ours when it carries our application_id, is empty (no tables), or
        is one of schema version 1 from before the id (a ``segments`` table and nothing
        else).  Anything else is another program's: IndexUnavailable, untouched.
        """
        conn = self._conn
        assert isinstance(conn, sqlite3.Connection)
        # one statement, so one snapshot: read one by one, the marks could come from before
        # another recorder's creating transaction and the tables from after it
        app_id, version, names, present = conn.execute(
            "SELECT (SELECT application_id FROM pragma_application_id),"
            " (SELECT user_version FROM pragma_user_version),"
            " (SELECT json_group_array(name) FROM sqlite_master WHERE type = 'table'),"
            f" (SELECT count(*) FROM sqlite_master WHERE name IN ({','.join('?' * len(_SCHEMA_OBJECTS))}))",
            _SCHEMA_OBJECTS).fetchone()
        tables = set(json.loads(names))
        ours = created or app_id == APPLICATION_ID or (app_id == 0 and (
            not tables or (version == 1 and tables == {"segments"})))
        if not ours:
            listed = ", ".join(sorted(tables)[:5]) or "none"
            raise IndexUnavailable(self.db_path, f"a database of another program (application_id {app_id}, "
                                                 f"user_version {version}, tables: {listed}); left as it is")
        reset = bool(tables) and version != SCHEMA_VERSION
        if (not created and app_id == APPLICATION_ID and version == SCHEMA_VERSION
                and present == len(_SCHEMA_OBJECTS)):
            # set up already (every table and index of the schema, with our marks): a write
            # transaction and its commit at every start would add nothing (issue 14)
            return False
        # one transaction: the tables and the marks that say they are ours appear together,
        # so a recorder opening the new file at the same moment never sees a table without
        # them (and calls it another program's); a second one waits for the lock, then finds
        # everything there (IF NOT EXISTS)
        drop = "DROP TABLE IF EXISTS segments;" if reset else ""
        try:
            conn.executescript(f"BEGIN IMMEDIATE;{drop}{_SCHEMA}PRAGMA user_version = {SCHEMA_VERSION};"
                               f"PRAGMA application_id = {APPLICATION_ID};COMMIT;")
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            raise
        # WAL: the admin server reads while the recorder writes
        conn.execute("PRAGMA journal_mode=WAL")
        return reset

    def _set_aside(self, exc: sqlite3.DatabaseError) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        aside = self.db_path.with_name(f"{self.db_path.name}.corrupt-{int(time.time())}")
        os.replace(self.db_path, aside)
        for suffix in ("-wal", "-shm"):  # a stale journal must not be replayed into the new file
            journal = self.db_path.with_name(self.db_path.name + suffix)
            if journal.exists():
                os.replace(journal, aside.with_name(aside.name + suffix))
        log.warning("Recording index was unreadable; set aside and rebuilt", path=str(aside), error=str(exc))

    def _insert(self, conn: sqlite3.Connection | PgConnection, row: dict[str, Any]) -> None:
        values = [row[c] for c in _COLUMNS]
        if self._origin is None:
            conn.execute(_SQLITE_INSERT, values)
        else:
            conn.execute(_PG_INSERT, [self._origin, *values])


_SQLITE_INSERT = (f"INSERT OR REPLACE INTO segments ({', '.join(_COLUMNS)}) "
                  f"VALUES ({', '.join('?' * len(_COLUMNS))})")
_PG_INSERT = (f"INSERT INTO segments (origin, {', '.join(_COLUMNS)}) VALUES ({', '.join('?' * (len(_COLUMNS) + 1))}) "
              f"ON CONFLICT (origin, path) DO UPDATE SET "
              + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c != "path"))
