"""The OCR stage: a process between a session's capture process and its encoder.

With RECORDING_OCR_PII on, the capture process publishes its frames into a ring only this
process reads; it publishes into a second ring, the one the encoder reads, each frame once
:class:`~fastrec.engine.ocr_gate.OcrGate` has a verdict on it, with the personal data found
masked and whatever could not be read in time blocked.  The encoder never sees a frame
the gate has not released: the supervisor is handed the second ring's endpoint only.

Why a process of its own: Tesseract takes tens to hundreds of milliseconds per strip of
text, a second for a screenful; in the capture process it would cost ticks.  Here a
reader thread copies frames out of the capture ring as they come (so the capture loop never
waits on OCR), a reader thread reads one strip at a time, and the main thread lets each
frame leave as soon as it has its verdict, or at its deadline even while a read is under
way (so no frame waits much longer than the delay).  Tesseract releases the GIL while it
recognises.  A strip's top rows are recorded as soon as they are read (the engine hands
its lines out top down), so a frame waiting on them leaves then, and a frame that is due
meanwhile leaves with only the rows not read yet blocked.

Life-cycle, driven by the capture process through :class:`OcrStage`: it starts the process
(which sends ``("ring", endpoint)`` or ``("error", message)``), forwards new pii rules, takes
its ``("stats", dict)`` once a second, and at the end closes the capture ring and waits for
``("done", dict)``: every frame published before the close has then left (or was dropped,
counted) and the encoder's ring is closed.  Either side gone is EOF to the other: the stage
exits and its ring closes; the capture process ends the session with an error.
"""

from __future__ import annotations

import math
import os
import threading
import time
import traceback
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from fastrec.core.convert import i420_planes, i420_size
from fastrec.core.masks import mask_i420
from fastrec.engine import launch
from fastrec.engine.ocr_gate import TILE, GateStats, OcrGate, Strip
from fastrec.engine.capture_config import OcrOptions
from fastrec.engine.protocol import FullPolicy
from fastrec.engine.ring import FrameRing, RingClosed, RingEndpoint, RingReader
from fastrec.engine.usage import cpu_seconds
from fastrec.privacy.ocr import OcrEngine, OcrLine, OcrUnavailable
from fastrec.privacy.screen_rules import PiiRule

__all__ = ["OcrOptions", "OcrStage", "ocr_main"]

STATS_EVERY = 1.0
START_TIMEOUT = 60.0  # loading the model takes ~0.1 s; a loaded machine, much longer
_IDLE = 0.2  # the main thread looks for messages at least this often
NICENESS = 10  # POSIX nice increment of the stage process
MAX_WAITING = 12  # frames copied out of the capture ring at most (3 MB each at 1080p)


@dataclass(frozen=True, slots=True)
class _Job:
    endpoint: RingEndpoint
    width: int
    height: int
    fps: int
    options: OcrOptions
    rules: tuple[PiiRule, ...]
    ring_slots: int
    ring_timeout: float


class OcrStage:
    """The capture process's handle on its OCR stage process (module docstring)."""

    def __init__(self, ring: FrameRing, width: int, height: int, fps: int, options: OcrOptions,
                 rules: tuple[PiiRule, ...], ring_slots: int, ring_timeout: float, session_id: str) -> None:
        job = _Job(ring.endpoint(0), width, height, fps, options, rules, ring_slots, ring_timeout)
        self._child = launch.start(ocr_main, job, name=f"fastrec-ocr-{session_id}")
        self.stats: dict[str, Any] = asdict(GateStats())
        try:
            message = self._receive(START_TIMEOUT)
        except BaseException:
            self.close()
            raise
        if message is None or message[0] != "ring":
            self.close()
            raise OcrUnavailable(message[1] if message else "the OCR stage did not start in time")
        self.endpoint: RingEndpoint = message[1]

    @property
    def pid(self) -> int:
        return self._child.pid

    def set_rules(self, rules: tuple[PiiRule, ...]) -> None:
        """Match ``rules`` from the next verdict on."""
        launch.send(self._child.conn, ("rules", rules))

    def poll(self) -> None:
        """Take the stage's reports so far; RuntimeError when it failed or died."""
        while (message := self._receive(0.0)) is not None:
            self._handle(message)

    def finish(self, timeout: float) -> dict[str, Any]:
        """After the capture ring is closed: wait until every frame has left (the stage
        says "done"); its final counters."""
        deadline = time.monotonic() + timeout
        while True:
            message = self._receive(max(0.0, deadline - time.monotonic()))
            if message is None:
                raise RuntimeError(f"the OCR stage did not finish within {timeout:.0f} s")
            if self._handle(message):
                return self.stats

    def close(self) -> None:
        """Stop the process if it still runs and let go of its ring and connection (the
        capture process records one session after another: nothing of this one may stay
        behind in it); idempotent."""
        launch.send(self._child.conn, "bye")
        self._child.join(5)
        if self._child.is_alive():
            self._child.kill()
            self._child.join(5)
        endpoint: RingEndpoint | None = getattr(self, "endpoint", None)
        if endpoint is not None:
            endpoint.close()  # what was sent on was a copy (its descriptors were duplicated)
        self._child.conn.close()

    def _handle(self, message: tuple[Any, ...]) -> bool:
        kind = message[0]
        if kind in ("stats", "done"):
            self.stats = message[1]
            return kind == "done"
        if kind == "error":
            raise RuntimeError(f"OCR stage failed: {message[1]}")
        raise RuntimeError(f"unknown message {kind!r} from the OCR stage")

    def _receive(self, wait: float) -> tuple[Any, ...] | None:
        try:
            if not self._child.conn.poll(wait):
                return None
            message = self._child.conn.recv()
        except (EOFError, OSError):
            self._child.join(1)
            raise RuntimeError(f"the OCR stage exited unexpectedly (code {self._child.exitcode})") from None
        if not isinstance(message, tuple) or not message:
            raise RuntimeError(f"unknown message {message!r} from the OCR stage")
        return message


class _Feeder(threading.Thread):
    """Copies frames out of the capture ring into the gate as they come, so the capture
    loop's ring never fills while OCR reads; waits while ``limit`` frames are waiting."""

    def __init__(self, reader: RingReader, gate: OcrGate, lock: threading.Condition, limit: int) -> None:
        super().__init__(name="fastrec-ocr-feeder", daemon=True)
        self.reader, self.gate, self.lock, self.limit = reader, gate, lock, limit
        self.closed = False
        self.error: BaseException | None = None
        self._size = i420_size(gate.width, gate.height)

    def run(self) -> None:
        try:
            while True:
                with self.lock:
                    while len(self.gate.pending) >= self.limit:
                        self.lock.wait()
                try:
                    slot = self.reader.read(timeout=None)
                except RingClosed:
                    break
                with slot:
                    frame = np.array(slot.data[: self._size])
                    header = slot.header
                with self.lock:
                    self.gate.add(frame, header.timestamp, header.flags)
                    self.lock.notify_all()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            self.error = exc
        with self.lock:
            self.closed = True
            self.lock.notify_all()


def _lower_priority() -> None:
    """Yield the CPU to the capture loop and the encoder: reading late costs a blocked
    region (fail closed), capturing late costs frames."""
    try:
        if hasattr(os, "nice"):
            os.nice(NICENESS)
        else:  # Windows
            import psutil

            psutil.Process().nice(psutil.BELOW_NORMAL_PRIORITY_CLASS)  # type: ignore[attr-defined]
    except (OSError, ImportError, AttributeError):
        pass  # a priority is a preference, not a requirement


def ocr_main(control: Connection, job: _Job) -> None:
    """Body of the OCR stage process (module docstring)."""
    _lower_priority()
    try:
        engine = OcrEngine(job.options.language, blocks=job.options.blocks,
                           threads=max(1, min(job.options.threads, os.cpu_count() or 1)))
    except OcrUnavailable as exc:
        launch.send(control, ("error", str(exc)))
        _linger(control)
        return
    try:
        with engine, RingReader(job.endpoint) as reader, \
                FrameRing(i420_size(job.width, job.height), slots=job.ring_slots, policy=FullPolicy.BLOCK,
                          timeout=job.ring_timeout) as out:
            launch.send(control, ("ring", out.endpoint(0)))
            gate = OcrGate(job.width, job.height, job.options.max_delay, job.rules,
                           tile=TILE if job.options.blocks else job.width, exact=job.options.exact)
            stats = _run(control, reader, out, gate, engine, job)
            out.close()
            launch.send(control, ("done", stats))
    except Exception as exc:
        launch.send(control, ("error", f"{type(exc).__name__}: {exc}", traceback.format_exc()))
    _linger(control)


def _linger(control: Connection) -> None:
    # the ring's descriptor travels through this process: stay until the capture process
    # has read every message ("bye") or is gone (EOF)
    try:
        control.poll(30.0)
    except OSError:
        pass


class _Reader(threading.Thread):
    """Reads one strip at a time with Tesseract and records what it found in the gate;
    the main thread meanwhile lets frames leave at their deadline, whatever is read."""

    def __init__(self, engine: OcrEngine, gate: OcrGate, lock: threading.Condition) -> None:
        super().__init__(name="fastrec-ocr-reader", daemon=True)
        self.engine, self.gate, self.lock = engine, gate, lock
        self.job: Strip | None = None  # the strip being read (set and cleared under the lock)
        self.error: BaseException | None = None
        self._wake = threading.Event()
        self._stopping = False

    def submit(self, strip: Strip) -> None:
        self.job = strip
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def run(self) -> None:
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._stopping:
                    return
                strip = self.job
                assert strip is not None
                pixels = strip.pixels
                start = time.perf_counter()

                def partial(rows: int, lines: list[OcrLine], strip: Strip = strip) -> None:
                    with self.lock:  # the top rows' verdict: frames needing no more may leave
                        self.gate.record(strip, lines, rows=rows)
                        self.lock.notify_all()

                lines = None if int(pixels.min()) == int(pixels.max()) else self.engine.read(pixels, partial)
                spent = time.perf_counter() - start
                with self.lock:
                    self.gate.record(strip, lines, spent)
                    self.job = None
                    self.lock.notify_all()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            with self.lock:
                self.error = exc
                self.lock.notify_all()


def _run(control: Connection, reader: RingReader, out: FrameRing, gate: OcrGate, engine: OcrEngine,
         job: _Job) -> dict[str, Any]:
    lock = threading.Condition()
    # at most the frames of one delay wait (a few MB each), fewer when the delay is long:
    # beyond that the capture ring's own policy applies, as with a slow encoder
    limit = min(MAX_WAITING, max(2, math.ceil(job.options.max_delay * job.fps) + 2))
    feeder = _Feeder(reader, gate, lock, limit)
    ocr = _Reader(engine, gate, lock)
    feeder.start()
    ocr.start()
    next_stats = time.monotonic() + STATS_EVERY
    dropped = 0
    try:
        while True:
            if _messages(control, gate, lock) is False:
                break  # the capture process is gone: nothing more to deliver to
            now = time.monotonic()
            if now >= next_stats:
                next_stats = now + STATS_EVERY
                launch.send(control, ("stats", _report(gate, engine, dropped)))
            leaving = None
            with lock:
                for failed in (feeder.error, ocr.error):
                    if failed is not None:
                        raise failed
                if not gate.pending:
                    if feeder.closed:
                        break
                    lock.wait(_IDLE)
                    continue
                if ocr.job is None:
                    strip = gate.next_strip()
                    if strip is None or gate.due(now):
                        leaving = gate.release(now)
                    else:
                        ocr.submit(strip)
                elif gate.due(now) or gate.unread(gate.pending[0]).size == 0:  # due, or read (partly)
                    leaving = gate.release(now)
                if leaving is None:  # until a read ends, a frame comes or the oldest is due
                    due_in = gate.pending[0].timestamp + gate.max_delay - now
                    lock.wait(max(0.001, min(_IDLE, due_in)))
                    continue
                lock.notify_all()  # the feeder may take another frame
            item, masks = leaving
            if not _deliver(out, gate, item.frame, item.timestamp, item.flags, masks):
                dropped += 1
    finally:
        ocr.stop()
        ocr.join(30)  # a read in progress ends before the engine is freed
    feeder.join(5)
    return _report(gate, engine, dropped)


def _messages(control: Connection, gate: OcrGate, lock: threading.Condition) -> bool | None:
    """Handle what the capture process sent; False when it is gone."""
    try:
        while control.poll(0):
            message = control.recv()
            if isinstance(message, tuple) and len(message) == 2 and message[0] == "rules":
                with lock:
                    gate.set_rules(message[1])
    except (EOFError, OSError):
        return False
    return None


def _deliver(out: FrameRing, gate: OcrGate, frame: np.ndarray, timestamp: float, flags: int,
             masks: list[Any]) -> bool:
    slot = out.acquire()
    if slot is None:
        return False
    with slot:
        data = slot.data[: frame.size]
        data[...] = frame
        if masks:
            y, u, v = i420_planes(slot.data, gate.width, gate.height)
            mask_i420(y, u, v, masks)
        slot.publish(timestamp, gate.width, gate.height, flags, frame.size)
    return True


def _report(gate: OcrGate, engine: OcrEngine, dropped: int) -> dict[str, Any]:
    stats = asdict(gate.stats)
    stats["blocks_read"] = engine.stats.read  # blocks of text Tesseract read
    stats["blocks_reused"] = engine.stats.reused  # ... and those known by their pixels (moved, shown again)
    stats["dropped"] = dropped
    stats["cpu_seconds"] = cpu_seconds()
    return stats
