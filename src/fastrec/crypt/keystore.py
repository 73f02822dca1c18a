"""Session keys: one random key per session, wrapped by a KEK, kept apart from recordings.

Each segment's data key is wrapped (in the segment's header) by its session's key; the
session key is wrapped by the active KEK in the key store.  The recordings themselves - on
disk, uploaded to the object store, in backups - hold no key that the KEK alone opens.

One interface, :class:`KeyStore` (what :class:`~fastrec.crypt.context.Encryption` uses),
two places (:func:`keystore_from_settings` picks):

- :class:`SessionKeyStore`: a directory of this machine (FASTREC_ENCRYPTION_KEYSTORE,
  default ``<recordings>/.keys``, 0700), one ``<sha256(session id)>.key.json`` per session;
- :class:`DatabaseKeyStore`: the table ``fastrec_session_keys`` of the fleet's PostgreSQL
  database (FASTREC_DATABASE_URL, migrated like every other store's tables), so an admin
  server reads the keys of every gateway's recordings.  Sessions it has no record of are
  looked up in the machine's directory when there is one (recorded before the URL was
  set: never made unreadable by setting it); new keys always go to the database.

Crypto-shredding (:meth:`KeyStore.shred`) destroys a session's wrapped key and leaves a
tombstone (who, when; no key material): in the directory, the record's bytes are
overwritten with random data and fsync'ed, then unlinked; in the database the row's key
is set to NULL in one transaction and the table vacuumed.  From then on no KEK, no copy of
the recordings and no backup of them can decrypt the session - provided the key store
itself is not copied elsewhere (keep it, or the database's backups, where shredding can
reach: see the README).  Shredding is irreversible by design.

Invariants: a record is created once (O_EXCL, 0600, never through a link / a primary key),
and a racing second writer reads the first one's record; a shred by another process takes
effect at once (the record is looked up on every read; only its unwrapped key is cached);
the key's bytes never reach logs or messages.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastrec.crypt.keys import KEY_BYTES, KeyError_, KeyRing
from fastrec.storage.files import ensure_private_dir, fsync_dir, read_private, write_new_private

if TYPE_CHECKING:
    from fastrec.storage.database import PgConnection

__all__ = ["KEYSTORE_DIR", "DatabaseKeyStore", "KeyStore", "SessionKey", "SessionKeyStore", "Shredded", "ShredRecord",
           "StoredKey", "keystore_from_settings"]

KEYSTORE_DIR = ".keys"  # default key store: inside the recordings directory, never uploaded
_MAX_RECORD = 64 * 1024
KEY_SUFFIX = ".key.json"
TOMBSTONE_SUFFIX = ".shredded.json"


class Shredded(KeyError_):
    """The session's key was destroyed (crypto-shredded): its recordings are unrecoverable."""


@dataclass(frozen=True, slots=True)
class SessionKey:
    """A session's key in memory; ``kek_id`` names the KEK that wraps it in the store."""

    session_id: str
    kek_id: str
    secret: bytes

    def __repr__(self) -> str:  # never the key
        return f"SessionKey(session_id={self.session_id!r}, kek_id={self.kek_id!r})"


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A session key as stored: the KEK's id and the wrapped key (base64)."""

    kek_id: str
    wrapped: str


@dataclass(frozen=True, slots=True)
class ShredRecord:
    """What shredding left: the tombstone's content."""

    session_id: str
    shredded_at: str
    by: str
    kek_id: str


def _context(session_id: str) -> bytes:
    return b"fastrec-session-key\0" + session_id.encode("utf-8")


class KeyStore(ABC):
    """Where the session keys are, wrapped by ``ring``'s keys; thread-safe.  Subclasses
    store and delete records; wrapping, caching and the shredding rules are here."""

    def __init__(self, ring: KeyRing, fallback: KeyStore | None = None) -> None:
        self.ring = ring
        # an earlier store, read (and shredded) for the sessions this one has no record of:
        # the directory of a gateway that recorded before FASTREC_DATABASE_URL was set
        self.fallback = fallback
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[StoredKey, SessionKey]] = {}

    # -- what a place implements --------------------------------------------------------
    @property
    @abstractmethod
    def location(self) -> str:
        """Where the keys are, for messages (the setting that names it)."""

    @abstractmethod
    def _read(self, session_id: str) -> StoredKey | None:
        """The session's live record (None: none, or shredded); KeyError_ when unreadable."""

    @abstractmethod
    def _insert(self, session_id: str, stored: StoredKey) -> bool:
        """Store a new record; False when the session has one (or a tombstone) already."""

    @abstractmethod
    def shred_record(self, session_id: str) -> ShredRecord | None:
        """The tombstone of a shredded session, or None."""

    @abstractmethod
    def _destroy(self, session_id: str, by: str) -> ShredRecord | None:
        """Destroy the live record and leave the tombstone; None when there is no live record."""

    def close(self) -> None:
        """Release what the store holds open (a database connection); it opens again on use."""

    # -- the interface ------------------------------------------------------------------
    def for_writing(self, session_id: str) -> SessionKey:
        """The session's key, created (wrapped by the active KEK) when it has none yet.
        :class:`Shredded` when it was shredded: a shredded session is not continued."""
        with self._lock:
            try:
                return self._load(session_id)
            except FileNotFoundError:
                pass
            kek = self.ring.active
            secret = secrets.token_bytes(KEY_BYTES)
            stored = StoredKey(kek.key_id, base64.b64encode(kek.wrap(secret, _context(session_id))).decode())
            if not self._insert(session_id, stored):
                return self._load(session_id)  # another writer made it first: use theirs
            key = SessionKey(session_id, kek.key_id, secret)
            self._cache[session_id] = (stored, key)
            return key

    def get(self, session_id: str) -> SessionKey:
        """The session's key; :class:`Shredded`, FileNotFoundError (no record), or
        :class:`KeyError_` (its KEK is not in the ring) else."""
        with self._lock:
            return self._load(session_id)

    def _load(self, session_id: str) -> SessionKey:
        stored = self._read(session_id)
        if stored is None:
            self._cache.pop(session_id, None)
            tomb = self.shred_record(session_id)
            if tomb is not None:
                raise Shredded(f"session {session_id!r}: its key was crypto-shredded at {tomb.shredded_at} "
                               f"by {tomb.by}; its recordings cannot be decrypted")
            if self.fallback is not None:
                return self.fallback.get(session_id)
            raise FileNotFoundError(f"session {session_id!r}: no key in {self.location}")
        cached = self._cache.get(session_id)
        if cached is not None and cached[0] == stored:  # unwrapped once (a KMS is called once per session)
            return cached[1]
        kek = self.ring.get(stored.kek_id)
        try:
            wrapped = base64.b64decode(stored.wrapped, validate=True)
        except ValueError:
            raise KeyError_(f"session {session_id!r}: the record in {self.location} is not base64") from None
        key = SessionKey(session_id, kek.key_id, kek.unwrap(wrapped, _context(session_id)))
        self._cache[session_id] = (stored, key)
        return key

    def shred(self, session_id: str, by: str) -> ShredRecord:
        """Destroy the session's key (see the module): FileNotFoundError when it has none,
        :class:`Shredded` when it was shredded already."""
        with self._lock:
            self._cache.pop(session_id, None)
            tomb = self.shred_record(session_id)
            if tomb is not None:
                raise Shredded(f"session {session_id!r}: shredded already at {tomb.shredded_at} by {tomb.by}")
            record = self._destroy(session_id, by)
            if record is None and self.fallback is not None:
                return self.fallback.shred(session_id, by)
            if record is None:
                raise FileNotFoundError(f"session {session_id!r}: no key in {self.location}")
            return record


class SessionKeyStore(KeyStore):
    """The session keys in ``directory`` of this machine (see the module)."""

    def __init__(self, directory: str | os.PathLike[str], ring: KeyRing) -> None:
        super().__init__(ring)
        self.directory = Path(directory)

    @property
    def location(self) -> str:
        return f"{self.directory} (FASTREC_ENCRYPTION_KEYSTORE)"

    def _name(self, session_id: str) -> str:
        return hashlib.sha256(session_id.encode("utf-8")).hexdigest()

    def record_path(self, session_id: str) -> Path:
        return self.directory / (self._name(session_id) + KEY_SUFFIX)

    def tombstone_path(self, session_id: str) -> Path:
        return self.directory / (self._name(session_id) + TOMBSTONE_SUFFIX)

    @staticmethod
    def _json(path: Path) -> Any:
        """The JSON at ``path`` (never through a link); None when there is no file,
        ValueError when it is not JSON."""
        try:
            return json.loads(read_private(path, _MAX_RECORD))
        except FileNotFoundError:
            return None

    def _read(self, session_id: str) -> StoredKey | None:
        path = self.record_path(session_id)
        try:
            raw = self._json(path)
        except ValueError:
            raise KeyError_(f"{path}: not a session key record") from None
        if raw is None:
            return None
        if not isinstance(raw, dict) or raw.get("session_id") != session_id:
            raise KeyError_(f"{path}: a record for another session")
        return StoredKey(str(raw.get("kek_id")), str(raw.get("wrapped")))

    def _insert(self, session_id: str, stored: StoredKey) -> bool:
        ensure_private_dir(self.directory)
        record = {"version": 1, "session_id": session_id, "kek_id": stored.kek_id, "wrapped": stored.wrapped,
                  "created": datetime.now(UTC).isoformat()}
        try:
            write_new_private(self.record_path(session_id), json.dumps(record).encode())
        except FileExistsError:
            return False
        fsync_dir(self.directory)
        return True

    def shred_record(self, session_id: str) -> ShredRecord | None:
        try:
            raw = json.loads(read_private(self.tombstone_path(session_id), _MAX_RECORD))
        except (FileNotFoundError, ValueError):
            return None
        return ShredRecord(str(raw.get("session_id")), str(raw.get("shredded_at")), str(raw.get("by")),
                           str(raw.get("kek_id")))

    def _destroy(self, session_id: str, by: str) -> ShredRecord | None:
        path = self.record_path(session_id)
        try:
            raw = self._json(path)
        except ValueError:
            raw = {}  # a damaged record is destroyed all the same
        if raw is None:
            return None
        record = ShredRecord(session_id, datetime.now(UTC).isoformat(), by,
                             str(raw.get("kek_id", "")) if isinstance(raw, dict) else "")
        # overwrite in place first: the unlinked inode's blocks then hold no wrapped key
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            size = os.fstat(fd).st_size
            os.pwrite(fd, secrets.token_bytes(size), 0)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.unlink(path)
        write_new_private(self.tombstone_path(session_id), json.dumps(
            {"session_id": record.session_id, "shredded_at": record.shredded_at, "by": record.by,
             "kek_id": record.kek_id}).encode())
        fsync_dir(self.directory)
        return record


TABLE = "fastrec_session_keys"
PG_COMPONENT = "keystore"
# Step N brings the table from version N-1 to N.  Never edit a step once released.
PG_MIGRATIONS: tuple[str, ...] = (
    f"""
    CREATE TABLE {TABLE} (
        session_id  TEXT PRIMARY KEY,
        kek_id      TEXT NOT NULL,
        wrapped     TEXT,              -- base64 of the wrapped session key; NULL once shredded
        created_at  DOUBLE PRECISION NOT NULL,
        shredded_at TEXT,
        shredded_by TEXT
    );
    """,
)


class DatabaseKeyStore(KeyStore):
    """The session keys in the fleet's PostgreSQL database at ``url`` (see the module)."""

    def __init__(self, url: str, ring: KeyRing, fallback: KeyStore | None = None) -> None:
        super().__init__(ring, fallback)
        from fastrec.storage.database import connect_migrated, shown_url

        self.url = url
        self._shown = shown_url(url)
        self._open: PgConnection | None = connect_migrated(url, PG_COMPONENT, PG_MIGRATIONS)

    @property
    def location(self) -> str:
        return f"table {TABLE} of {self._shown} (FASTREC_DATABASE_URL)"

    @property
    def _conn(self) -> PgConnection:
        """The connection, opened again after :meth:`close` (a recorder started again)."""
        if self._open is None:
            from fastrec.storage.database import connect_migrated

            self._open = connect_migrated(self.url, PG_COMPONENT, PG_MIGRATIONS)
        return self._open

    def close(self) -> None:
        if self._open is not None:
            self._open.close()
            self._open = None
        if self.fallback is not None:
            self.fallback.close()

    def _row(self, session_id: str) -> Any:
        return self._conn.execute(f"SELECT kek_id, wrapped, shredded_at, shredded_by FROM {TABLE} "
                                  "WHERE session_id = ?", (session_id,)).fetchone()

    def _read(self, session_id: str) -> StoredKey | None:
        row = self._row(session_id)
        return None if row is None or row["wrapped"] is None else StoredKey(row["kek_id"], row["wrapped"])

    def _insert(self, session_id: str, stored: StoredKey) -> bool:
        with self._conn:
            cursor = self._conn.execute(
                f"INSERT INTO {TABLE} (session_id, kek_id, wrapped, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (session_id) DO NOTHING", (session_id, stored.kek_id, stored.wrapped, time.time()))
            return bool(cursor.rowcount)

    def shred_record(self, session_id: str) -> ShredRecord | None:
        row = self._row(session_id)
        if row is None or row["wrapped"] is not None:
            return None
        return ShredRecord(session_id, str(row["shredded_at"]), str(row["shredded_by"]), str(row["kek_id"]))

    def _destroy(self, session_id: str, by: str) -> ShredRecord | None:
        record = None
        with self._conn:
            row = self._conn.execute(f"SELECT kek_id FROM {TABLE} WHERE session_id = ? AND wrapped IS NOT NULL "
                                     "FOR UPDATE", (session_id,)).fetchone()
            if row is not None:
                record = ShredRecord(session_id, datetime.now(UTC).isoformat(), by, str(row["kek_id"]))
                self._conn.execute(f"UPDATE {TABLE} SET wrapped = NULL, shredded_at = ?, shredded_by = ? "
                                   "WHERE session_id = ?", (record.shredded_at, by, session_id))
        if record is not None:
            try:  # the old row version (with the key) is gone from the table's pages once vacuumed
                self._conn.execute(f"VACUUM {TABLE}")
            except Exception:  # noqa: BLE001 - not the table's owner: autovacuum gets to it
                pass
        return record


def keystore_from_settings(settings: Any, directory: str | os.PathLike[str], ring: KeyRing) -> KeyStore:
    """The key store recorder or server settings name: the database's table when
    FASTREC_DATABASE_URL names PostgreSQL, else the directory FASTREC_ENCRYPTION_KEYSTORE
    (default ``<directory>/.keys``).  The database's store falls back on that directory,
    when there is one, for sessions recorded before the URL was set."""
    from fastrec.storage.database import is_postgres

    url = getattr(settings, "database_url", None)
    folder = Path(getattr(settings, "encryption_keystore", None) or Path(directory) / KEYSTORE_DIR)
    if is_postgres(url):
        return DatabaseKeyStore(url, ring, SessionKeyStore(folder, ring) if folder.is_dir() else None)
    return SessionKeyStore(folder, ring)

