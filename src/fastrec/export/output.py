"""Where an export's bytes go: a plain file, or a sealed one (encrypted at rest).

- :class:`PlainOutput`: the file the user asked for (``python -m fastrec export
  --output FILE``): plaintext by the user's choice, written atomically (0600).
- :class:`SealedOutput`: the admin server's stored copy of an encrypted session's export
  (issue 13: plaintext never touches the disk): the project's chunk format
  (:mod:`fastrec.crypt.container`) with a fresh data key per export, wrapped by the
  session's key - itself wrapped by the KEK - so shredding the session shreds its exports
  too.  Its header names the session and part :data:`EXPORT_PART` (0: no recorded part
  has that number).  Read back decrypted with :func:`open_sealed`.

Invariants: both publish the file whole or not at all (a private temporary file beside
it, renamed into place); a :class:`SealedOutput` only ever writes ciphertext.
Intermediate files of an encrypted session's export are :class:`~fastrec.crypt.scratch.SealedScratch`
(the MP4 muxer's) or memory (JSON, PDF, thumbnails, heatmaps).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from fastrec.storage.files import atomic_writer, fsync_dir, reserve_temp, write_private

if TYPE_CHECKING:
    from fastrec.crypt.container import DecryptingReader
    from fastrec.crypt.context import Encryption

__all__ = ["COPY_BLOCK", "EXPORT_PART", "ExportOutput", "PlainOutput", "SealedOutput", "as_output", "open_sealed"]

EXPORT_PART = 0
COPY_BLOCK = 1024 * 1024  # plaintext per chunk of a sealed export (and per copy step)


class ExportOutput(Protocol):
    """The destination of one export."""

    path: Path

    @property
    def sealed(self) -> bool: ...

    def write_bytes(self, data: bytes) -> int:
        """Publish ``data`` as the whole file; returns its (plaintext) size."""
        ...

    def write_from(self, handle: BinaryIO) -> int:
        """Publish everything ``handle`` reads from its position on; returns the size."""
        ...


@dataclass(frozen=True, slots=True)
class PlainOutput:
    """A plaintext file at ``path`` (0600, atomic)."""

    path: Path

    @property
    def sealed(self) -> bool:
        return False

    def write_bytes(self, data: bytes) -> int:
        write_private(self.path, data)
        return len(data)

    def write_from(self, handle: BinaryIO) -> int:
        size = 0
        with atomic_writer(self.path) as out:
            while block := handle.read(COPY_BLOCK):
                out.write(block)
                size += len(block)
        return size


@dataclass(frozen=True, slots=True)
class SealedOutput:
    """An encrypted file at ``path`` under a new data key wrapped by ``session_id``'s key."""

    path: Path
    encryption: Encryption
    session_id: str

    @property
    def sealed(self) -> bool:
        return True

    def write_bytes(self, data: bytes) -> int:
        return self.write_from(io.BytesIO(data))

    def write_from(self, handle: BinaryIO) -> int:
        from fastrec.crypt.container import ChunkWriter
        from fastrec.crypt.context import SegmentEncryption, new_segment

        key = self.encryption.keystore.get(self.session_id)  # Shredded: no export of a shredded session
        header, data_key = new_segment(SegmentEncryption(self.session_id, key.kek_id, key.secret), EXPORT_PART)
        temporary = reserve_temp(self.path)
        size = 0
        try:
            fd = os.open(temporary, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
            try:
                writer = ChunkWriter(fd, header, data_key, self.path.name)
                while block := handle.read(COPY_BLOCK):
                    writer.write(block)
                    writer.seal()
                    size += len(block)
                writer.seal(final=True)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, self.path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        fsync_dir(self.path.parent)
        return size


def as_output(output: str | os.PathLike[str] | ExportOutput) -> ExportOutput:
    """``output`` itself, or a :class:`PlainOutput` at a path."""
    if isinstance(output, (str, os.PathLike)):
        return PlainOutput(Path(output))
    return output


def open_sealed(path: Path, encryption: Encryption) -> DecryptingReader:
    """The plaintext of a sealed export (a seekable file object; close it).  OSError
    subclasses when it cannot be read: :class:`~fastrec.crypt.container.KeyUnavailable`
    once its session was shredded."""
    raw = open(path, "rb")  # noqa: SIM115 - the reader owns and closes it
    try:
        return encryption.reader(raw, os.fstat(raw.fileno()).st_size)
    except BaseException:
        raw.close()
        raise
