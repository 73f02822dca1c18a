"""One thread that handles events in the order they were put, and never dies of one.

The engine calls :meth:`EventThread.put` on its supervisor thread, which must never block
on files; the handler (metadata, index, logs, observers) runs here instead.  A handler
that raises is logged with its traceback and the next event is handled: one bad event
(an unwritable disk, an observer's bug) never stops the sessions after it from being
sealed.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

import structlog

log = structlog.get_logger("fastrec.manager")

E = TypeVar("E")


class EventThread(Generic[E]):
    def __init__(self, handler: Callable[[E], None], *, name: str) -> None:
        self._handler = handler
        self._queue: queue.SimpleQueue[tuple[E] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        if not self._thread.is_alive() and self._thread.ident is None:
            self._thread.start()

    def put(self, event: E) -> None:
        """Queue ``event``; returns at once."""
        self._queue.put((event,))

    def close(self, timeout: float | None = None) -> None:
        """Handle what is queued, then end the thread."""
        self._queue.put(None)
        if self._thread.ident is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                self._handler(item[0])
            except Exception:  # noqa: BLE001 - logged; the next event is handled
                log.exception("Recording event could not be handled", engine_event=type(item[0]).__name__)
