"""The encrypted file format: a header, then AEAD chunks aligned with the MP4 fragments.

Layout (all integers big-endian)::

    MAGIC (8 bytes, b"FRECENC1") | u32 n | header: n bytes of JSON (:class:`Header`)
    chunk 0 | chunk 1 | ...       each: nonce (12) | u32 m | ciphertext + tag (m bytes)

Each chunk is AES-256-GCM under the file's random data key; its AAD is the SHA-256 of the
magic + header, the chunk's index (u64) and a final flag (u8).  So a chunk cannot be moved
to another place or another file, cannot be altered, and a file cut after a chunk decrypts
up to there but is not mistaken for a closed one: only the chunk written at a clean close
carries the final flag.  The data key is stored in the header wrapped by the session key
(:mod:`fastrec.crypt.keystore`), with the file's random id as context.

Why chunks follow the fragments: the segment writer seals one chunk each time the muxer has
handed over a whole fragment (:class:`ChunkWriter.seal`), one ``write`` each, so a killed
recorder leaves every complete chunk decryptable - the whole fragments it wrote - and at
most one torn chunk at the end, which readers ignore.  A reader seeks by chunk: it reads the
12+4-byte chunk heads (no decryption) to map plaintext offsets to chunks, then decrypts only
the chunks a read touches (:class:`DecryptingReader`).

``cryptography`` is imported only when a file is encrypted or decrypted: a recorder without
encryption (the Windows suite's) never loads it.

Invariants: plaintext only ever goes to ``os.write`` as ciphertext and to readers' memory;
nothing here writes plaintext to disk.  A chunk that does not authenticate raises
:class:`ChunkError` naming the chunk and its byte offset; it is never returned.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

__all__ = ["MAGIC", "ChunkError", "ChunkInfo", "ChunkWriter", "DecryptingReader", "Header", "KeyUnavailable",
           "SeekableFile", "is_encrypted", "read_header", "scan_chunks"]

MAGIC = b"FRECENC1"
FORMAT_VERSION = 1
ALGORITHM = "AES-256-GCM"
NONCE = 12
TAG = 16
_HEAD = struct.Struct(">12sI")  # a chunk's nonce and ciphertext length
_MAX_HEADER = 64 * 1024
_MAX_CHUNK = 256 * 1024 * 1024  # a fragment is ~1 s of video; more than this is damage


class ChunkError(OSError):
    """An encrypted file that cannot be read as such: a bad header, or a chunk that does
    not authenticate (altered, moved, or the wrong key)."""


class KeyUnavailable(ChunkError):
    """The file's keys are not here: its session key was shredded, or is not in this key
    store, or its KEK is not in the ring.  Nothing about the file itself is wrong."""


@dataclass(frozen=True, slots=True)
class Header:
    """What a reader needs to find the data key; no secret in it (the key is wrapped)."""

    session_id: str
    part: int
    kek_id: str           # the KEK that wraps the session key (informative: the key store says)
    file_id: str          # base64 of 16 random bytes: the wrapped data key's context
    wrapped_key: str      # base64: the data key wrapped by the session key
    version: int = FORMAT_VERSION
    algorithm: str = ALGORITHM

    def encode(self) -> bytes:
        body = json.dumps({"version": self.version, "algorithm": self.algorithm,
                           "session_id": self.session_id, "part": self.part, "kek_id": self.kek_id,
                           "file_id": self.file_id, "wrapped_key": self.wrapped_key},
                          separators=(",", ":")).encode()
        return MAGIC + struct.pack(">I", len(body)) + body

    @property
    def context(self) -> bytes:
        """What the data key is bound to when wrapped."""
        return f"fastrec-data-key\0{self.session_id}\0{self.part}\0{self.file_id}".encode()


@dataclass(frozen=True, slots=True)
class ChunkInfo:
    """Where chunk ``index`` is: its ciphertext at ``offset`` (the chunk head's) of
    ``stored`` bytes in all, its plaintext at ``plain_offset`` of ``plain_size`` bytes."""

    index: int
    offset: int
    stored: int
    plain_offset: int
    plain_size: int


def _aad(digest: bytes, index: int, final: bool) -> bytes:
    return digest + struct.pack(">QB", index, 1 if final else 0)


class ChunkWriter:
    """Encrypts into the descriptor ``fd`` (a new, empty file): the header at once, then
    one chunk per :meth:`seal` of what :meth:`write` buffered.

    It is the file object the MP4 muxer writes through: ``tell`` counts plaintext bytes and
    ``seek`` is allowed only within the bytes not sealed yet (the muxer patches box sizes
    inside its own buffer, never across a flush).
    """

    def __init__(self, fd: int, header: Header, data_key: bytes, name: str = "") -> None:
        self.fd = fd
        self.name = name
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(data_key)
        encoded = header.encode()
        self._digest = hashlib.sha256(encoded).digest()
        self._buffer = bytearray()
        self._pos = 0            # position within the buffer
        self._sealed_plain = 0   # plaintext bytes in sealed chunks
        self._index = 0
        self._final = False
        self._write_all(encoded)

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        end = self._pos + len(view)
        if end > len(self._buffer):
            self._buffer.extend(b"\0" * (end - len(self._buffer)))
        self._buffer[self._pos:end] = view
        self._pos = end
        return len(view)

    def tell(self) -> int:
        return self._sealed_plain + self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_CUR:
            offset += self.tell()
        elif whence == os.SEEK_END:
            offset += self._sealed_plain + len(self._buffer)
        if not self._sealed_plain <= offset <= self._sealed_plain + len(self._buffer):
            raise OSError(f"{self.name}: an encrypted segment cannot seek to byte {offset} "
                          f"(sealed up to {self._sealed_plain})")
        self._pos = offset - self._sealed_plain
        return offset

    def seal(self, final: bool = False) -> None:
        """Encrypt what was written since the last seal as one chunk and write it whole.
        ``final``: the clean close's last chunk (written even when empty)."""
        if self._final:
            raise ValueError(f"{self.name}: sealed as final already")
        if not self._buffer and not final:
            return
        plain = bytes(self._buffer)
        nonce = os.urandom(NONCE)
        sealed = self._aead.encrypt(nonce, plain, _aad(self._digest, self._index, final))
        self._write_all(_HEAD.pack(nonce, len(sealed)) + sealed)
        self._index += 1
        self._sealed_plain += len(plain)
        self._buffer.clear()
        self._pos = 0
        self._final = final

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]


def is_encrypted(handle: BinaryIO) -> bool:
    """Whether the file at ``handle`` (read from byte 0; left there) is in this format."""
    handle.seek(0)
    magic = handle.read(len(MAGIC))
    handle.seek(0)
    return magic == MAGIC


def read_header(handle: BinaryIO) -> tuple[Header, int, bytes]:
    """The header, where the first chunk starts, and the header's digest (the AAD's)."""
    handle.seek(0)
    start = handle.read(len(MAGIC) + 4)
    if len(start) < len(MAGIC) + 4 or start[:len(MAGIC)] != MAGIC:
        raise ChunkError("not an encrypted fastrec file (no FRECENC1 header)")
    (length,) = struct.unpack(">I", start[len(MAGIC):])
    if length > _MAX_HEADER:
        raise ChunkError(f"encrypted header of {length} bytes; at most {_MAX_HEADER} are written")
    body = handle.read(length)
    if len(body) < length:
        raise ChunkError("encrypted header cut short")
    try:
        raw = json.loads(body)
        header = Header(session_id=str(raw["session_id"]), part=int(raw["part"]), kek_id=str(raw["kek_id"]),
                        file_id=str(raw["file_id"]), wrapped_key=str(raw["wrapped_key"]),
                        version=int(raw["version"]), algorithm=str(raw["algorithm"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise ChunkError(f"encrypted header is not valid ({exc})") from None
    if header.version != FORMAT_VERSION or header.algorithm != ALGORITHM:
        raise ChunkError(f"encrypted format version {header.version} / {header.algorithm}; "
                         f"this fastrec reads version {FORMAT_VERSION} / {ALGORITHM}")
    return header, len(start) + length, hashlib.sha256(start + body).digest()


def scan_chunks(handle: BinaryIO, first: int, size: int) -> tuple[list[ChunkInfo], int]:
    """The whole chunks of a file of ``size`` bytes from ``first`` on (reading only their
    heads), and the byte where they end - a torn chunk after that is left out."""
    chunks: list[ChunkInfo] = []
    offset, plain = first, 0
    while offset + _HEAD.size <= size:
        handle.seek(offset)
        head = handle.read(_HEAD.size)
        if len(head) < _HEAD.size:
            break
        _, length = _HEAD.unpack(head)
        if length < TAG or length > _MAX_CHUNK or offset + _HEAD.size + length > size:
            break  # torn (or damaged) from here on
        chunks.append(ChunkInfo(len(chunks), offset, _HEAD.size + length, plain, length - TAG))
        offset += _HEAD.size + length
        plain += length - TAG
    return chunks, offset


class SeekableFile:
    """The position half of a seekable file object over ``size`` bytes; subclasses read
    (and write) at ``_pos``."""

    size: int
    _pos: int = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._pos = base + offset
        return self._pos

    def read(self, n: int = -1) -> bytes:
        raise NotImplementedError

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self.read(len(buffer))
        memoryview(buffer)[:len(data)] = data
        return len(data)


class DecryptingReader(SeekableFile):
    """A read-only, seekable file object over the plaintext of an encrypted file's whole
    chunks; decrypts a chunk only when a read touches it (the last one is kept)."""

    def __init__(self, raw: BinaryIO, size: int, unwrap: Callable[[Header], bytes]) -> None:
        self.raw = raw
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self.header, first, self._digest = read_header(raw)
        self._aead = AESGCM(unwrap(self.header))
        self.chunks, self.stored_end = scan_chunks(raw, first, size)
        self.size = sum(c.plain_size for c in self.chunks)
        self._pos = 0
        self._cached: tuple[int, bytes] | None = None

    # -- file object ---------------------------------------------------------------
    def read(self, n: int = -1) -> bytes:
        end = self.size if n is None or n < 0 else min(self.size, self._pos + n)
        out = bytearray()
        while self._pos < end:
            chunk = self._chunk_at(self._pos)
            plain = self.decrypt(chunk)
            start = self._pos - chunk.plain_offset
            take = plain[start:start + (end - self._pos)]
            out += take
            self._pos += len(take)
        return bytes(out)

    def close(self) -> None:
        self.raw.close()

    @property
    def closed(self) -> bool:
        return bool(getattr(self.raw, "closed", False))

    def __enter__(self) -> DecryptingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- chunks ----------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        """Whether the file ends with the final chunk of a clean close (authenticated)."""
        return bool(self.chunks) and self._open(self.chunks[-1], final=True) is not None

    def _chunk_at(self, offset: int) -> ChunkInfo:
        low, high = 0, len(self.chunks) - 1
        while low < high:  # the last chunk starting at or before offset
            mid = (low + high + 1) // 2
            if self.chunks[mid].plain_offset <= offset:
                low = mid
            else:
                high = mid - 1
        return self.chunks[low]

    def decrypt(self, chunk: ChunkInfo) -> bytes:
        """The plaintext of ``chunk``; :class:`ChunkError` when it does not authenticate."""
        if self._cached is not None and self._cached[0] == chunk.index:
            return self._cached[1]
        last = chunk.index == len(self.chunks) - 1
        plain = self._open(chunk, final=False)
        if plain is None and last:
            plain = self._open(chunk, final=True)
        if plain is None:
            raise ChunkError(f"chunk {chunk.index} (byte {chunk.offset}) does not authenticate: "
                             "altered, moved, or not written with this key")
        self._cached = (chunk.index, plain)
        return plain

    def _open(self, chunk: ChunkInfo, final: bool) -> bytes | None:
        from cryptography.exceptions import InvalidTag

        self.raw.seek(chunk.offset)
        data = self.raw.read(chunk.stored)
        nonce, _ = _HEAD.unpack(data[:_HEAD.size])
        try:
            return self._aead.decrypt(nonce, data[_HEAD.size:], _aad(self._digest, chunk.index, final))
        except InvalidTag:
            return None

    def check_all(self) -> Iterator[str]:
        """A problem per chunk that does not authenticate (decrypting every chunk)."""
        for chunk in self.chunks:
            try:
                self.decrypt(chunk)
            except ChunkError as exc:
                yield str(exc)


def new_file_id() -> str:
    return base64.b64encode(os.urandom(16)).decode()
