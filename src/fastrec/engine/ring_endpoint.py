"""A frame ring's picklable endpoint: how a consumer process gets at a ring.

Apart from :mod:`fastrec.engine.ring` (numpy, the compiled core) because the
supervisor only forwards endpoints - from a capture process to an encoder worker - and
never opens one: receiving one (unpickling it) imports this module alone (issue 14: a light
supervisor).  Opening a reader imports the ring.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from multiprocessing import reduction
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastrec.engine.ring import _Region

__all__ = ["RingEndpoint"]


_FILE_MAP_ALL_ACCESS = 0x000F001F


@dataclass(frozen=True, slots=True)
class _WindowsMapping:
    """A named file mapping (Windows) and a handle that keeps it alive while the endpoint
    travels: Windows frees a mapping with its last handle (see :mod:`fastrec.engine.ring`)."""

    name: str
    handle: int


def _close_handle(handle: int) -> None:
    import _winapi  # Windows only

    _winapi.CloseHandle(handle)



class RingEndpoint:
    """Picklable handle from which consumer ``index`` opens a :class:`RingReader`.

    Pass it to a ``multiprocessing`` process as an argument, or send it through a
    multiprocessing Queue or Connection: the memory and doorbells travel as file
    descriptors (handles), never as data.  An endpoint received from another process opens
    one reader; until it does, it can be sent on again (close() it if it never will be).
    """

    __slots__ = ("_free", "_memory", "_owned", "_ready", "_size", "index")

    def __init__(self, index: int, memory: int | str | _WindowsMapping, size: int,
                 ready: socket.socket, free: socket.socket, owned: bool) -> None:
        self.index = index
        self._memory: int | str | _WindowsMapping | None = memory
        self._size = size
        self._ready = ready
        self._free = free
        self._owned = owned  # rebuilt in this process: the reader takes its mapping and sockets

    def __repr__(self) -> str:
        backend = "memfd" if isinstance(self._memory, int) else "shm"
        return f"<RingEndpoint index={self.index} backend={backend}>"

    def __reduce__(self) -> tuple[Any, ...]:
        memory = self._memory
        if memory is None:
            raise TypeError("this endpoint already opened a RingReader or was closed; "
                            "ask the producer's FrameRing.endpoint() for a new one")
        handle: Any
        if isinstance(memory, _WindowsMapping):
            handle = (memory.name, reduction.DupHandle(memory.handle, _FILE_MAP_ALL_ACCESS))
        else:
            handle = memory if isinstance(memory, str) else reduction.DupFd(memory)  # POSIX
        return _rebuild_endpoint, (self.index, handle, self._size, self._ready, self._free)

    def close(self) -> None:
        """Let go of a received endpoint that will not be opened (idempotent).

        A process that only forwards endpoints (a supervisor handing a session's ring to an
        encoder worker, or to its replacement) holds one of these, and closes it at the end.
        """
        if self._owned and self._memory is not None:
            if isinstance(self._memory, int):
                os.close(self._memory)
            elif isinstance(self._memory, _WindowsMapping):
                _close_handle(self._memory.handle)
            self._ready.close()
            self._free.close()
        self._memory = None

    def _open(self) -> tuple[_Region, socket.socket, socket.socket]:
        memory = self._memory
        if memory is None:
            raise ValueError("this endpoint already opened a RingReader or was closed")
        from fastrec.engine.ring import _attach_shm, _map_fd, _Region  # the reader's side only

        if isinstance(memory, str):
            region = _attach_shm(memory, self._size)
        elif isinstance(memory, _WindowsMapping):
            region = _attach_shm(memory.name, self._size)
            if self._owned:
                _close_handle(memory.handle)  # the view keeps the mapping alive now
        else:
            region = _Region(_map_fd(memory, self._size))
            if self._owned:
                os.close(memory)  # the mapping keeps the memory alive; the fd would only leak
        if not self._owned:  # the producer's own sockets: the reader closes its copies
            return region, self._ready.dup(), self._free.dup()
        self._memory = None
        return region, self._ready, self._free


def _rebuild_endpoint(index: int, memory: Any, size: int, ready: socket.socket,
                      free: socket.socket) -> RingEndpoint:
    if isinstance(memory, tuple):  # Windows: the mapping's name and a handle now ours
        memory = _WindowsMapping(memory[0], memory[1].detach())
    elif not isinstance(memory, str):
        memory = memory.detach()  # our own fd: mapped when a reader opens, forwardable until then
    return RingEndpoint(index, memory, size, ready, free, owned=True)
