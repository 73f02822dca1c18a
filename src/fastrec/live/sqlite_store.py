"""Live state in SQLite, next to the recordings index: one machine, no set-up.

The file :data:`LIVE_FILE` lives in the recordings directory (beside
``recordings_index.sqlite3``).  Every recorder process of the machine writes its sessions'
reports into it; the admin server polls it.

Invariants, and why:

- **Private, never through a link.**  The file is claimed like the index
  (:func:`fastrec.storage.dbfile.claim_database_file`: created new 0600, no link followed;
  a database that is not ours is refused, never changed); the directory is created 0700
  when missing and refused when others may write in it (:func:`ensure_private_dir`).
- **Several writers at once.**  WAL mode; every write is one short ``BEGIN IMMEDIATE``
  transaction (a few rows), and a writer waits up to :data:`BUSY_TIMEOUT_MS` for another's,
  so two recorder processes never lose a report or see "database is locked" in normal use.
- **Changes are read in commit order.**  Each write transaction takes the next number of
  a counter row (``seq``) and stamps every row it writes with it.  Writers are serialised
  by SQLite, so ``seq`` grows in commit order, and a reader that asks for ``seq > last``
  (an indexed, cheap query) misses nothing - unlike a wall-clock ``updated_at``, which two
  processes can commit out of order.
- **Ephemeral.**  An ended session stays as a tombstone (its reason and last report) for
  :data:`TOMBSTONE_SECONDS` so a polling reader sees how it ended, then goes; alerts stay
  :data:`ALERT_SECONDS`.  A database of another schema version is reset, not migrated:
  nothing in it outlives the recorders that wrote it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import structlog
from pydantic import ValidationError

from fastrec.live.model import (
    AlertRaised,
    EndReason,
    LiveAlert,
    LiveEvent,
    LiveSession,
    LiveSessionEnded,
    LiveSessionUpdated,
    SessionsSnapshot,
)
from fastrec.storage.dbfile import DatabaseFileProblem, claim_database_file
from fastrec.storage.files import ensure_private_dir

__all__ = ["LIVE_FILE", "LiveStoreUnavailable", "SqliteLiveSource", "SqliteLiveStore"]

LIVE_FILE = "live_sessions.sqlite3"
APPLICATION_ID = 0x66726C76  # "frlv"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 5000
TOMBSTONE_SECONDS = 60.0
ALERT_SECONDS = 600.0
POLL_SECONDS = 0.5

log = structlog.get_logger("fastrec.live")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY CHECK (id = 0), seq INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO counter (id, seq) VALUES (0, 0)",
    # data: the session's last report (LiveSession JSON); ended: NULL while live, else the reason
    """CREATE TABLE IF NOT EXISTS sessions (
        key TEXT PRIMARY KEY, seq INTEGER NOT NULL, updated REAL NOT NULL, ended TEXT, data TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS sessions_seq ON sessions(seq)",
    "CREATE TABLE IF NOT EXISTS alerts (seq INTEGER NOT NULL, at REAL NOT NULL, data TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS alerts_seq ON alerts(seq)",
)
_TABLES = {"counter", "sessions", "alerts"}


class LiveStoreUnavailable(RuntimeError):
    """The live-state file at ``path`` cannot be used (``problem`` says why)."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"live-session store {path}: {problem}")


def _connect(directory: Path) -> sqlite3.Connection:
    """Open (creating when missing) the live-state database of ``directory``."""
    path = directory / LIVE_FILE
    try:
        ensure_private_dir(directory)
        created = claim_database_file(path)
    except DatabaseFileProblem as exc:
        raise LiveStoreUnavailable(path, exc.problem) from None
    # autocommit (isolation_level None): the transactions below are explicit and short
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                           check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _ensure_schema(conn, path, created)
    except BaseException:
        conn.close()
        raise
    return conn


def _ensure_schema(conn: sqlite3.Connection, path: Path, created: bool) -> None:
    with _transaction(conn):
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not (created or app_id == APPLICATION_ID or (app_id == 0 and not tables)):
            listed = ", ".join(sorted(tables)[:5]) or "none"
            raise LiveStoreUnavailable(path, f"a database of another program (application_id {app_id}, "
                                             f"tables: {listed}); left as it is")
        if app_id == APPLICATION_ID and version == SCHEMA_VERSION and _TABLES <= tables:
            return
        if version != SCHEMA_VERSION:  # another version's live state: nothing worth keeping
            for table in _TABLES & tables:
                conn.execute(f"DROP TABLE {table}")
        for statement in _SCHEMA:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    # WAL: readers never block writers; it stays set in the file (a no-op once it is)
    for attempt in range(50):
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError:  # another process is switching it at this moment
            if attempt == 49:
                raise
            time.sleep(0.02)
    conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: consistent; live state needs no fsync per report


@contextmanager
def _transaction(conn: sqlite3.Connection, kind: str = "IMMEDIATE") -> Iterator[None]:
    conn.execute(f"BEGIN {kind}")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _next_seq(conn: sqlite3.Connection) -> int:
    conn.execute("UPDATE counter SET seq = seq + 1 WHERE id = 0")
    return int(conn.execute("SELECT seq FROM counter WHERE id = 0").fetchone()[0])


def _stamp(moment: datetime) -> float:
    return moment.timestamp()


class SqliteLiveStore:
    """A recorder's writer into ``directory``'s :data:`LIVE_FILE` (see :class:`~fastrec.live.store.LiveWriter`).

    Thread-safe enough for its one user (the announcer's thread); each process opens its
    own.  The database is opened here: LiveStoreUnavailable, sqlite3.Error or OSError
    when it cannot be.
    """

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / LIVE_FILE
        self._conn: sqlite3.Connection | None = _connect(Path(directory))

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError(f"live-session store {self.path} is closed")
        return self._conn

    def publish(self, sessions: Sequence[LiveSession]) -> None:
        if not sessions:
            return
        conn = self._db()
        with _transaction(conn):
            seq = _next_seq(conn)
            conn.executemany(
                "INSERT INTO sessions (key, seq, updated, ended, data) VALUES (?, ?, ?, NULL, ?) "
                "ON CONFLICT(key) DO UPDATE SET seq = excluded.seq, updated = excluded.updated, "
                "ended = NULL, data = excluded.data",
                [(s.key, seq, _stamp(s.updated_at), s.model_dump_json()) for s in sessions])

    def end(self, ended: Sequence[LiveSessionEnded]) -> None:
        if not ended:
            return
        conn = self._db()
        with _transaction(conn):
            seq = _next_seq(conn)
            for e in ended:
                if e.session is not None:
                    conn.execute("UPDATE sessions SET seq = ?, updated = ?, ended = ?, data = ? "
                                 "WHERE key = ? AND ended IS NULL",
                                 (seq, _stamp(e.at), str(e.reason), e.session.model_dump_json(), e.key))
                else:
                    conn.execute("UPDATE sessions SET seq = ?, updated = ?, ended = ? WHERE key = ? AND ended IS NULL",
                                 (seq, _stamp(e.at), str(e.reason), e.key))
            self._prune(conn)

    def alert(self, alert: LiveAlert) -> None:
        conn = self._db()
        with _transaction(conn):
            conn.execute("INSERT INTO alerts (seq, at, data) VALUES (?, ?, ?)",
                         (_next_seq(conn), _stamp(alert.at), alert.model_dump_json()))
            self._prune(conn)

    @staticmethod
    def _prune(conn: sqlite3.Connection) -> None:
        now = time.time()
        conn.execute("DELETE FROM sessions WHERE ended IS NOT NULL AND updated < ?", (now - TOMBSTONE_SECONDS,))
        conn.execute("DELETE FROM alerts WHERE at < ?", (now - ALERT_SECONDS,))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class SqliteLiveSource:
    """The admin server's reader of ``directory``'s :data:`LIVE_FILE`: polls every
    ``poll`` seconds for rows newer than the last ``seq`` it saw (see
    :class:`~fastrec.live.store.LiveSource`)."""

    def __init__(self, directory: Path, *, poll: float = POLL_SECONDS) -> None:
        self.directory = Path(directory)
        self.path = self.directory / LIVE_FILE
        self.poll = poll
        self._conn: sqlite3.Connection | None = None

    async def observe(self) -> AsyncIterator[LiveEvent | None]:
        await self.aclose()
        self._conn = conn = await asyncio.to_thread(_connect, self.directory)
        sessions, mark = await asyncio.to_thread(self._snapshot, conn)
        yield SessionsSnapshot(sessions=sessions, at=datetime.now().astimezone())
        while True:
            await asyncio.sleep(self.poll)
            changes, mark = await asyncio.to_thread(self._changes, conn, mark)
            for change in changes:
                yield change
            yield None

    async def remove(self, session: LiveSession, reason: EndReason) -> None:
        conn = self._conn
        if conn is None:
            return  # not observing: whoever observes next sees the silence itself
        await asyncio.to_thread(self._remove, conn, session, reason)

    async def aclose(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await asyncio.to_thread(conn.close)

    # --- in a worker thread ---

    def _snapshot(self, conn: sqlite3.Connection) -> tuple[list[LiveSession], int]:
        with _transaction(conn, "DEFERRED"):  # one consistent view of both
            mark = int(conn.execute("SELECT seq FROM counter WHERE id = 0").fetchone()[0])
            rows = conn.execute("SELECT key, data FROM sessions WHERE ended IS NULL ORDER BY seq").fetchall()
        sessions = []
        for key, data in rows:
            try:
                sessions.append(LiveSession.model_validate_json(data))
            except ValidationError as exc:
                log.warning("Live session row unreadable; skipped", key=key, error=str(exc))
        return sessions, mark

    def _changes(self, conn: sqlite3.Connection, mark: int) -> tuple[list[LiveEvent], int]:
        with _transaction(conn, "DEFERRED"):
            new_mark = int(conn.execute("SELECT seq FROM counter WHERE id = 0").fetchone()[0])
            if new_mark == mark:
                return [], mark
            rows = conn.execute("SELECT seq, key, updated, ended, data FROM sessions WHERE seq > ?",
                                (mark,)).fetchall()
            alerts = conn.execute("SELECT seq, data FROM alerts WHERE seq > ?", (mark,)).fetchall()
        changes: list[tuple[int, LiveEvent]] = []
        for seq, key, updated, ended, data in rows:
            try:
                session = LiveSession.model_validate_json(data)
                if ended is None:
                    changes.append((seq, LiveSessionUpdated(session=session)))
                else:
                    at = datetime.fromtimestamp(updated).astimezone()
                    changes.append((seq, LiveSessionEnded.of(session, EndReason(ended), at)))
            except (ValidationError, ValueError) as exc:
                log.warning("Live session row unreadable; skipped", key=key, error=str(exc))
        for seq, data in alerts:
            try:
                changes.append((seq, AlertRaised(alert=LiveAlert.model_validate_json(data))))
            except ValidationError as exc:
                log.warning("Live alert row unreadable; skipped", error=str(exc))
        changes.sort(key=lambda c: c[0])
        return [c for _, c in changes], new_mark

    @staticmethod
    def _remove(conn: sqlite3.Connection, session: LiveSession, reason: EndReason) -> None:
        with _transaction(conn):
            seq = _next_seq(conn)
            # only the report it judged: a newer one means the recorder is back
            conn.execute("UPDATE sessions SET seq = ?, updated = ?, ended = ? "
                         "WHERE key = ? AND ended IS NULL AND updated <= ?",
                         (seq, time.time(), str(reason), session.key, _stamp(session.updated_at) + 1e-6))
