"""Zero-copy shared-memory ring carrying frames from one producer process to consumers.

The capture process writes each frame straight into a slot of shared memory; encoder
processes read it from there.  Pixels never cross a pipe: only one-byte doorbells do.

Memory.  On Linux the ring is an anonymous ``memfd`` handed to consumers by file descriptor,
so it never has a name in /dev/shm and the kernel frees it when the last process mapping it
exits, however it exits.  Elsewhere it is a named ``SharedMemory`` that the producer unlinks
as soon as every consumer has attached, and on close.  On Windows a named mapping lives
exactly as long as a handle to it, so nothing is ever left behind, but a producer that
closes before a consumer opened would take the frames with it: there an endpoint carries a
handle to the mapping, duplicated from process to process as it travels (as a memfd's
descriptor does), and the reader closes it once it has mapped the memory.

Layout.  A 64-byte control block, then ``slots`` slots, each a 64-byte header and the
payload, 64-byte aligned::

    control: magic u32, version u32, slots u32, consumers u32, slot_size u64,
             producer pid u32, closed u32, attached u32, pad u32, published u64, dropped u64
    slot:    state u32 (state, then a 24-bit generation), reader pid u32, seq u64,
             timestamp f64, width u32, height u32, size u64, flags u32, rects u32, pad | payload

A frame may carry its dirty rectangles (:mod:`fastrec.engine.encoder.hints`): ``rects``
of them, 4 x u16 each (x, y, width, height), right after its ``size`` bytes in the payload;
0xFFFFFFFF says it carries none (every part of the frame may have changed).  Only the
producer that passes ``rects`` to ``publish`` sets them, so a stage that forwards frames
(flags and pixels) into another ring never forwards a stale promise.

Slots move FREE -> WRITING -> READY -> READING -> FREE by compare-and-swap on one 64-bit word
(state, a generation bumped on every publish, and the reader's pid), so there are no locks
for a killed process to leave held, a consumer names itself in the same CAS that claims the
slot, and a slot stolen and republished between a consumer's scan and its CAS is not taken
by mistake.  Consumers take the READY slot with the lowest seq.

Objects of this module are not thread-safe: use each from one thread.
"""

from __future__ import annotations

import math
import mmap
import os
import select
import socket
import struct
import time
from dataclasses import dataclass
from multiprocessing import shared_memory
from types import TracebackType
from typing import Any, Self

import numpy as np

from fastrec._ext._shm import AtomicWords
from fastrec.checks import check_int as _check_int
from fastrec.engine.protocol import FullPolicy
from fastrec.engine.ring_endpoint import _FILE_MAP_ALL_ACCESS, RingEndpoint, _close_handle, _WindowsMapping
from fastrec.process_start import process_alive

__all__ = [
    "FrameHeader",
    "FrameRing",
    "FullPolicy",
    "ReadSlot",
    "RingClosed",
    "RingEndpoint",
    "RingReader",
    "RingStats",
    "WriteSlot",
]

_MAGIC = 0x474E5246  # "FRNG"
_VERSION = 2  # 2: the rects field
_ALIGN = 64
_CONTROL_SIZE = 64
_SLOT_HEADER_SIZE = 64

# control block offsets
_C_MAGIC, _C_VERSION, _C_SLOTS, _C_CONSUMERS, _C_SLOT_SIZE = 0, 4, 8, 12, 16
_C_PRODUCER, _C_CLOSED, _C_ATTACHED, _C_PUBLISHED, _C_DROPPED = 24, 28, 32, 40, 48
# slot header offsets: the state word, seq, then the fields read only by the slot's holder
_S_SEQ = 8
_S_FIELDS = 16
_FIELDS = struct.Struct("=dIIQII")  # timestamp, width, height, size, flags, rects
_NO_RECTS = 0xFFFF_FFFF
_RECT = np.dtype((np.uint16, 4))  # x, y, width, height

FREE, WRITING, READY, READING = 0, 1, 2, 3
_U32 = 0xFFFF_FFFF

# Waiters wake at least this often to notice a dead peer that rang no doorbell.  A peer
# that dies closes its doorbell socket, which wakes the waiter at once; this is the
# fallback, and an idle encoder's only wake-up (each costs a /proc read), so it is rare.
_POLL = 1.0
_SEND_FLAGS = getattr(socket, "MSG_NOSIGNAL", 0)


class RingClosed(Exception):
    """The ring is closed (or its producer died) and no published frame is left."""


@dataclass(frozen=True, slots=True)
class FrameHeader:
    """What the producer published with a frame."""

    seq: int
    timestamp: float
    width: int
    height: int
    flags: int
    size: int
    rects: int | None = None  # dirty rectangles after the frame's bytes; None: not known


@dataclass(frozen=True, slots=True)
class RingStats:
    """Producer-side counters: frames published, frames dropped by the full-ring policy."""

    published: int
    dropped: int
    slots: int
    slot_size: int


def _word(state: int, gen: int, pid: int = 0) -> int:
    return state | (gen & 0xFF_FFFF) << 8 | pid << 32


def _state(word: int) -> int:
    return word & 0xFF


def _gen(word: int) -> int:
    return (word >> 8) & 0xFF_FFFF


class _Doorbell:
    """One end of a socket pair used only to wake a waiter; the bytes mean nothing."""

    __slots__ = ("_poll", "eof", "sock")

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.eof = False
        # poll() where there is one: select() cannot wait on a descriptor above 1023, which
        # a long-running host application easily reaches.
        self._poll = select.poll() if hasattr(select, "poll") else None
        if self._poll is not None:
            self._poll.register(sock, select.POLLIN)

    def ring(self) -> None:
        try:
            self.sock.send(b"\0", _SEND_FLAGS)
        except OSError:
            pass  # a full buffer: the waiter is already due to wake; a gone peer waits for nothing

    def drain(self) -> None:
        try:
            while self.sock.recv(4096):
                pass
            self.eof = True  # every copy of the other end is closed: its owner closed or died
        except BlockingIOError:
            pass
        except OSError:
            self.eof = True  # Windows reports a dead peer as a reset

    def wait(self, timeout: float) -> None:
        if self.eof:
            time.sleep(timeout)  # an EOF socket is always readable: waiting on it would spin
        elif self._poll is not None:
            self._poll.poll(math.ceil(timeout * 1000))
        else:
            select.select([self.sock], [], [], timeout)


class _Region:
    """The mapped ring memory: control block words, slot states, headers and payloads."""

    def __init__(self, mm: mmap.mmap) -> None:
        self.array = np.frombuffer(mm, dtype=np.uint8)
        self.bytes = memoryview(mm)  # for struct
        self.words = AtomicWords(self.array)
        self._mmap = mm
        self.slots = self.slot_size = 0
        self.bases: list[int] = []

    def _set_layout(self, slots: int, slot_size: int) -> None:
        self.slots, self.slot_size = slots, slot_size
        stride = _slot_stride(slot_size)
        self.bases = [_CONTROL_SIZE + i * stride for i in range(slots)]

    def format(self, slots: int, slot_size: int, consumers: int) -> None:
        w = self.words
        w.store32(_C_VERSION, _VERSION)
        w.store32(_C_SLOTS, slots)
        w.store32(_C_CONSUMERS, consumers)
        w.store64(_C_SLOT_SIZE, slot_size)
        w.store32(_C_PRODUCER, os.getpid())
        w.store32(_C_MAGIC, _MAGIC)  # last: a reader that sees the magic sees the rest
        self._set_layout(slots, slot_size)

    def load_layout(self) -> None:
        w = self.words
        if w.load32(_C_MAGIC) != _MAGIC or w.load32(_C_VERSION) != _VERSION:
            raise ValueError("the endpoint's memory is not a fastrec frame ring of this version")
        slots, slot_size = w.load32(_C_SLOTS), w.load64(_C_SLOT_SIZE)
        if _CONTROL_SIZE + slots * _slot_stride(slot_size) > len(self.array):
            raise ValueError("the frame ring's memory is smaller than its layout says")
        self._set_layout(slots, slot_size)

    def state_word(self, index: int) -> int:
        word: int = self.words.load64(self.bases[index])
        return word

    def cas(self, index: int, old: int, new: int) -> bool:
        swapped: bool = self.words.cas64(self.bases[index], old, new)
        return swapped

    def oldest(self, state: int, below: int | None = None) -> tuple[int, int, int] | None:
        """(index, state word, seq) of the slot in `state` with the lowest seq (< `below`)."""
        best = None
        load = self.words.load64
        for index, base in enumerate(self.bases):
            word = load(base)
            if word & 0xFF == state:
                seq = load(base + _S_SEQ)
                if (below is None or seq < below) and (best is None or seq < best[2]):
                    best = (index, word, seq)
        return best

    def write_header(self, index: int, seq: int, timestamp: float, width: int, height: int,
                     size: int, flags: int, rects: int = _NO_RECTS) -> None:
        base = self.bases[index]
        self.words.store64(base + _S_SEQ, seq)
        _FIELDS.pack_into(self.bytes, base + _S_FIELDS, timestamp, width, height, size, flags, rects)

    def read_header(self, index: int) -> FrameHeader:
        base = self.bases[index]
        timestamp, width, height, size, flags, rects = _FIELDS.unpack_from(self.bytes, base + _S_FIELDS)
        return FrameHeader(self.words.load64(base + _S_SEQ), timestamp, width, height, flags, size,
                           None if rects == _NO_RECTS else rects)

    def payload(self, index: int, size: int) -> np.ndarray:
        start = self.bases[index] + _SLOT_HEADER_SIZE
        return self.array[start : start + size]

    def close(self) -> None:
        self.words.release()
        self.bytes.release()
        del self.array
        try:
            self._mmap.close()
        except BufferError:
            pass  # the caller still holds a slot's array: the mapping goes when that array does


def _slot_stride(slot_size: int) -> int:
    return _SLOT_HEADER_SIZE + -(-slot_size // _ALIGN) * _ALIGN


def _create_memfd(size: int) -> tuple[int, _Region]:
    fd = os.memfd_create("fastrec-ring")  # close-on-exec: other processes get it only when handed
    try:
        os.ftruncate(fd, size)
        mm = _map_fd(fd, size)
    except BaseException:
        os.close(fd)
        raise
    return fd, _Region(mm)


def _map_fd(fd: int, size: int) -> mmap.mmap:
    # Not populated up front (MAP_POPULATE): a memfd page exists only once written, and the
    # producer takes the lowest free slot, so a slot that is never needed (the third, when
    # the encoder keeps up) costs no memory - 3 MB at 1080p, in the tree's PSS (issue 14).
    # Faulting a slot in costs ~1 ms, once, where populating cost the same at the start.
    return mmap.mmap(fd, size, flags=mmap.MAP_SHARED)


def _attach_shm(name: str, size: int, *, producer: bool = False) -> _Region:
    if os.name != "posix":
        # Opens the existing mapping of that name; a vanished one would be created anew,
        # zeroed: no magic, so the ring is gone (an endpoint's handle prevents that).
        region = _Region(mmap.mmap(-1, size, tagname=name))  # type: ignore[call-arg]
        if not producer and region.words.load32(_C_MAGIC) == 0:
            region.close()
            raise RingClosed(f"shared memory {name!r} is gone: the producer closed the ring")
        return region
    try:
        # Not SharedMemory(name): before Python 3.13 attaching registers the name with this
        # process's resource tracker, which would unlink it under the producer, or, when the
        # tracker is shared, drop the producer's own registration on unregister.  The
        # producer is the only party that ever registers.
        import _posixshmem

        fd = _posixshmem.shm_open("/" + name, os.O_RDWR, mode=0o600)
    except FileNotFoundError:
        raise RingClosed(
            f"shared memory {name!r} is gone: the producer closed the ring, or unlinked the "
            "name because all its consumers had attached"
        ) from None
    try:
        mm = mmap.mmap(fd, size)
    finally:
        os.close(fd)
    return _Region(mm)


class FrameRing:
    """Producer side of the ring: ``acquire()`` a slot, fill ``slot.data``, ``publish()``.

    Create it in the producer process (or in a parent that produces) and hand
    ``endpoint(i)`` to consumer ``i``.  When every slot is taken, ``policy`` decides:
    ``"block"`` waits up to ``timeout`` seconds for a release, ``"drop_oldest"`` overwrites
    the oldest unread frame.  A frame that still finds no slot is dropped: ``acquire()``
    returns None and ``stats.dropped`` counts it.  Slots held by a consumer that died are
    reclaimed.  ``backend`` is ``"memfd"`` (Linux), ``"shm"`` (named shared memory) or None
    for the best available.  Close it, or use it as a context manager.
    """

    def __init__(self, slot_size: int, slots: int = 4, consumers: int = 1,
                 policy: FullPolicy | str = FullPolicy.BLOCK, timeout: float = 1.0,
                 backend: str | None = None) -> None:
        _check_int("slot_size", slot_size, 1, 1 << 40, " bytes")
        _check_int("slots", slots, 2, 256)
        _check_int("consumers", consumers, 1, 64)
        try:
            policy = FullPolicy(policy)
        except ValueError:
            allowed = ", ".join(repr(p.value) for p in FullPolicy)
            raise ValueError(f"policy must be one of {allowed}, got {policy!r}") from None
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) \
                or not math.isfinite(timeout) or timeout < 0:
            raise ValueError(f"timeout must be a finite number of seconds >= 0, got {timeout!r}")
        if backend is None:
            backend = "memfd" if hasattr(os, "memfd_create") else "shm"
        elif backend not in ("memfd", "shm"):
            raise ValueError(f"backend must be 'memfd', 'shm' or None, got {backend!r}")
        elif backend == "memfd" and not hasattr(os, "memfd_create"):
            raise ValueError("backend 'memfd' needs os.memfd_create (Linux); use 'shm' or None")

        self._slot_size = slot_size
        self._consumers = consumers
        self._policy = policy
        self._timeout = float(timeout)
        self._backend = backend
        self._published = self._dropped = 0
        self._closed = False
        self._size = _CONTROL_SIZE + slots * _slot_stride(slot_size)
        # One doorbell per consumer, rung on publish; one shared doorbell, rung on release.
        pairs = [socket.socketpair() for _ in range(consumers)]
        self._ready_bells = [_Doorbell(mine) for mine, _ in pairs]
        self._ready_ends = [theirs for _, theirs in pairs]
        free_mine, self._free_end = socket.socketpair()
        self._free_bell = _Doorbell(free_mine)
        for sock in (*self._ready_ends, self._free_end):
            sock.setblocking(False)
        self._fd = -1
        self._shm: shared_memory.SharedMemory | None = None
        self._keepalive: int | None = None  # Windows: a handle to the named mapping
        self._unlinked = False
        if backend == "memfd":
            self._fd, self._region = _create_memfd(self._size)
        else:
            # SharedMemory creates the name and registers it with the resource tracker, a
            # backstop should the producer die before unlinking; the ring uses its own
            # mapping, like the consumers, and keeps the object only to unlink the name.
            self._shm = shared_memory.SharedMemory(create=True, size=self._size)
            try:
                if os.name == "nt":  # what endpoints duplicate (see the module docstring)
                    import _winapi

                    self._keepalive = _winapi.OpenFileMapping(_FILE_MAP_ALL_ACCESS, False,
                                                              self._shm.name)
                self._region = _attach_shm(self._shm.name, self._size, producer=True)
            finally:
                self._shm.close()
        self._region.format(slots, slot_size, consumers)

    @property
    def backend(self) -> str:
        """``"memfd"`` or ``"shm"``."""
        return self._backend

    @property
    def stats(self) -> RingStats:
        """Frames published and dropped so far; valid after close too."""
        return RingStats(self._published, self._dropped, self._region.slots, self._slot_size)

    def endpoint(self, index: int = 0) -> RingEndpoint:
        """The picklable handle consumer ``index`` (0 <= index < consumers) opens a reader with."""
        self._check_open()
        _check_int("index", index, 0, self._consumers - 1)
        if self._shm is not None:
            if self._unlinked:
                raise RuntimeError("the shared memory name was unlinked once all consumers had "
                                   "attached; a later consumer needs the 'memfd' backend")
            memory: int | str | _WindowsMapping = self._shm.name
            if self._keepalive is not None:
                memory = _WindowsMapping(self._shm.name, self._keepalive)
        else:
            memory = self._fd
        return RingEndpoint(index, memory, self._size, self._ready_ends[index], self._free_end,
                            owned=False)

    def acquire(self) -> WriteSlot | None:
        """A slot to write the next frame into, or None if the policy dropped the frame.

        Waits up to ``timeout`` seconds when every slot is taken and the policy cannot make
        room (``"block"``, or ``"drop_oldest"`` with every slot being read or written).
        """
        self._check_open()
        self._unlink_when_attached()
        deadline = time.monotonic() + self._timeout
        index = self._take()
        while index is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._count_drop()
                return None
            self._free_bell.wait(min(remaining, _POLL))
            self._free_bell.drain()  # before the re-scan, so a release after it still wakes us
            self._unlink_when_attached()
            index = self._take()
        return WriteSlot(self, index, self._region.payload(index, self._slot_size))

    def close(self) -> None:
        """Tell the consumers no frame will follow and release everything; idempotent.

        Consumers still read the frames already published, then get RingClosed.
        """
        if self._closed:
            return
        self._closed = True
        self._region.words.store32(_C_CLOSED, 1)
        for bell in self._ready_bells:
            bell.ring()
        for sock in (*(b.sock for b in self._ready_bells), *self._ready_ends,
                     self._free_bell.sock, self._free_end):
            sock.close()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._shm is not None and not self._unlinked:
            self._unlink()
        if self._keepalive is not None:
            _close_handle(self._keepalive)
            self._keepalive = None
        self._region.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __reduce__(self) -> Any:
        raise TypeError("a FrameRing stays in its producer process; send endpoint(i) instead")

    def _check_open(self) -> None:
        if self._closed:
            raise RingClosed("the FrameRing is closed")

    def _take(self) -> int | None:
        r = self._region
        for index in range(r.slots):
            word = r.state_word(index)
            if _state(word) == FREE and r.cas(index, word, _word(WRITING, _gen(word))):
                return index
        reclaimed = self._reclaim_dead_reader()
        if reclaimed is not None or self._policy is not FullPolicy.DROP_OLDEST:
            return reclaimed
        # The CAS loses only to a consumer claiming that frame; the next oldest will do.
        while (oldest := r.oldest(READY)) is not None:
            index, word, _ = oldest
            if r.cas(index, word, _word(WRITING, _gen(word))):
                self._count_drop()
                return index
        return None

    def _reclaim_dead_reader(self) -> int | None:
        r = self._region
        for index in range(r.slots):
            word = r.state_word(index)
            # The frame it was reading is lost.  A pid already recycled keeps the slot until
            # that process exits too: rare, and the ring goes on with one slot fewer.
            if (_state(word) == READING and not process_alive(word >> 32)
                    and r.cas(index, word, _word(WRITING, _gen(word)))):
                return index
        return None

    def _publish(self, index: int, timestamp: float, width: int, height: int, flags: int,
                 size: int | None, rects: np.ndarray | None = None) -> int:
        self._check_open()
        if size is None:
            size = self._slot_size
        if isinstance(size, bool) or not isinstance(size, int):
            raise TypeError(f"size must be an integer, got {size!r}")
        if not 0 <= size <= self._slot_size:
            raise ValueError(f"size must be between 0 and the slot size {self._slot_size}, "
                             f"got {size}: the frame does not fit in a slot")
        _check_int("width", width, 0, _U32)
        _check_int("height", height, 0, _U32)
        _check_int("flags", flags, 0, _U32)
        if not isinstance(timestamp, int | float) or not math.isfinite(timestamp):
            raise ValueError(f"timestamp must be a finite number, got {timestamp!r}")
        r = self._region
        count = _NO_RECTS
        if rects is not None:
            packed = np.ascontiguousarray(rects, np.uint16)
            if packed.ndim != 2 or packed.shape[1] != 4 or not np.array_equal(packed, rects):
                raise ValueError("rects must be n x 4 integers (x, y, width, height) from 0 to 65535, "
                                 f"got {np.shape(rects)} {getattr(rects, 'dtype', type(rects).__name__)}")
            if size + packed.nbytes > self._slot_size:
                raise ValueError(f"rects: {len(packed)} rectangles ({packed.nbytes} bytes) do not fit after "
                                 f"the frame's {size} bytes in a slot of {self._slot_size}")
            r.payload(index, size + packed.nbytes)[size:] = packed.view(np.uint8).reshape(-1)
            count = len(packed)
        seq = self._published
        r.write_header(index, seq, float(timestamp), width, height, size, flags, count)
        self._published += 1
        r.words.store64(_C_PUBLISHED, self._published)
        # The release store makes header and pixels visible to whoever sees READY.
        r.words.store64(r.bases[index], _word(READY, _gen(r.state_word(index)) + 1))
        for bell in self._ready_bells:
            bell.ring()
        return seq

    def _discard(self, index: int) -> None:
        if not self._closed:
            r = self._region
            r.words.store64(r.bases[index], _word(FREE, _gen(r.state_word(index))))

    def _count_drop(self) -> None:
        self._dropped += 1
        self._region.words.add64(_C_DROPPED, 1)

    def _unlink_when_attached(self) -> None:
        if (self._shm is not None and not self._unlinked
                and self._region.words.load32(_C_ATTACHED) >= self._consumers):
            self._unlink()

    def _unlink(self) -> None:
        self._unlinked = True
        assert self._shm is not None
        try:
            self._shm.unlink()
        except FileNotFoundError:
            pass


class WriteSlot:
    """A slot the producer is filling.  Write the frame into ``data``, then ``publish()``.

    As a context manager, leaving it without publishing returns the slot unused.  Do not
    keep ``data`` past publish(): the slot then belongs to the consumers.
    """

    __slots__ = ("_data", "_index", "_ring")

    def __init__(self, ring: FrameRing, index: int, data: np.ndarray) -> None:
        self._ring: FrameRing | None = ring
        self._index = index
        self._data: np.ndarray | None = data

    @property
    def data(self) -> np.ndarray:
        """Writable uint8 view of the whole payload (``slot_size`` bytes)."""
        if self._data is None:
            raise ValueError("the slot was already published or discarded")
        return self._data

    def publish(self, timestamp: float, width: int, height: int, flags: int = 0,
                size: int | None = None, rects: np.ndarray | None = None) -> int:
        """Hand the frame to the consumers; returns its seq (0, 1, 2... in publish order).

        ``size`` is the number of payload bytes that hold the frame, the whole slot if None.
        ``rects`` (n x 4: x, y, width, height), if given, promise that the frame differs from
        the one published before it only inside them; they are stored after the frame's
        ``size`` bytes, which must leave room for them (8 bytes each).
        """
        if self._ring is None:
            raise ValueError("the slot was already published or discarded")
        seq = self._ring._publish(self._index, timestamp, width, height, flags, size, rects)
        self._ring = self._data = None
        return seq

    def discard(self) -> None:
        """Give the slot back without publishing; no-op after publish()."""
        if self._ring is not None:
            self._ring._discard(self._index)
            self._ring = self._data = None

    @property
    def index(self) -> int:
        """Which of the ring's slots this is: its payload still holds what the producer
        last wrote there (consumers only read), so a producer may rewrite only what differs."""
        return self._index

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.discard()


class RingReader:
    """Consumer side of the ring, opened from a :class:`RingEndpoint`.

    ``read()`` returns the oldest published frame not yet taken by any consumer, as a
    :class:`ReadSlot` to release when done.  Close it, or use it as a context manager.
    """

    def __init__(self, endpoint: RingEndpoint) -> None:
        if not isinstance(endpoint, RingEndpoint):
            raise TypeError(f"endpoint must be a RingEndpoint, got {type(endpoint).__name__}")
        region, ready, free = endpoint._open()
        self._closed = False
        self._region = region
        self._ready = _Doorbell(ready)
        self._free = _Doorbell(free)
        self._held: dict[int, int] = {}  # slot index -> the state word this reader set
        try:
            region.load_layout()
            consumers = region.words.load32(_C_CONSUMERS)
            _check_int("endpoint index", endpoint.index, 0, consumers - 1)
        except BaseException:
            self.close()
            raise
        self._pid = os.getpid()
        self._producer_pid = region.words.load32(_C_PRODUCER)
        region.words.add32(_C_ATTACHED, 1)
        self._free.ring()  # wakes a producer that waits to unlink a shared memory name

    def read(self, timeout: float | None = None) -> ReadSlot | None:
        """The next frame, waiting up to ``timeout`` seconds (None: no limit) for one.

        Returns None on timeout.  Raises RingClosed once the producer closed the ring or
        died and every frame it published has been read.
        """
        if self._closed:
            raise RingClosed("the RingReader is closed")
        if timeout is not None and not timeout >= 0:
            raise ValueError(f"timeout must be None or a number of seconds >= 0, got {timeout!r}")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            gone = self._ready.eof or self._region.words.load32(_C_CLOSED) != 0
            index = self._claim()
            if index is None and (gone or not process_alive(self._producer_pid)):
                index = self._claim()  # frames published before the producer went away
                if index is None:
                    raise RingClosed("the producer closed the ring or exited")
            if index is not None:
                return ReadSlot(self, index, self._region.read_header(index))
            wait = _POLL
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    return None
            self._ready.wait(wait)
            self._ready.drain()  # before the re-scan, so a publish after it still wakes us

    def close(self) -> None:
        """Release the slots still held (their data is no longer valid) and unmap; idempotent."""
        if self._closed:
            return
        self._closed = True
        for index in list(self._held):
            self._release(index)
        self._ready.sock.close()
        self._free.sock.close()
        self._region.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _claim(self) -> int | None:
        r = self._region
        while (found := r.oldest(READY)) is not None:
            # Every frame older than the one just seen was published before it, so this second
            # look sees them all; the first may have passed a slot before its publish landed.
            index, word, _ = r.oldest(READY, below=found[2]) or found
            mine = _word(READING, _gen(word), self._pid)
            if r.cas(index, word, mine):
                self._held[index] = mine
                return index
        return None

    def _release(self, index: int) -> None:
        mine = self._held.pop(index, None)
        if mine is None:
            return
        # Fails only if the producer took us for dead and reclaimed the slot.
        self._region.cas(index, mine, _word(FREE, _gen(mine)))
        self._free.ring()


class ReadSlot:
    """A frame a consumer holds until ``release()`` (or the end of its ``with`` block).

    ``data`` is a read-only view of the frame in shared memory, valid until release.
    """

    __slots__ = ("_index", "_reader", "data", "header", "rects")

    def __init__(self, reader: RingReader, index: int, header: FrameHeader) -> None:
        self._reader: RingReader | None = reader
        self._index = index
        self.header = header
        self.data = reader._region.payload(index, header.size)
        self.data.flags.writeable = False
        # the dirty rectangles the producer published with the frame (n x 4 uint16), or None
        self.rects: np.ndarray | None = None
        if header.rects is not None:
            end = header.size + header.rects * _RECT.itemsize
            if end <= reader._region.slot_size:
                self.rects = reader._region.payload(index, end)[header.size:].copy().view(np.uint16).reshape(-1, 4)

    def release(self) -> None:
        """Give the slot back to the producer; idempotent."""
        if self._reader is not None:
            self._reader._release(self._index)
            self._reader = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
