"""Signing keys for the integrity chain: HMAC-SHA256 over every metadata file and tombstone.

The SHA-256 chain (:mod:`fastrec.storage.integrity`) proves that the videos match their
metadata and that the parts follow each other, but anyone who can write the recordings
directory can rewrite *every* metadata file of a session consistently.  A signature made
with a key kept apart from the recordings closes that gap: without the key, a rewritten
metadata file (or a forged deletion record) does not verify.

Why HMAC-SHA256 and not Ed25519: it needs nothing beyond the standard library, costs
microseconds per metadata write, and a fleet already distributes secrets (database and S3
credentials) to the gateways and the admin server, which both need the key: the gateways
to sign, the admin server to verify.  The price is that whoever can verify can also sign;
a deployment whose verifiers must not be trusted with that would need Ed25519 (private key
on the gateways, public key for verifiers) behind this same :class:`KeyRing` interface.

Where the key comes from (never from the recordings directory or the object store):

- ``FASTREC_SIGNING_KEY_FILE``: a key ring file, created with ``python -m fastrec keys
  init`` (0600; refused when group or others may read it).  ``keys rotate`` adds a new key
  and makes it the one that signs; old keys stay in the ring, so old recordings verify.
- ``FASTREC_SIGNING_KEY``: one key, 64 hex digits or more (e.g. from a secret store).

Each key's id is derived from the key (:func:`key_id`), recorded next to every signature,
so a verifier picks the right key of its ring and the same id can never name two keys.

Invariants: a key's bytes never appear in a message, a log line or metadata; signatures
are compared in constant time; what is signed is :func:`canonical` JSON (sorted keys, no
spaces) behind a per-kind prefix, so a metadata signature can never pass as a tombstone's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fastrec.storage.files import read_private, write_new_private, write_private

__all__ = [
    "ALGORITHM",
    "FROM_ENV",
    "KEY_ENV",
    "KEY_FILE_ENV",
    "KeyRing",
    "Signature",
    "SigningKeyError",
    "canonical",
    "create_keyring_file",
    "key_id",
    "keyring_from_env",
    "resolve_keys",
    "rotate_keyring_file",
]

ALGORITHM = "hmac-sha256"
KEY_FILE_ENV = "FASTREC_SIGNING_KEY_FILE"
KEY_ENV = "FASTREC_SIGNING_KEY"
KEY_BYTES = 32
_MAX_RING_BYTES = 1024 * 1024
SignedKind = Literal["metadata", "deletion"]
#: the default ``keys`` of the functions that sign or verify: the ring the environment configures
FROM_ENV: Any = object()


class SigningKeyError(ValueError):
    """The signing key configuration cannot be used; the message names the variable, the
    value (never a key's bytes) and what is allowed."""


class Signature(BaseModel):
    """A signature as recorded in a metadata file or a deletion record."""

    model_config = ConfigDict(extra="allow", defer_build=True)  # validators built on first use, not at import (issue 14)

    algorithm: str = Field(ALGORITHM, max_length=64)
    key_id: str = Field(max_length=128)
    value: str = Field(max_length=512)


def key_id(key: bytes) -> str:
    """The id of ``key``: 16 hex digits of a SHA-256 over it (not enough to guess the key)."""
    return "k" + hashlib.sha256(b"fastrec signing key id\0" + key).hexdigest()[:16]


def canonical(content: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers: JSON with sorted keys and no spaces (ASCII)."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii")


def _message(kind: SignedKind, content: Mapping[str, Any]) -> bytes:
    return f"fastrec {kind} v1\n".encode("ascii") + canonical(content)


@dataclass(frozen=True, slots=True)
class KeyRing:
    """Keys by id; ``active`` is the one that signs, the others only verify."""

    keys: Mapping[str, bytes]
    active: str
    source: str  # where the ring came from, for messages (a variable and a path, no key)

    def sign(self, kind: SignedKind, content: Mapping[str, Any]) -> Signature:
        """The active key's signature over ``content`` of ``kind``."""
        mac = hmac.new(self.keys[self.active], _message(kind, content), hashlib.sha256).hexdigest()
        return Signature(algorithm=ALGORITHM, key_id=self.active, value=mac)

    def check(self, kind: SignedKind, content: Mapping[str, Any], signature: Signature | None) -> str | None:
        """None when ``signature`` is this ring's over ``content``, else the problem."""
        if signature is None:
            return "not signed"
        if signature.algorithm != ALGORITHM:
            return f"signed with algorithm {signature.algorithm!r}; allowed: {ALGORITHM}"
        key = self.keys.get(signature.key_id)
        if key is None:
            return f"signed with key {signature.key_id!r}, which is not in the key ring ({self.source})"
        expected = hmac.new(key, _message(kind, content), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.value):
            return f"signature (key {signature.key_id}) does not match the content: it was changed after signing"
        return None


class _RingFile(BaseModel):
    """The key ring file: ``{"format": 1, "active": id, "keys": {id: hex}}``."""

    model_config = ConfigDict(defer_build=True)  # validators built on first use, not at import (issue 14)
    format: Literal[1] = 1
    active: str
    keys: dict[str, str]


def _key_from_hex(text: str, where: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise SigningKeyError(f"{where}: not hexadecimal; allowed: {2 * KEY_BYTES} or more hex digits") from None
    if len(key) < KEY_BYTES:
        raise SigningKeyError(f"{where}: {len(key)} bytes; allowed: at least {KEY_BYTES} bytes "
                              f"({2 * KEY_BYTES} hex digits)")
    return key


def _read_ring(path: Path) -> KeyRing:
    where = f"{KEY_FILE_ENV}={path}"
    try:
        info = path.lstat()
    except OSError as exc:
        raise SigningKeyError(f"{where}: cannot be read ({exc.strerror or exc}); "
                              f"create it with `python -m fastrec keys init`") from None
    if not stat.S_ISREG(info.st_mode):
        raise SigningKeyError(f"{where}: not a regular file (links are not followed)")
    if os.name == "posix" and info.st_mode & 0o077:
        raise SigningKeyError(f"{where}: mode {stat.S_IMODE(info.st_mode):04o} lets others read the keys; "
                              f"allowed: 0600 (chmod 600 {path})")
    try:
        ring = _RingFile.model_validate_json(read_private(path, _MAX_RING_BYTES))
    except (OSError, ValidationError, ValueError) as exc:
        raise SigningKeyError(f"{where}: not a key ring file ({str(exc).splitlines()[0]})") from None
    keys: dict[str, bytes] = {}
    for kid, text in ring.keys.items():
        key = _key_from_hex(text, f"{where} key {kid!r}")
        if key_id(key) != kid:
            raise SigningKeyError(f"{where}: key {kid!r} does not have that id (its id is {key_id(key)})")
        keys[kid] = key
    if ring.active not in keys:
        raise SigningKeyError(f"{where}: active key {ring.active!r} is not in the file; allowed: {sorted(keys)}")
    return KeyRing(keys, ring.active, where)


def keyring_from_env(environ: Mapping[str, str] | None = None) -> KeyRing | None:
    """The key ring configured by :data:`KEY_FILE_ENV` or :data:`KEY_ENV`, or None when
    neither is set (signatures are then neither written nor checked).  Raises
    :class:`SigningKeyError` for a configuration that cannot be used."""
    env = os.environ if environ is None else environ
    path, text = env.get(KEY_FILE_ENV) or None, env.get(KEY_ENV) or None
    if path and text:
        raise SigningKeyError(f"both {KEY_FILE_ENV} and {KEY_ENV} are set; allowed: one of them")
    if path:
        return _read_ring(Path(path))
    if text:
        key = _key_from_hex(text, f"{KEY_ENV} (value hidden)")
        kid = key_id(key)
        return KeyRing({kid: key}, kid, KEY_ENV)
    return None


def resolve_keys(keys: KeyRing | None) -> KeyRing | None:
    """``keys`` itself, or for :data:`FROM_ENV` the ring :func:`keyring_from_env` configures."""
    return keyring_from_env() if keys is FROM_ENV else keys


def _write_ring(path: Path, keys: Mapping[str, bytes], active: str, *, new: bool) -> KeyRing:
    body = _RingFile(active=active, keys={kid: key.hex() for kid, key in keys.items()})
    data = (body.model_dump_json(indent=2) + "\n").encode("ascii")
    (write_new_private if new else write_private)(path, data)
    return KeyRing(dict(keys), active, f"{KEY_FILE_ENV}={path}")


def create_keyring_file(path: str | os.PathLike[str]) -> KeyRing:
    """A new key ring file at ``path`` (0600) with one random key; never overwrites one."""
    key = secrets.token_bytes(KEY_BYTES)
    return _write_ring(Path(path), {key_id(key): key}, key_id(key), new=True)


def rotate_keyring_file(path: str | os.PathLike[str]) -> KeyRing:
    """Add a new random key to the ring at ``path`` and make it the one that signs; the old
    keys stay, so what they signed still verifies."""
    ring = _read_ring(Path(path))
    key = secrets.token_bytes(KEY_BYTES)
    return _write_ring(Path(path), {**ring.keys, key_id(key): key}, key_id(key), new=False)
