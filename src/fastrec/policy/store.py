"""The versions of the recording policy, in one SQLite file in the recordings directory,
or in PostgreSQL (``FASTREC_DATABASE_URL``) for a fleet.

Every reader of the policy -- RecordingManager (``record``, ``watch``, the connection
monitor), ``python -m fastrec policy`` and the admin server -- opens this same file
(:data:`POLICY_FILE` in RECORDING_OUTPUT_DIR), or the same PostgreSQL table, so they agree
on the active policy without a server running.

Invariants, and why:

- **The active policy is the newest version.**  Versions are numbered 1, 2, 3 ... and only
  ever appended: a rollback appends a copy of the old document as a new version (with
  ``rolled_back_from``), so the history shows what was active when, and nothing is lost.
  Triggers (SQLite's, PostgreSQL's) refuse any UPDATE or DELETE of a version.
- **An invalid document never becomes a version.**  :meth:`PolicyStore.save` and
  :meth:`PolicyStore.rollback` parse the document first
  (:func:`~fastrec.policy.document.parse_policy`) and refuse it with its line and reason.
  A rollback re-checks the old document: one this fastrec no longer accepts is refused too.
- **The exact text is kept** (comments, order, spacing): what an operator wrote is what
  the next one edits and what diffs compare; its SHA-256 is stored beside it.
- **Concurrent writers are serialised.**  A save is one ``BEGIN IMMEDIATE`` transaction
  (PostgreSQL: a transaction holding an advisory lock) that reads the newest version and
  appends the next; ``base_version`` lets an editor say
  which version its change was made on, and a save made on an outdated one is refused
  (:class:`~fastrec.policy.errors.PolicyConflict`) instead of silently undoing the other.
- **No version saved** means the documented default (:data:`DEFAULT_VERSION`, number 0:
  record everything, no rules), so a recorder without a policy behaves as before.
- **Private, never through a link, never another program's database**: the file is
  claimed like every database of ours (:func:`fastrec.storage.dbfile.claim_database_file`)
  and its schema carries its version (``PRAGMA user_version``), migrated forward one
  numbered step at a time.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from fastrec.policy.diff import PolicyDiff, diff_texts
from fastrec.policy.document import DEFAULT_POLICY_TEXT, parse_policy
from fastrec.policy.errors import (
    PolicyConflict,
    PolicyInputError,
    PolicyNotFound,
    PolicyStoreProblem,
    PolicyUnchanged,
)
from fastrec.storage.database import PgConnection, connect_migrated, is_postgres
from fastrec.storage.dbfile import DatabaseFileProblem, SqliteOwner, claim_database_file
from fastrec.storage.files import ensure_private_dir

__all__ = ["DEFAULT_VERSION", "MAX_AUTHOR", "MAX_COMMENT", "POLICY_FILE", "PolicyStore", "PolicyVersion"]

POLICY_FILE: Final = "recording_policy.sqlite3"
APPLICATION_ID: Final = 0x6672706F  # "frpo"
BUSY_TIMEOUT_MS: Final = 10_000
MAX_AUTHOR: Final = 200
MAX_COMMENT: Final = 500
_MAX_VERSION: Final = 2**63 - 1  # SQLite's integers

# Step N brings a database from user_version N-1 to N.  Never edit a step once released.
_MIGRATIONS: Final = (
    """
    CREATE TABLE policy_versions (
        version          INTEGER PRIMARY KEY,  -- 1, 2, 3 ...; the newest is the active policy
        created_at       REAL NOT NULL,        -- epoch seconds
        author           TEXT NOT NULL,
        comment          TEXT NOT NULL,
        text             TEXT NOT NULL,        -- the document exactly as saved
        sha256           TEXT NOT NULL,        -- of its UTF-8 bytes
        rolled_back_from INTEGER               -- the version it restores, or NULL
    );
    CREATE TRIGGER policy_versions_never_change BEFORE UPDATE ON policy_versions
        BEGIN SELECT RAISE(ABORT, 'policy versions are never changed'); END;
    CREATE TRIGGER policy_versions_never_deleted BEFORE DELETE ON policy_versions
        BEGIN SELECT RAISE(ABORT, 'policy versions are never deleted'); END;
    """,
)
SCHEMA_VERSION: Final = len(_MIGRATIONS)
PG_COMPONENT: Final = "policy"
PG_MIGRATIONS: Final = (
    """
    CREATE TABLE policy_versions (
        version          BIGINT PRIMARY KEY,
        created_at       DOUBLE PRECISION NOT NULL,
        author           TEXT NOT NULL,
        comment          TEXT NOT NULL,
        text             TEXT NOT NULL,
        sha256           TEXT NOT NULL,
        rolled_back_from BIGINT
    );
    CREATE FUNCTION fastrec_policy_versions_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'policy versions are never %',
            CASE TG_OP WHEN 'DELETE' THEN 'deleted' WHEN 'TRUNCATE' THEN 'deleted' ELSE 'changed' END; END $$;
    CREATE TRIGGER policy_versions_frozen BEFORE UPDATE OR DELETE ON policy_versions
        FOR EACH ROW EXECUTE FUNCTION fastrec_policy_versions_frozen();
    CREATE TRIGGER policy_versions_not_truncated BEFORE TRUNCATE ON policy_versions
        FOR EACH STATEMENT EXECUTE FUNCTION fastrec_policy_versions_frozen();
    """,
)
_SAVE_LOCK: Final = zlib.crc32(b"fastrec policy save")  # PostgreSQL's advisory lock of a save


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    """One saved version (number 0: the default policy, never stored)."""

    version: int
    created_at: float
    author: str
    comment: str
    text: str
    sha256: str
    rolled_back_from: int | None = None

    @property
    def is_default(self) -> bool:
        return self.version == 0


DEFAULT_VERSION: Final = PolicyVersion(0, 0.0, "fastrec", "the default policy: record every connection, no rules",
                                       DEFAULT_POLICY_TEXT, _sha256(DEFAULT_POLICY_TEXT))
"""What is active while no version has been saved (:data:`~fastrec.policy.document.DEFAULT_POLICY`)."""


def _text_field(name: str, value: object, limit: int) -> str:
    """An author or comment: one line of printable text, 1..limit characters."""
    if not isinstance(value, str):
        raise PolicyInputError(f"{name} must be text, got {type(value).__name__}")
    text = value.strip()
    if not text:
        raise PolicyInputError(f"{name} must not be empty: say who changed the policy and why")
    if len(text) > limit:
        raise PolicyInputError(f"{name} has {len(text)} characters; at most {limit} are allowed")
    if not text.isprintable():  # control characters, line breaks, lone surrogates
        raise PolicyInputError(f"{name}={text[:40]!r}: must be one line of printable text (no control characters)")
    return text


def _version_number(version: object) -> int:
    if isinstance(version, bool) or not isinstance(version, int) or not 0 <= version <= _MAX_VERSION:
        raise PolicyInputError(f"version={version!r}: must be a whole number from 0 (the default policy) up")
    return version


class PolicyStore(SqliteOwner):
    """The policy versions of the recordings ``directory`` (the file is created when
    missing; the directory too, 0700).  Thread-safe; a context manager.

    Raises :class:`~fastrec.policy.errors.PolicyStoreProblem` when the file is a link, a
    directory, a database of another program or of a newer schema; OSError when the
    directory cannot be used.  With a PostgreSQL ``database_url`` the versions live there
    (the directory is still created: the recorders' other files go there) and
    :class:`~fastrec.storage.database.DatabaseUnavailable` says why it cannot be used.
    """

    def __init__(self, directory: str | Path, *, database_url: str | None = None) -> None:
        self.directory = Path(directory)
        self.path = self.directory / POLICY_FILE
        self.database_url = database_url if is_postgres(database_url) else None  # None: the SQLite file
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | PgConnection | None = None
        if is_postgres(database_url):
            ensure_private_dir(self.directory)
            self._conn = connect_migrated(database_url, PG_COMPONENT, PG_MIGRATIONS)
            return
        try:
            ensure_private_dir(self.directory)
            created = claim_database_file(self.path)
        except DatabaseFileProblem as exc:
            raise PolicyStoreProblem(f"policy store {exc.path}: {exc.problem}") from None
        # autocommit: the transactions below are explicit and short
        conn = self._conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._migrate(conn, created)
        except BaseException:
            self.close()
            raise

    # --- life cycle ---

    # --- reading ---

    def active(self) -> PolicyVersion | None:
        """The active (newest) version, or None while none has been saved."""
        with self._lock:
            row = self._db().execute("SELECT * FROM policy_versions ORDER BY version DESC LIMIT 1").fetchone()
        return None if row is None else _version(row)

    def active_or_default(self) -> PolicyVersion:
        """The active version, or :data:`DEFAULT_VERSION`."""
        return self.active() or DEFAULT_VERSION

    def versions(self) -> list[PolicyVersion]:
        """Every saved version, oldest first (the last one is active)."""
        with self._lock:
            rows = self._db().execute("SELECT * FROM policy_versions ORDER BY version").fetchall()
        return [_version(r) for r in rows]

    def get(self, version: int) -> PolicyVersion:
        """Version ``version`` (0: :data:`DEFAULT_VERSION`); PolicyNotFound when there is none."""
        number = _version_number(version)
        if number == 0:
            return DEFAULT_VERSION
        with self._lock:
            row = self._db().execute("SELECT * FROM policy_versions WHERE version = ?", (number,)).fetchone()
            if row is not None:
                return _version(row)
            newest = self._db().execute("SELECT MAX(version) FROM policy_versions").fetchone()[0]
        known = f"versions 1 to {newest} exist" if newest else "no version has been saved"
        raise PolicyNotFound(f"version={number}: no such policy version ({known}; 0 is the default policy)")

    def diff(self, old: int, new: int) -> PolicyDiff:
        """The line diff of version ``old`` -> version ``new`` (0: the default policy)."""
        a, b = self.get(old), self.get(new)
        return diff_texts(a.text, b.text, a.version, b.version)

    # --- changing ---

    def save(self, text: str, *, author: str, comment: str, base_version: int | None = None) -> PolicyVersion:
        """Append ``text`` as the new active version.

        Raises :class:`~fastrec.policy.errors.PolicyError` (with lines) for an invalid
        document, PolicyInputError for a bad author or comment, and PolicyConflict when
        ``text`` is the active document already or ``base_version`` (the version the
        change was made on; 0: the default) is no longer the active one.
        """
        return self._append(text, author=author, comment=comment, base_version=base_version, rolled_back_from=None)

    def rollback(self, version: int, *, author: str, comment: str, base_version: int | None = None) -> PolicyVersion:
        """Make version ``version``'s document (0: the default policy) active again as a
        new version.  Raises PolicyNotFound for an unknown version, PolicyConflict when it
        is the active document already, PolicyError when this fastrec no longer accepts it."""
        old = self.get(version)
        return self._append(old.text, author=author, comment=comment, base_version=base_version,
                            rolled_back_from=old.version)

    def _append(self, text: str, *, author: str, comment: str, base_version: int | None,
                rolled_back_from: int | None) -> PolicyVersion:
        author = _text_field("author", author, MAX_AUTHOR)
        comment = _text_field("comment", comment, MAX_COMMENT)
        if base_version is not None:
            base_version = _version_number(base_version)
        parse_policy(text)  # PolicyError: never stored
        with self._lock, self._transaction() as conn:
            row = conn.execute("SELECT * FROM policy_versions ORDER BY version DESC LIMIT 1").fetchone()
            active = None if row is None else _version(row)
            active_number = active.version if active is not None else 0
            if base_version is not None and base_version != active_number:
                raise PolicyConflict(f"version {active_number} was saved since version {base_version}, on which "
                                     "this change was made; load the active version and make the change again")
            if active is not None and active.text == text:
                what = f"version {rolled_back_from}'s document" if rolled_back_from is not None else "the document"
                raise PolicyUnchanged(f"{what} is the active policy already (version {active.version}); "
                                     "nothing was saved")
            saved = PolicyVersion(active_number + 1, time.time(), author, comment, text, _sha256(text),
                                  rolled_back_from)
            conn.execute("INSERT INTO policy_versions (version, created_at, author, comment, text, sha256, "
                         "rolled_back_from) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (saved.version, saved.created_at, saved.author, saved.comment, saved.text, saved.sha256,
                          saved.rolled_back_from))
        return saved

    # --- internals ---

    def _db(self) -> sqlite3.Connection | PgConnection:
        if self._conn is None:
            raise ValueError(f"policy store {self.path} is closed")
        return self._conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection | PgConnection]:
        conn = self._db()
        if isinstance(conn, PgConnection):
            with conn:  # saves take turns: the lock is held until the transaction ends
                conn.execute("SELECT pg_advisory_xact_lock(?)", (_SAVE_LOCK,))
                yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _migrate(self, conn: sqlite3.Connection, created: bool) -> None:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        if not (created or app_id == APPLICATION_ID or (app_id == 0 and tables == 0)):
            raise PolicyStoreProblem(f"policy store {self.path}: a database of another program "
                                     f"(application_id {app_id}); left as it is")
        if version > SCHEMA_VERSION:
            raise PolicyStoreProblem(f"policy store {self.path}: schema version {version} is newer than this "
                                     f"fastrec understands ({SCHEMA_VERSION}); upgrade fastrec")
        for step in range(version, SCHEMA_VERSION):
            with self._transaction() as tx:
                # re-read inside the lock: another process may have taken this step meanwhile
                if tx.execute("PRAGMA user_version").fetchone()[0] != step:
                    continue
                for statement in _statements(_MIGRATIONS[step]):
                    tx.execute(statement)
                tx.execute(f"PRAGMA user_version = {step + 1}")
                tx.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        # WAL: readers (recorders) never block a save; it stays set in the file
        for attempt in range(50):
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    conn.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError:  # another process is switching it at this moment
                if attempt == 49:
                    raise
                time.sleep(0.02)


def _statements(script: str) -> list[str]:
    """The statements of a migration step (a trigger's body holds ``;`` of its own)."""
    out: list[str] = []
    current = ""
    for piece in script.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if current.strip(" \n;"):
                out.append(current.strip())
            current = ""
    return out


def _version(row: tuple[object, ...]) -> PolicyVersion:
    version, created_at, author, comment, text, sha256, rolled_back_from = row
    return PolicyVersion(int(version), float(created_at), str(author), str(comment),  # type: ignore[arg-type]
                         str(text), str(sha256), None if rolled_back_from is None else int(rolled_back_from))  # type: ignore[arg-type]
