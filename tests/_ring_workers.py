"""Process bodies for test_ring.py, at module level so that spawned processes import them.

They report through multiprocessing Queues or Connections, and only small results:
sequence numbers, headers, whether the pixels matched; never pixels.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from fastrec.engine.ring import FrameRing, RingClosed, RingEndpoint, RingReader

SPAWN = mp.get_context("spawn")


def pattern(seq: int, size: int) -> np.ndarray:
    """The bytes frame `seq` carries: different for every frame and every offset."""
    return ((np.arange(size, dtype=np.uint32) * 31 + seq * 7) % 256).astype(np.uint8)


def read_all(endpoint: RingEndpoint, results: Any, gate: Connection | None = None,
             timeout: float = 10.0) -> None:
    """Read until RingClosed; report ("ready", pid) first, then ("done" | "timeout", frames).

    Each frame is reported as (seq, timestamp, width, height, flags, size, pixels_ok).
    With a `gate`, wait for a message on it before reading.
    """
    frames = []
    with RingReader(endpoint) as reader:
        results.put(("ready", os.getpid()))
        if gate is not None:
            gate.recv()
        while True:
            try:
                slot = reader.read(timeout=timeout)
            except RingClosed:
                results.put(("done", frames))
                return
            if slot is None:
                results.put(("timeout", frames))
                return
            with slot:
                h = slot.header
                ok = bool(np.array_equal(slot.data, pattern(h.seq, h.size)))
                frames.append((h.seq, h.timestamp, h.width, h.height, h.flags, h.size, ok))


def read_from_queue(inbox: Any, results: Any, timeout: float = 10.0) -> None:
    """Start first, then take the endpoint from `inbox` and read_all from it."""
    results.put(("started", os.getpid()))
    read_all(inbox.get(timeout=20), results, timeout=timeout)


def hold_one(endpoint: RingEndpoint, conn: Connection) -> None:
    """Read one frame, report (seq, pid) and keep the slot until killed."""
    reader = RingReader(endpoint)
    slot = reader.read(timeout=10)
    conn.send((None if slot is None else slot.header.seq, os.getpid()))
    time.sleep(60)


def produce_and_send_endpoint(conn: Connection, frames: int) -> None:
    """Create a ring, send an endpoint through `conn`, publish `frames` frames, then idle."""
    ring = FrameRing(slot_size=4096, slots=4)
    conn.send(ring.endpoint(0))
    for seq in range(frames):
        slot = ring.acquire()
        assert slot is not None
        slot.data[:100] = pattern(seq, 100)
        slot.publish(time.monotonic(), 10, 10, size=100)
    conn.send("published")
    time.sleep(60)


def produce_close_then_linger(conn: Connection, frames: int, backend: str | None = None) -> None:
    """Publish `frames` frames, send an endpoint, close the ring when told ("close"), say
    "closed", then stay alive until told to go (as the capture process lingers)."""
    ring = FrameRing(slot_size=4096, slots=4, backend=backend)
    for seq in range(frames):
        slot = ring.acquire()
        assert slot is not None
        slot.data[:100] = pattern(seq, 100)
        slot.publish(time.monotonic(), 10, 10, size=100)
    conn.send(ring.endpoint(0))
    assert conn.recv() == "close"
    ring.close()
    conn.send("closed")
    conn.recv()


def read_forever(endpoint: RingEndpoint, conn: Connection, report_after: int) -> None:
    """Keep reading; after `report_after` frames send ("consumer", pid)."""
    reader = RingReader(endpoint)
    count = 0
    while True:
        slot = reader.read(timeout=1)
        if slot is not None:
            slot.release()
            count += 1
            if count == report_after:
                conn.send(("consumer", os.getpid()))


def produce_with_child_consumer(backend: str, conn: Connection, consumer_conn: Connection) -> None:
    """Create a ring, spawn its consumer, then publish small frames until killed.

    Sends ("producer", pid, consumer pid, shm name or None, whether the name existed).
    """
    slots = 4
    ring = FrameRing(slot_size=4096, slots=slots, timeout=0.5, backend=backend)
    name = ring._shm.name if ring._shm is not None else None
    existed = name is not None and shm_exists(name)
    # Reading slots + 1 frames proves the consumer attached before the producer's last acquire.
    consumer = SPAWN.Process(target=read_forever, args=(ring.endpoint(0), consumer_conn, slots + 1))
    consumer.start()
    conn.send(("producer", os.getpid(), consumer.pid, name, existed))
    seq = 0
    while True:
        slot = ring.acquire()
        if slot is not None:
            slot.data[:16] = seq % 256
            slot.publish(time.monotonic(), 4, 4, size=16)
            seq += 1
        time.sleep(0.001)


def shm_exists(name: str) -> bool:
    """Whether shared memory of this name exists: a file in /dev/shm (POSIX), a named file
    mapping that opens (Windows: it lives while any process holds a handle to it)."""
    if os.name != "nt":
        return os.path.exists(f"/dev/shm/{name}")
    import ctypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.OpenFileMappingW.restype = ctypes.c_void_p
    kernel32.OpenFileMappingW.argtypes = [ctypes.c_uint32, ctypes.c_int, ctypes.c_wchar_p]
    handle = kernel32.OpenFileMappingW(0x0004, False, name)  # FILE_MAP_READ
    if handle:
        kernel32.CloseHandle(ctypes.c_void_p(handle))
    return bool(handle)
