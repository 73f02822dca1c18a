"""A scratch file for writers that need random access (an MP4 muxer), encrypted on disk.

An export of an encrypted session is made by FFmpeg's MP4 muxer, which seeks back to patch
box sizes and, for ``+faststart``, re-reads the whole file to move the ``moov`` in front:
it needs a seekable, re-readable file, which the append-only chunk format
(:mod:`fastrec.crypt.container`) is not.  :class:`SealedScratch` is that file: fixed-size
blocks, each stored as AES-256-GCM (a fresh nonce per write, the block's index as AAD)
under a random key that exists only in this object.  The file itself is anonymous
(:func:`tempfile.TemporaryFile`: unlinked at once on POSIX, deleted on close on Windows).

Invariants: plaintext is only ever in memory (a few cached blocks); what reaches the disk
is ciphertext under a key that dies with the process, so a crash leaves nothing readable.
Several handles (:meth:`SealedScratch.handle`) share the one file, each with its own
position - the muxer's faststart pass reads through one while it writes through another.
"""

from __future__ import annotations

import os
import struct
import tempfile
import threading
from collections import OrderedDict
from typing import Any

from fastrec.crypt.container import SeekableFile

__all__ = ["BLOCK", "ScratchHandle", "SealedScratch"]

BLOCK = 64 * 1024
_NONCE = 12
_TAG = 16
_STRIDE = _NONCE + BLOCK + _TAG
_CACHED = 8  # blocks kept decrypted: a muxer's writes, and faststart's read-ahead and write-behind


class SealedScratch:
    """A temporary random-access byte store whose blocks are encrypted on disk (see the module)."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(os.urandom(32))
        self._file: Any = tempfile.TemporaryFile(dir=directory, prefix="fastrec-scratch-", buffering=0)
        self._blocks: OrderedDict[int, bytearray] = OrderedDict()
        self._dirty: set[int] = set()
        self._stored = 0  # blocks written to the file
        self._lock = threading.Lock()
        self.size = 0

    def handle(self) -> ScratchHandle:
        """A new file object over the scratch, at position 0."""
        return ScratchHandle(self)

    def close(self) -> None:
        with self._lock:
            self._blocks.clear()
            self._dirty.clear()
            self._file.close()

    def __enter__(self) -> SealedScratch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- blocks ------------------------------------------------------------------------
    def _block(self, index: int) -> bytearray:
        block = self._blocks.get(index)
        if block is not None:
            self._blocks.move_to_end(index)
            return block
        if index < self._stored:
            self._file.seek(index * _STRIDE)
            stored = self._file.read(_STRIDE)
            block = bytearray(self._aead.decrypt(stored[:_NONCE], stored[_NONCE:], struct.pack(">Q", index)))
        else:
            block = bytearray(BLOCK)
        self._blocks[index] = block
        while len(self._blocks) > _CACHED:
            old, data = self._blocks.popitem(last=False)
            if old in self._dirty:
                self._flush(old, data)
        return block

    def _flush(self, index: int, data: bytearray) -> None:
        for missing in range(self._stored, index):  # a hole: zeros, sealed like any block
            self._seal(missing, bytes(BLOCK))
        self._seal(index, bytes(data))
        self._dirty.discard(index)

    def _seal(self, index: int, data: bytes) -> None:
        nonce = os.urandom(_NONCE)
        self._file.seek(index * _STRIDE)
        self._file.write(nonce + self._aead.encrypt(nonce, data, struct.pack(">Q", index)))
        self._stored = max(self._stored, index + 1)

    def pread(self, offset: int, count: int) -> bytes:
        with self._lock:
            end = min(self.size, offset + max(0, count))
            out = bytearray()
            while offset < end:
                index, within = divmod(offset, BLOCK)
                take = min(BLOCK - within, end - offset)
                out += self._block(index)[within:within + take]
                offset += take
            return bytes(out)

    def pwrite(self, offset: int, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data).cast("B")
        with self._lock:
            done = 0
            while done < len(view):
                index, within = divmod(offset + done, BLOCK)
                take = min(BLOCK - within, len(view) - done)
                self._block(index)[within:within + take] = view[done:done + take]
                self._dirty.add(index)
                done += take
            self.size = max(self.size, offset + done)
            return done


class ScratchHandle(SeekableFile):
    """A file object (read, write, seek) over a :class:`SealedScratch`; closing it leaves
    the scratch open."""

    def __init__(self, scratch: SealedScratch) -> None:
        self.scratch = scratch
        self._pos = 0
        self.closed = False

    @property  # type: ignore[override]
    def size(self) -> int:
        return self.scratch.size

    def writable(self) -> bool:
        return True

    def read(self, count: int = -1) -> bytes:
        if count is None or count < 0:
            count = max(0, self.scratch.size - self._pos)
        data = self.scratch.pread(self._pos, count)
        self._pos += len(data)
        return data

    def write(self, data: bytes | bytearray | memoryview) -> int:
        written = self.scratch.pwrite(self._pos, data)
        self._pos += written
        return written

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True
