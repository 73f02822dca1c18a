"""An encoder worker process's body: jobs come in, one thread per session encodes its
frames in order from the session's ring, events go out.

Started by :class:`fastrec.engine.encoder.pool.EncoderPool` by name
(:data:`~fastrec.engine.encoder.pool.WORKER_MAIN`), so numpy, PyAV and the ring are imported
here, in the worker, and never in the supervisor (issue 14).  libx264 releases the GIL while
it encodes, so one worker carries several sessions.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection

import numpy as np

from fastrec.core.convert import i420_size
from fastrec.engine import launch
from fastrec.engine.encoder.pool import EncodeJob, Event
from fastrec.engine.encoder.writer import SegmentWriter
from fastrec.engine.protocol import (
    EncoderFailed,
    FrameFlags,
    SegmentClosed,
    SegmentOpened,
    SegmentSkipped,
    SessionEncoded,
)
from fastrec.engine.ring import RingClosed, RingReader
from fastrec.engine.usage import cpu_seconds

__all__ = ["worker_main"]


def _encode_session(job: EncodeJob, emit: Callable[[Event], None]) -> None:
    frames = 0
    size = i420_size(job.settings.width, job.settings.height)
    shape = (job.settings.height * 3 // 2, job.settings.width)
    try:
        with RingReader(job.endpoint) as reader, SegmentWriter(
            job.session_id, job.settings, job.policy, job.naming.path,
            on_open=lambda part, path, first: emit(SegmentOpened(job.session_id, part, path, first)),
            on_segment=lambda info: emit(SegmentClosed(info)), first_part=job.first_part,
            on_taken=lambda part, path: emit(SegmentSkipped(job.session_id, part, path)),
            encryption=job.encryption,
        ) as writer:
            previous = -1  # seq of the last frame read: rects hold against that frame only
            while True:
                try:
                    slot = reader.read(timeout=1.0)
                except RingClosed:
                    break
                if slot is None:
                    continue
                with slot:
                    pixels = np.asarray(slot.data[:size]).reshape(shape)
                    # a frame the ring dropped in between (drop_oldest) changed more than they say
                    rects = slot.rects if slot.header.seq == previous + 1 else None
                    previous = slot.header.seq
                    writer.write(pixels, slot.header.timestamp,
                                 keyframe=bool(slot.header.flags & FrameFlags.KEYFRAME), rects=rects)
                frames += 1
        emit(SessionEncoded(job.session_id, frames, cpu_seconds()))
    except Exception as exc:  # the supervisor owns the user-facing error
        emit(EncoderFailed(job.session_id, f"{type(exc).__name__}: {exc}", traceback.format_exc()))


def worker_main(conn: Connection) -> None:
    """Body of an encoder worker: jobs come in on ``conn``, events go out on it."""
    import av  # noqa: F401 - now, while no session waits: the writer imports it where it encodes

    lock = threading.Lock()

    def emit(event: Event) -> None:
        with lock:  # one message at a time from the session threads
            launch.send(conn, event)  # the supervisor may be gone; the files still get finished

    threads: list[threading.Thread] = []
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            break  # orphaned: finish the sessions in hand (their rings close), then exit
        if job is None:
            break
        thread = threading.Thread(target=_encode_session, args=(job, emit),
                                  name=f"encode-{job.session_id}", daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
