"""The shared-memory frame ring, with real processes started the "spawn" way."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from multiprocessing.reduction import ForkingPickler
from typing import Any

import numpy as np
import psutil
import pytest
from _ring_workers import (
    SPAWN,
    hold_one,
    pattern,
    produce_and_send_endpoint,
    produce_close_then_linger,
    produce_with_child_consumer,
    read_all,
    read_from_queue,
    shm_exists,
)
from fastrec._ext._shm import AtomicWords

from fastrec.engine.ring import FrameRing, FullPolicy, RingClosed, RingReader

HAVE_MEMFD = hasattr(os, "memfd_create")
BACKENDS = [
    pytest.param("memfd", marks=pytest.mark.skipif(not HAVE_MEMFD, reason="needs memfd (Linux)")),
    "shm",
]
needs_memfd = pytest.mark.skipif(not HAVE_MEMFD, reason="needs memfd (Linux)")
WAIT = 20.0  # generous bound for anything that involves starting a process


class Processes:
    """Starts spawn processes and kills whatever is left of them at the end of the test."""

    def __init__(self) -> None:
        self.started: list[Any] = []
        self.pids: list[int] = []  # grandchildren, known only by pid

    def start(self, target: Any, *args: Any, daemon: bool = True) -> Any:
        process = SPAWN.Process(target=target, args=args, daemon=daemon)
        process.start()
        self.started.append(process)
        return process

    def cleanup(self) -> None:
        for pid in self.pids:
            _kill(pid)
        for process in self.started:
            if process.is_alive():
                process.kill()
            process.join(5)


@pytest.fixture
def procs() -> Iterator[Processes]:
    p = Processes()
    try:
        yield p
    finally:
        p.cleanup()


def _kill(pid: int) -> None:
    """SIGKILL (POSIX) or TerminateProcess (Windows): no handler runs, nothing is cleaned up."""
    try:
        psutil.Process(pid).kill()
    except psutil.NoSuchProcess:
        pass


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_gone(pid: int, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not _gone(pid):
        assert time.monotonic() < deadline, f"process {pid} still runs"
        time.sleep(0.01)


def _get(queue: Any, kind: str) -> Any:
    got, value = queue.get(timeout=WAIT)
    assert got == kind, (got, value)
    return value


def _recv(conn: Any) -> Any:
    assert conn.poll(WAIT), "no message from the other process"
    return conn.recv()


def _publish(ring: FrameRing, seq: int, size: int, width: int = 8, height: int = 4,
             flags: int = 0) -> int:
    slot = ring.acquire()
    assert slot is not None
    slot.data[:size] = pattern(seq, size)
    return slot.publish(1000.0 + seq / 8, width, height, flags=flags, size=size)


def _memfd_users(pids: list[int]) -> set[int]:
    """The pids among `pids` with a fastrec ring memfd open or mapped."""
    users = set()
    for pid in pids:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
            with open(f"/proc/{pid}/maps") as f:
                maps = f.read()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if any("memfd:fastrec-ring" in link for link in links) or "memfd:fastrec-ring" in maps:
            users.add(pid)
    return users


# --- the atomics -----------------------------------------------------------------------------


def test_atomic_words() -> None:
    buf = np.zeros(64, dtype=np.uint8)
    words = AtomicWords(buf)
    words.store32(4, 7)
    assert words.load32(4) == 7
    assert words.cas32(4, 7, 9) and not words.cas32(4, 7, 1) and words.load32(4) == 9
    assert words.add64(8, 5) == 0 and words.add64(8, 1) == 5 and words.load64(8) == 6
    words.store64(16, 2**64 - 1)
    assert words.cas64(16, 2**64 - 1, 3) and words.load64(16) == 3
    assert words.add32(24, 2**32 - 1) == 0 and words.add32(24, 2) == 2**32 - 1
    assert words.load32(24) == 1  # wraps
    for offset in (-4, 2, 64, 62):
        with pytest.raises(IndexError, match=f"got {offset}"):
            words.load32(offset)
    with pytest.raises(IndexError):
        words.load64(60)
    with pytest.raises(BufferError, match="not writable"):
        AtomicWords(bytes(64))
    words.release()
    with pytest.raises(ValueError, match="released"):
        words.load32(0)


# --- across processes -----------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_round_trip(procs: Processes, backend: str) -> None:
    results = SPAWN.Queue()
    with FrameRing(slot_size=64 * 1024, slots=4, timeout=WAIT, backend=backend) as ring:
        procs.start(read_all, ring.endpoint(0), results)
        _get(results, "ready")
        expected = []
        for seq in range(40):
            size = 1000 + 1500 * seq
            assert _publish(ring, seq, size, width=seq + 1, height=2 * seq, flags=seq % 3) == seq
            expected.append((seq, 1000.0 + seq / 8, seq + 1, 2 * seq, seq % 3, size, True))
        assert ring.stats.published == 40 and ring.stats.dropped == 0
    assert _get(results, "done") == expected


@pytest.mark.parametrize("backend", BACKENDS)
def test_endpoint_sent_to_running_consumer(procs: Processes, backend: str) -> None:
    inbox, results = SPAWN.Queue(), SPAWN.Queue()
    procs.start(read_from_queue, inbox, results)
    _get(results, "started")
    with FrameRing(slot_size=4096, slots=2, timeout=WAIT, backend=backend) as ring:
        inbox.put(ring.endpoint(0))
        _get(results, "ready")
        for seq in range(10):
            _publish(ring, seq, 4096)
    frames = _get(results, "done")
    assert [f[0] for f in frames] == list(range(10)) and all(f[-1] for f in frames)


def test_endpoint_forwarded_by_a_supervisor_reaches_a_replacement_consumer(procs: Processes) -> None:
    """The engine's path: a producer process hands its endpoint to a supervisor (this
    process), which forwards it to an encoder worker, and again to a replacement when the
    first worker dies; the replacement reads on from where the first stopped."""
    recv, send = SPAWN.Pipe(duplex=False)
    procs.start(produce_and_send_endpoint, send, 3)
    endpoint = _recv(recv)  # received, never opened here: still forwardable
    assert _recv(recv) == "published"
    first_recv, first_send = SPAWN.Pipe(duplex=False)
    first = procs.start(hold_one, endpoint, first_send)
    seq, pid = _recv(first_recv)
    assert seq == 0 and pid == first.pid
    _kill(first.pid)
    first.join(WAIT)
    inbox, results = SPAWN.Queue(), SPAWN.Queue()
    procs.start(read_from_queue, inbox, results, 1.0)
    _get(results, "started")
    inbox.put(endpoint)
    _get(results, "ready")
    frames = _get(results, "timeout")  # the producer idles without closing: reads time out
    assert [f[0] for f in frames] == [1, 2] and all(f[-1] for f in frames)
    endpoint.close()
    endpoint.close()
    with pytest.raises(TypeError, match="already opened a RingReader or was closed"):
        ForkingPickler.dumps(endpoint)


def test_two_consumers_share_the_frames(procs: Processes) -> None:
    results = SPAWN.Queue()
    count = 200
    with FrameRing(slot_size=2048, slots=4, consumers=2, timeout=WAIT) as ring:
        for index in range(2):
            procs.start(read_all, ring.endpoint(index), results)
        _get(results, "ready"), _get(results, "ready")
        for seq in range(count):
            _publish(ring, seq, 2048)
        assert ring.stats.dropped == 0
    seen = [[f[0] for f in _get(results, "done")] for _ in range(2)]
    for seqs in seen:
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert sorted(seen[0] + seen[1]) == list(range(count))


def test_drop_oldest_under_load_keeps_frames_whole_and_in_order(procs: Processes) -> None:
    results = SPAWN.Queue()
    count = 2000
    with FrameRing(slot_size=8192, slots=2, policy="drop_oldest", timeout=WAIT) as ring:
        procs.start(read_all, ring.endpoint(0), results)
        _get(results, "ready")
        for seq in range(count):
            _publish(ring, seq, 8192)
        dropped = ring.stats.dropped
    frames = _get(results, "done")
    seqs = [f[0] for f in frames]
    assert all(f[-1] for f in frames), "a frame was overwritten while being read"
    assert seqs == sorted(set(seqs))
    assert len(seqs) + dropped == count


@needs_memfd
def test_killed_consumer_slot_is_reclaimed(procs: Processes) -> None:
    with FrameRing(slot_size=1024, slots=2, timeout=5) as ring:
        _publish(ring, 0, 1024)
        recv, send = SPAWN.Pipe(duplex=False)
        holder = procs.start(hold_one, ring.endpoint(0), send)
        assert _recv(recv) == (0, holder.pid)
        holder.kill()
        _wait_gone(holder.pid)  # not reaped: a zombie still answers os.kill(pid, 0)
        # One slot is FREE, the other held by the dead consumer: both frames must fit
        # (without the reclaim the second acquire times out and the frame is dropped).
        _publish(ring, 1, 1024)
        _publish(ring, 2, 1024)
        assert ring.stats.published == 3 and ring.stats.dropped == 0

        results = SPAWN.Queue()
        procs.start(read_all, ring.endpoint(0), results)
        _get(results, "ready")
        for seq in range(3, 20):
            _publish(ring, seq, 1024)
    frames = _get(results, "done")
    assert [f[0] for f in frames] == list(range(1, 20)) and all(f[-1] for f in frames)


@pytest.mark.parametrize("backend", BACKENDS)
def test_consumer_drains_after_close_then_gets_ring_closed(procs: Processes,
                                                           backend: str) -> None:
    results = SPAWN.Queue()
    gate_recv, gate_send = SPAWN.Pipe(duplex=False)
    ring = FrameRing(slot_size=1024, slots=4, backend=backend)
    try:
        procs.start(read_all, ring.endpoint(0), results, gate_recv)
        _get(results, "ready")
        for seq in range(3):
            _publish(ring, seq, 512)
    finally:
        ring.close()
    ring.close()  # idempotent
    with pytest.raises(RingClosed):
        ring.acquire()
    gate_send.send("go")
    frames = _get(results, "done")
    assert [f[0] for f in frames] == [0, 1, 2] and all(f[-1] for f in frames)


@pytest.mark.parametrize("backend", [
    pytest.param("memfd", marks=needs_memfd),
    pytest.param("shm", marks=pytest.mark.skipif(
        os.name == "posix", reason="a POSIX name is unlinked on close: a consumer that had not "
                                   "attached yet gets RingClosed")),
])
def test_frames_published_before_close_reach_a_consumer_that_opens_after_it(procs: Processes,
                                                                          backend: str) -> None:
    # the capture process publishes its last frames and closes its ring before the encoder
    # has opened it (a session stopped right after it started): the received endpoint keeps
    # the memory alive -- a descriptor on Linux, a handle on Windows, whose named mapping
    # would otherwise vanish with the producer's last handle and lose the frames
    conn, theirs = SPAWN.Pipe()
    procs.start(produce_close_then_linger, theirs, 2, backend)
    endpoint = _recv(conn)
    conn.send("close")
    assert _recv(conn) == "closed"
    with RingReader(endpoint) as reader:
        for seq in range(2):
            slot = reader.read(timeout=5)
            assert slot is not None and slot.header.seq == seq
            assert np.array_equal(slot.data, pattern(seq, 100))
            slot.release()
        with pytest.raises(RingClosed):
            reader.read(timeout=5)
    conn.send("bye")


def test_consumer_of_killed_producer_gets_ring_closed(procs: Processes) -> None:
    recv, send = SPAWN.Pipe(duplex=False)
    producer = procs.start(produce_and_send_endpoint, send, 2)
    with RingReader(_recv(recv)) as reader:  # the endpoint arrives at a running process
        assert _recv(recv) == "published"
        _kill(producer.pid)  # and not reaped yet: a zombie
        for seq in range(2):
            slot = reader.read(timeout=5)
            assert slot is not None and slot.header.seq == seq
            assert np.array_equal(slot.data, pattern(seq, 100))
            slot.release()
        # RingClosed, not the None of a read that timed out waiting for a dead producer
        with pytest.raises(RingClosed):
            reader.read(timeout=5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sigkill_of_every_party_leaves_nothing_behind(procs: Processes, backend: str) -> None:
    posix_shm = os.name == "posix" and os.path.isdir("/dev/shm")
    shm_before = set(os.listdir("/dev/shm")) if posix_shm else set()
    recv, send = SPAWN.Pipe(duplex=False)
    consumer_recv, consumer_send = SPAWN.Pipe(duplex=False)
    # not a daemon: it starts the consumer itself
    producer = procs.start(produce_with_child_consumer, backend, send, consumer_send, daemon=False)
    kind, producer_pid, consumer_pid, name, existed = _recv(recv)
    procs.pids.append(consumer_pid)
    assert (kind, producer_pid) == ("producer", producer.pid)
    assert _recv(consumer_recv) == ("consumer", consumer_pid)
    if backend == "memfd":
        assert _memfd_users([producer_pid, consumer_pid]) == {producer_pid, consumer_pid}
    else:
        assert existed, "the check below would not see the shared memory name"

    _kill(consumer_pid)
    _wait_gone(consumer_pid)
    _kill(producer_pid)
    producer.join(WAIT)
    _wait_gone(consumer_pid)  # reparented, maybe a zombie: its memory and fds are gone

    if posix_shm:
        # (multiprocessing's own named semaphores, sem.*, may come and go meanwhile)
        new = {n for n in set(os.listdir("/dev/shm")) - shm_before if not n.startswith("sem.")}
        assert not new, f"left in /dev/shm: {new}"
    assert name is None or not shm_exists(name)
    me = psutil.Process()
    tree = [me.pid, producer_pid, consumer_pid, *(c.pid for c in me.children(recursive=True))]
    assert _memfd_users(tree) == set()


# --- in one process ---------------------------------------------------------------------------


class _WaitSeen:
    """Wraps the producer's doorbell: `waiting` is set once acquire() waits on it."""

    def __init__(self, bell: Any) -> None:
        self.bell, self.waiting = bell, threading.Event()

    def wait(self, timeout: float) -> Any:
        self.waiting.set()
        return self.bell.wait(timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bell, name)


def test_block_policy_waits_for_a_free_slot() -> None:
    with FrameRing(slot_size=256, slots=3, timeout=WAIT) as ring:
        for seq in range(3):
            _publish(ring, seq, 256)
        ring._free_bell = bell = _WaitSeen(ring._free_bell)
        got: list[Any] = []
        producer = threading.Thread(target=lambda: got.append(ring.acquire()))
        producer.start()
        assert bell.waiting.wait(WAIT), "acquire() on a full ring did not wait"
        assert not got  # still waiting: nothing was dropped
        with RingReader(ring.endpoint()) as reader:
            slot = reader.read(timeout=0)
            assert slot is not None and slot.header.seq == 0
            slot.release()
            producer.join(WAIT)
            assert got and got[0] is not None  # the freed slot
            got[0].discard()
        assert ring.stats.published == 3 and ring.stats.dropped == 0


def test_block_policy_drops_the_frame_when_its_timeout_passes() -> None:
    with FrameRing(slot_size=256, slots=3, timeout=0.3) as ring:
        for seq in range(3):
            _publish(ring, seq, 256)
        assert ring.acquire() is None
        assert ring.stats.published == 3 and ring.stats.dropped == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_drop_oldest_keeps_the_newest_frames(backend: str) -> None:
    slots = 4
    with FrameRing(slot_size=256, slots=slots, policy=FullPolicy.DROP_OLDEST, timeout=0.2,
                   backend=backend) as ring:
        for seq in range(slots + 3):
            _publish(ring, seq, 100 + seq)
        assert ring.stats.dropped == 3
        with RingReader(ring.endpoint()) as reader:
            seqs = []
            while (slot := reader.read(timeout=0)) is not None:
                with slot:
                    seqs.append(slot.header.seq)
                    assert slot.header.size == 100 + slot.header.seq
                    assert np.array_equal(slot.data, pattern(slot.header.seq, slot.header.size))
            assert seqs == [3, 4, 5, 6]

            # Every slot being read: wait for a release, then drop the new frame.
            for seq in range(7, 7 + slots):
                _publish(ring, seq, 8)
            held = [reader.read(timeout=0) for _ in range(slots)]
            assert all(held)
            assert ring.acquire() is None
            assert ring.stats.dropped == 4
            held[0].release()
            assert ring.acquire() is not None


@pytest.mark.skipif(os.name != "posix", reason="POSIX names can be unlinked; a Windows mapping lives while a handle does")
def test_shm_name_is_unlinked_once_every_consumer_attached() -> None:
    with FrameRing(slot_size=64, slots=2, consumers=2, backend="shm") as ring:
        path = f"/dev/shm/{ring._shm.name}"
        with RingReader(ring.endpoint(0)) as first:
            ring.acquire().discard()
            assert os.path.exists(path)  # one consumer of two attached
            with RingReader(ring.endpoint(1)):
                ring.acquire().discard()
                assert not os.path.exists(path)
                with pytest.raises(RuntimeError, match="unlinked once all consumers had"):
                    ring.endpoint(0)
                _publish(ring, 0, 64)
                with first.read(timeout=1) as slot:  # the mappings outlive the name
                    assert np.array_equal(slot.data, pattern(0, 64))


def test_write_slot_without_publish_goes_back_free() -> None:
    with FrameRing(slot_size=64, slots=2, timeout=0) as ring:
        for _ in range(5):
            with ring.acquire() as slot:
                slot.data[:] = 1
        with pytest.raises(ValueError, match="published or discarded"):
            _ = slot.data
        assert ring.stats.published == 0 and ring.stats.dropped == 0
        slot = ring.acquire()
        slot.publish(0.0, 1, 1)
        with pytest.raises(ValueError, match="published or discarded"):
            slot.publish(0.0, 1, 1)


def test_read_slot_is_a_read_only_view_of_the_shared_memory() -> None:
    with FrameRing(slot_size=64, slots=2) as ring, RingReader(ring.endpoint()) as reader:
        slot = ring.acquire()
        slot.data[:] = 5
        slot.publish(0.0, 1, 1, size=10)
        with reader.read(timeout=1) as frame:
            assert frame.data.shape == (10,) and (frame.data == 5).all()
            assert not frame.data.flags.writeable and not frame.data.flags.owndata
            with pytest.raises(ValueError):
                frame.data[0] = 1


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"slot_size": 0}, ValueError, "slot_size must be between 1 and .* bytes, got 0"),
        ({"slot_size": 1.5}, TypeError, "slot_size must be an integer, got 1.5"),
        ({"slot_size": 64, "slots": 1}, ValueError, "slots must be between 2 and 256, got 1"),
        ({"slot_size": 64, "slots": 257}, ValueError, "slots must be between 2 and 256, got 257"),
        ({"slot_size": 64, "consumers": 0}, ValueError, "consumers must be between 1 and 64"),
        ({"slot_size": 64, "policy": "newest"}, ValueError,
         "policy must be one of 'block', 'drop_oldest', got 'newest'"),
        ({"slot_size": 64, "timeout": -1}, ValueError, "timeout must be .* >= 0, got -1"),
        ({"slot_size": 64, "timeout": float("nan")}, ValueError, "timeout must be"),
        ({"slot_size": 64, "backend": "tmpfs"}, ValueError,
         "backend must be 'memfd', 'shm' or None, got 'tmpfs'"),
    ],
)
def test_invalid_ring_arguments(kwargs: dict[str, Any], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        FrameRing(**kwargs)


def test_invalid_publish_and_endpoint_arguments() -> None:
    with FrameRing(slot_size=64, slots=2, consumers=2) as ring:
        with pytest.raises(ValueError, match="index must be between 0 and 1, got 2"):
            ring.endpoint(2)
        slot = ring.acquire()
        with pytest.raises(ValueError, match="size must be between 0 and the slot size 64, got 65"):
            slot.publish(0.0, 8, 8, size=65)
        with pytest.raises(ValueError, match="width must be between 0 and 4294967295, got -1"):
            slot.publish(0.0, -1, 8)
        with pytest.raises(ValueError, match="timestamp must be a finite number, got nan"):
            slot.publish(float("nan"), 8, 8)
        assert slot.publish(0.0, 8, 8) == 0  # a rejected publish leaves the slot usable
        with pytest.raises(TypeError, match="endpoint must be a RingEndpoint"):
            RingReader("ring")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="send endpoint"):
            import pickle

            pickle.dumps(ring)
        with RingReader(ring.endpoint(0)) as reader, pytest.raises(ValueError, match="timeout"):
            reader.read(timeout=-1)
        with pytest.raises(RingClosed):
            reader.read()


def test_dirty_rects_travel_after_the_frame_and_never_outlive_it() -> None:
    # slot: a 40-byte frame and room for 3 rectangles (8 bytes each)
    with FrameRing(slot_size=64, slots=2) as ring, RingReader(ring.endpoint()) as reader:
        rects = np.array([[0, 16, 32, 16], [65504, 0, 16, 65535]], np.uint16)
        for with_rects in (rects, None, np.empty((0, 4), np.uint16), None):
            slot = ring.acquire()
            slot.data[:] = 7
            slot.publish(0.0, 8, 5, size=40, rects=with_rects)
            with reader.read(timeout=1) as frame:
                assert frame.data.shape == (40,) and (frame.data == 7).all()
                if with_rects is None:  # a slot reused without rects: no stale promise from before
                    assert frame.header.rects is None and frame.rects is None
                else:
                    assert frame.header.rects == len(with_rects)
                    assert frame.rects is not None and np.array_equal(frame.rects, with_rects)


def test_invalid_dirty_rects() -> None:
    with FrameRing(slot_size=64, slots=2) as ring:
        slot = ring.acquire()
        with pytest.raises(ValueError, match=r"rects: 4 rectangles \(32 bytes\) do not fit after the frame's 40"):
            slot.publish(0.0, 8, 5, size=40, rects=np.zeros((4, 4), np.uint16))
        with pytest.raises(ValueError, match=r"rects must be n x 4 integers .* from 0 to 65535, got \(1, 4\)"):
            slot.publish(0.0, 8, 5, size=40, rects=np.array([[0, 0, 70000, 16]]))
        with pytest.raises(ValueError, match=r"rects must be n x 4 integers .*, got \(4,\)"):
            slot.publish(0.0, 8, 5, size=40, rects=np.array([0, 0, 16, 16]))
        assert slot.publish(0.0, 8, 5, size=40) == 0  # a rejected publish leaves the slot usable


def _ring_resident_bytes() -> int:
    """Resident bytes of this process's mappings of ring memfds (/proc/self/smaps)."""
    total, ours = 0, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            first = line.split()
            if first and "-" in first[0] and not first[0].endswith(":"):
                ours = len(first) > 5 and first[5].startswith("/memfd:fastrec-ring")
            elif ours and first[0] == "Rss:":
                total += int(first[1]) * 1024
    return total


@needs_memfd
def test_a_slot_never_written_holds_no_memory() -> None:
    # the producer takes the lowest free slot: with a reader that keeps up, the others are
    # never written, and a memfd page exists only once written (no MAP_POPULATE: 3 MB a
    # 1080p slot in the recording tree's memory, issue 14)
    size = 1 << 20
    with FrameRing(slot_size=size, slots=3, backend="memfd") as ring, RingReader(ring.endpoint()) as reader:
        for i in range(4):
            with ring.acquire() as slot:
                slot.data[:] = i
                slot.publish(float(i), 1, 1)
            with reader.read(timeout=WAIT) as frame:
                assert int(frame.data[0]) == i
        # one slot, seen by the producer's and the reader's mapping, and the control pages
        assert _ring_resident_bytes() < 2 * size + 2 * size // 4
