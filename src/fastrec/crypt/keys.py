"""Key-encryption keys (KEKs): the outermost layer of the envelope.

Key hierarchy: a KEK wraps each session's key (:mod:`fastrec.crypt.keystore`), which wraps
each segment's random data key (:mod:`fastrec.crypt.container`).  A KMS or an HSM plugs in
by implementing :class:`KeyEncryptionKey`: one ``wrap`` per session, one ``unwrap`` per
session a process reads - never one per chunk.

The embedded implementation, :class:`LocalKek`, wraps with AES-256-GCM.  A :class:`KeyRing`
holds every KEK still needed to read old recordings; the last one is the active key that
wraps new session keys, so rotation (``python -m fastrec keys rotate-encryption``) never
re-encrypts anything: a wrapped key names its KEK's id.

Key file (FASTREC_ENCRYPTION_KEY_FILE): UTF-8 lines ``<key id> <base64 of 32 bytes>``,
``#`` comments; the last key is the active one.  It must be a regular file (no link
followed) that only its owner can read or write (0600 or 0400) - a key readable by others
is refused, naming the file and its mode.  FASTREC_ENCRYPTION_KEY (base64 of 32 bytes) is
a ring of one key whose id is derived from the key (a fingerprint, never the key itself).

Invariants: key material never reaches logs, metadata, reprs or error messages; only ids do.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import secrets
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from fastrec.storage.files import atomic_writer, read_private

__all__ = ["KEY_BYTES", "KeyEncryptionKey", "KeyError_", "KeyRing", "LocalKek", "add_key_to_file",
           "load_key_ring", "new_key_id"]

KEY_BYTES = 32
NONCE_BYTES = 12
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_MAX_KEY_FILE = 1024 * 1024


class KeyError_(ValueError):  # noqa: N801 - KeyError is the builtin for mappings
    """A key that cannot be used: the message names the key id or file, never key bytes."""


@runtime_checkable
class KeyEncryptionKey(Protocol):
    """Wraps and unwraps keys; ``context`` is bound to the wrapped key (AAD): a wrapped key
    moved to another context does not unwrap."""

    @property
    def key_id(self) -> str: ...

    def wrap(self, key: bytes, context: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        """The key; :class:`KeyError_` when ``wrapped`` was not made by this KEK for ``context``."""
        ...


@dataclass(frozen=True, slots=True)
class LocalKek:
    """A 32-byte KEK held in this process; wraps with AES-256-GCM (random 96-bit nonce)."""

    key_id: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not _ID.match(self.key_id):
            raise KeyError_(f"key id {self.key_id!r}: allowed are 1-64 letters, digits, '.', '_', '-'")
        if len(self.secret) != KEY_BYTES:
            raise KeyError_(f"key {self.key_id}: {len(self.secret)} bytes, a KEK has {KEY_BYTES}")

    def wrap(self, key: bytes, context: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(NONCE_BYTES)
        return nonce + AESGCM(self.secret).encrypt(nonce, key, self._aad(context))

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            return AESGCM(self.secret).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], self._aad(context))
        except (InvalidTag, ValueError):
            raise KeyError_(f"a key wrapped for key id {self.key_id} does not unwrap with it "
                            "(wrong key, or the wrapped key was altered)") from None

    def _aad(self, context: bytes) -> bytes:
        return b"fastrec-kek-v1\0" + self.key_id.encode() + b"\0" + context


@dataclass(frozen=True, slots=True)
class KeyRing:
    """Every KEK that may be needed to read; ``keys[-1]`` is the active one."""

    keys: tuple[KeyEncryptionKey, ...]
    source: str = ""  # where the ring came from, for messages (a path or a variable name)

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyError_(f"{self.source or 'key ring'}: holds no key")
        ids = [k.key_id for k in self.keys]
        if len(set(ids)) != len(ids):
            raise KeyError_(f"{self.source or 'key ring'}: key ids repeat ({', '.join(ids)})")

    @property
    def active(self) -> KeyEncryptionKey:
        return self.keys[-1]

    def get(self, key_id: str) -> KeyEncryptionKey:
        for key in self.keys:
            if key.key_id == key_id:
                return key
        raise KeyError_(f"key id {key_id!r} is not in {self.source or 'the key ring'} "
                        f"(it holds {', '.join(k.key_id for k in self.keys)}); keep retired keys "
                        "in the key file to read older recordings")


def new_key_id() -> str:
    """A fresh, sortable key id: ``kek-YYYYMMDD-<random>``."""
    return f"kek-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4)}"


def _fingerprint(secret: bytes) -> str:
    return "env-" + hashlib.sha256(b"fastrec key id\0" + secret).hexdigest()[:16]


def _decode(text: str, where: str) -> bytes:
    try:
        secret = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyError_(f"{where}: not base64 (allowed: base64 of {KEY_BYTES} random bytes)") from None
    if len(secret) != KEY_BYTES:
        raise KeyError_(f"{where}: {len(secret)} bytes once decoded, allowed: exactly {KEY_BYTES}")
    return secret


def _check_private(path: Path) -> None:
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        raise KeyError_(f"FASTREC_ENCRYPTION_KEY_FILE={path}: not a regular file (links are not followed)")
    if os.name == "posix" and info.st_mode & 0o077:
        raise KeyError_(f"FASTREC_ENCRYPTION_KEY_FILE={path}: mode {stat.S_IMODE(info.st_mode):04o}; "
                        "allowed: readable by its owner only (chmod 600)")


def _parse_file(path: Path) -> list[LocalKek]:
    _check_private(path)
    text = read_private(path, _MAX_KEY_FILE).decode("utf-8")
    keys: list[LocalKek] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        where = f"FASTREC_ENCRYPTION_KEY_FILE={path} line {number}"
        if len(parts) != 2:
            raise KeyError_(f"{where}: expected '<key id> <base64 key>'")
        keys.append(LocalKek(parts[0], _decode(parts[1], where)))
    return keys


def load_key_ring(key_file: str | os.PathLike[str] | None, key_base64: str | None) -> KeyRing | None:
    """The ring the settings name, or None when encryption is off (neither is set).  With
    both, the file's keys come first and the variable's key is the active one."""
    keys: list[KeyEncryptionKey] = []
    sources: list[str] = []
    if key_file:
        keys.extend(_parse_file(Path(key_file)))
        sources.append(str(key_file))
    if key_base64:
        secret = _decode(key_base64, "FASTREC_ENCRYPTION_KEY")
        keys.append(LocalKek(_fingerprint(secret), secret))
        sources.append("FASTREC_ENCRYPTION_KEY")
    if not sources:
        return None
    return KeyRing(tuple(keys), " + ".join(sources))


def add_key_to_file(path: str | os.PathLike[str], *, create: bool) -> str:
    """Append a new random key to the key file (which becomes the active key) and return
    its id.  ``create``: the file must not exist yet (init); else it must (rotation).  The
    file is replaced atomically, 0600; old keys stay (they read older recordings)."""
    target = Path(path)
    existing = ""
    if create:
        if os.path.lexists(target):
            raise FileExistsError(f"{target}: exists already; rotate with 'keys rotate-encryption'")
    else:
        _parse_file(target)  # a broken or unsafe file is not extended
        existing = read_private(target, _MAX_KEY_FILE).decode("utf-8")
        if existing and not existing.endswith("\n"):
            existing += "\n"
    key_id = new_key_id()
    line = f"{key_id} {base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}\n"
    header = "" if existing else "# fastrec key-encryption keys: '<id> <base64>'; the last is active\n"
    with atomic_writer(target, "w") as handle:
        handle.write(header + existing + line)
    return key_id
