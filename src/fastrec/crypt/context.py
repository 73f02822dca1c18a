"""Which keys read and write a recordings directory, and the per-segment envelope.

The key store - a directory, or the fleet's database - is
:func:`~fastrec.crypt.keystore.keystore_from_settings`'s choice.

The recorder's RecordingManager, the admin server and the command-line tools build an
:class:`Encryption` from their settings (:func:`encryption_from_settings`: None when
encryption is off) and register it for their recordings directory (:func:`use_encryption`),
as they register an object store; :func:`fastrec.storage.videos.open_video` then decrypts
that directory's encrypted parts.  The encoder worker processes never see a KEK: they get
the session's key (:class:`SegmentEncryption`, in memory, over the job pipe) and make a
fresh data key per segment (:func:`new_segment`).
"""

from __future__ import annotations

import base64
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from fastrec.crypt.container import NONCE, ChunkError, DecryptingReader, Header, KeyUnavailable, new_file_id
from fastrec.crypt.keys import KEY_BYTES, KeyRing, load_key_ring
from fastrec.crypt.keystore import KEYSTORE_DIR, KeyStore, keystore_from_settings

__all__ = ["KEYSTORE_DIR", "Encryption", "SegmentEncryption", "chunk_problems", "encryption_for", "encryption_from_settings",
           "new_segment", "use_encryption", "use_settings_encryption"]


@dataclass(frozen=True, slots=True)
class SegmentEncryption:
    """What an encoder worker needs to encrypt a session's segments: its key (in memory)."""

    session_id: str
    kek_id: str
    session_key: bytes = field(repr=False)


def new_segment(enc: SegmentEncryption, part: int) -> tuple[Header, bytes]:
    """A header for a new segment of ``part`` and its fresh random data key."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    data_key = os.urandom(KEY_BYTES)
    header = Header(enc.session_id, part, enc.kek_id, new_file_id(), "")
    nonce = os.urandom(NONCE)
    wrapped = nonce + AESGCM(enc.session_key).encrypt(nonce, data_key, header.context)
    return Header(enc.session_id, part, enc.kek_id, header.file_id,
                  base64.b64encode(wrapped).decode()), data_key


def unwrap_data_key(header: Header, session_key: bytes) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    wrapped = base64.b64decode(header.wrapped_key)
    try:
        return AESGCM(session_key).decrypt(wrapped[:NONCE], wrapped[NONCE:], header.context)
    except (InvalidTag, ValueError):
        raise ChunkError(f"session {header.session_id!r} part {header.part}: the data key does not "
                         "unwrap with the session's key (header altered, or another session's file)") from None


@dataclass(frozen=True, slots=True)
class Encryption:
    """A key ring and the session key store: everything that reads and writes encrypted parts."""

    ring: KeyRing
    keystore: KeyStore

    def for_session(self, session_id: str) -> SegmentEncryption:
        """The session's key for its encoder (created on first use)."""
        key = self.keystore.for_writing(session_id)
        return SegmentEncryption(session_id, key.kek_id, key.secret)

    def reader(self, raw: BinaryIO, size: int) -> DecryptingReader:
        """The plaintext of the encrypted file at ``raw`` (of ``size`` bytes as stored).
        OSError subclasses when it cannot be read: :class:`ChunkError`, or the key is gone."""
        def unwrap(header: Header) -> bytes:
            try:
                session = self.keystore.get(header.session_id)
            except (ValueError, FileNotFoundError) as exc:  # KeyError_ / Shredded are ValueErrors
                raise KeyUnavailable(str(exc)) from None
            return unwrap_data_key(header, session.secret)
        return DecryptingReader(raw, size, unwrap)


def encryption_from_settings(settings: Any, directory: str | os.PathLike[str] | None = None) -> Encryption | None:
    """The :class:`Encryption` that recorder or server settings name (None: off).  ``directory``:
    the recordings directory (default: ``settings.output_dir``), under which the key store
    is by default."""
    key = getattr(settings, "encryption_key", None)
    secret = key.get_secret_value() if hasattr(key, "get_secret_value") else key
    ring = load_key_ring(getattr(settings, "encryption_key_file", None), secret)
    if ring is None:
        return None
    folder = Path(directory if directory is not None else settings.output_dir)
    return Encryption(ring, keystore_from_settings(settings, folder, ring))


_registry: dict[str, Encryption] = {}
_lock = threading.Lock()


def use_encryption(directory: str | os.PathLike[str], encryption: Encryption | None) -> None:
    """Decrypt the parts of ``directory`` with ``encryption`` (None: forget it)."""
    key = os.path.realpath(directory)
    with _lock:
        if encryption is None:
            _registry.pop(key, None)
        else:
            _registry[key] = encryption


def encryption_for(directory: str | os.PathLike[str]) -> Encryption | None:
    with _lock:
        return _registry.get(os.path.realpath(directory))


def use_settings_encryption(settings: Any) -> Encryption | None:
    """Register the encryption the recorder settings name for their output directory."""
    encryption = encryption_from_settings(settings)
    if encryption is not None:
        use_encryption(settings.output_dir, encryption)
    return encryption


def chunk_problems(path: str | os.PathLike[str]) -> list[str]:
    """What is wrong with the chunks of the encrypted part at ``path``: one line per chunk
    that does not authenticate, and bytes after the last whole chunk.  Empty when the part
    is not encrypted, or no keys are registered for its directory, or its session key is
    unavailable (shredded): nothing to check with.  :class:`ChunkError` when its header
    does not open with the keys."""
    from fastrec.storage.videos import open_video  # the storage layer imports this module

    encryption = encryption_for(Path(path).parent)
    with open_video(path, decrypt=False) as video:
        if not video.encrypted or encryption is None:
            return []
        try:
            reader = encryption.reader(video.handle, video.size)
        except KeyUnavailable:
            return []
        problems = list(reader.check_all())
        if reader.stored_end != video.size:
            problems.append(f"{video.size - reader.stored_end} bytes after the last whole chunk")
        return problems
