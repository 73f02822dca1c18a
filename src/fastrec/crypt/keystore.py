"""Session keys: one random key per session, wrapped by a KEK, kept apart from recordings.

Each segment's data key is wrapped (in the segment's header) by its session's key; the
session key is wrapped by the active KEK in a small record in the key store directory
(FASTREC_ENCRYPTION_KEYSTORE, default ``<recordings>/.keys``, 0700):
``<sha256(session id)>.key.json``.  The recordings themselves - on disk, uploaded to the
object store, in backups - hold no key that the KEK alone opens.

Crypto-shredding (:meth:`SessionKeyStore.shred`) destroys a session's record: its bytes
are overwritten with random data and fsync'ed, then the file is unlinked and the directory
fsync'ed, and a tombstone (who, when; no key material) takes its place.  From then on no
KEK, no copy of the recordings, and no backup of the recordings can decrypt the session -
provided the key store itself is not copied elsewhere (keep it out of backups, or back it up
only where shredding can reach: see the README).  Shredding is irreversible by design.

Invariants: a record is created once (O_EXCL, 0600, never through a link); a racing second
writer reads the first one's record; the key's bytes never reach logs or messages.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fastrec.crypt.keys import KEY_BYTES, KeyError_, KeyRing
from fastrec.storage.files import ensure_private_dir, fsync_dir, read_private, write_new_private

__all__ = ["SessionKey", "SessionKeyStore", "Shredded", "ShredRecord"]

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
class ShredRecord:
    """What shredding left: the tombstone's content."""

    session_id: str
    shredded_at: str
    by: str
    kek_id: str


def _context(session_id: str) -> bytes:
    return b"fastrec-session-key\0" + session_id.encode("utf-8")


class SessionKeyStore:
    """The session keys under ``directory``, wrapped by ``ring``'s keys; thread-safe."""

    def __init__(self, directory: str | os.PathLike[str], ring: KeyRing) -> None:
        self.directory = Path(directory)
        self.ring = ring
        self._lock = threading.Lock()
        self._cache: dict[str, SessionKey] = {}

    def _name(self, session_id: str) -> str:
        return hashlib.sha256(session_id.encode("utf-8")).hexdigest()

    def record_path(self, session_id: str) -> Path:
        return self.directory / (self._name(session_id) + KEY_SUFFIX)

    def tombstone_path(self, session_id: str) -> Path:
        return self.directory / (self._name(session_id) + TOMBSTONE_SUFFIX)

    def for_writing(self, session_id: str) -> SessionKey:
        """The session's key, created (wrapped by the active KEK) when it has none yet.
        :class:`Shredded` when it was shredded: a shredded session is not continued."""
        with self._lock:
            try:
                return self._load(session_id)
            except FileNotFoundError:
                pass
            ensure_private_dir(self.directory)
            kek = self.ring.active
            secret = secrets.token_bytes(KEY_BYTES)
            record = {"version": 1, "session_id": session_id, "kek_id": kek.key_id,
                      "wrapped": base64.b64encode(kek.wrap(secret, _context(session_id))).decode(),
                      "created": datetime.now(UTC).isoformat()}
            try:
                write_new_private(self.record_path(session_id), json.dumps(record).encode())
            except FileExistsError:
                return self._load(session_id)  # another writer made it first: use theirs
            fsync_dir(self.directory)
            key = SessionKey(session_id, kek.key_id, secret)
            self._cache[session_id] = key
            return key

    def get(self, session_id: str) -> SessionKey:
        """The session's key; :class:`Shredded`, FileNotFoundError (no record), or
        :class:`KeyError_` (its KEK is not in the ring) else."""
        with self._lock:
            return self._load(session_id)

    def _load(self, session_id: str) -> SessionKey:
        path = self.record_path(session_id)
        cached = self._cache.get(session_id)
        # a shred by another process (the CLI while the admin server runs) takes effect at
        # once: the cached key is used only while its record is still there
        if cached is not None and os.path.lexists(path):
            return cached
        self._cache.pop(session_id, None)
        try:
            raw = json.loads(read_private(path, _MAX_RECORD))
        except FileNotFoundError:
            tomb = self.shred_record(session_id)
            if tomb is not None:
                raise Shredded(f"session {session_id!r}: its key was crypto-shredded at {tomb.shredded_at} "
                               f"by {tomb.by}; its recordings cannot be decrypted") from None
            raise FileNotFoundError(f"session {session_id!r}: no key in {self.directory} "
                                    "(FASTREC_ENCRYPTION_KEYSTORE)") from None
        except ValueError:
            raise KeyError_(f"{path}: not a session key record") from None
        if raw.get("session_id") != session_id:
            raise KeyError_(f"{path}: a record for another session")
        kek = self.ring.get(str(raw["kek_id"]))
        secret = kek.unwrap(base64.b64decode(raw["wrapped"]), _context(session_id))
        key = SessionKey(session_id, kek.key_id, secret)
        self._cache[session_id] = key
        return key

    def shred_record(self, session_id: str) -> ShredRecord | None:
        """The tombstone of a shredded session, or None."""
        try:
            raw = json.loads(read_private(self.tombstone_path(session_id), _MAX_RECORD))
        except (FileNotFoundError, ValueError):
            return None
        return ShredRecord(str(raw.get("session_id")), str(raw.get("shredded_at")), str(raw.get("by")),
                           str(raw.get("kek_id")))

    def shred(self, session_id: str, by: str) -> ShredRecord:
        """Destroy the session's key (see the module): FileNotFoundError when it has none,
        :class:`Shredded` when it was shredded already."""
        with self._lock:
            self._cache.pop(session_id, None)
            path = self.record_path(session_id)
            try:
                raw = json.loads(read_private(path, _MAX_RECORD))
            except FileNotFoundError:
                tomb = self.shred_record(session_id)
                if tomb is not None:
                    raise Shredded(f"session {session_id!r}: shredded already at {tomb.shredded_at} "
                                   f"by {tomb.by}") from None
                raise FileNotFoundError(f"session {session_id!r}: no key in {self.directory}") from None
            except ValueError:
                raw = {}
            record = ShredRecord(session_id, datetime.now(UTC).isoformat(), by, str(raw.get("kek_id", "")))
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
