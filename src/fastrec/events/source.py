"""Where raw input comes from: one :class:`InputSource` interface, one implementation per
platform (X11 RECORD: :mod:`.x11`; Windows low-level hooks: :mod:`.win32`).

A source reports what the user did as :data:`RawInput` - a click or a wheel notch at
screen pixels, or the bare fact that a key was pressed - on a thread of its own, to the
``sink`` given to :meth:`InputSource.start`.  Times are ``time.monotonic()`` readings
(the clock of the capture process's frames and reports), converted from the platform's
own event timestamps (the X server's, the hook's ``time``), not from when the event
reached us.

Invariant: :class:`RawKey` has no field for a key.  A source reads the key code only to
drop it; nothing that leaves a source can carry what was typed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from fastrec.events.model import MouseButton, ScrollDirection

__all__ = ["InputSink", "InputSource", "InputUnavailable", "RawClick", "RawInput", "RawKey", "RawScroll",
           "ServerClock", "open_input_source"]


@dataclass(frozen=True, slots=True)
class RawClick:
    stamp: float
    x: int
    y: int
    button: MouseButton


@dataclass(frozen=True, slots=True)
class RawScroll:
    stamp: float
    x: int
    y: int
    direction: ScrollDirection
    amount: int = 1


@dataclass(frozen=True, slots=True)
class RawKey:
    """A key was pressed at ``stamp``.  Which key is never known past the source."""

    stamp: float


RawInput = RawClick | RawScroll | RawKey
InputSink = Callable[[RawInput], None]


class InputUnavailable(RuntimeError):
    """No input source can run here (wrong platform, no X RECORD extension, no display)."""


@runtime_checkable
class InputSource(Protocol):
    """A platform's input: started once, closed once, from any thread."""

    name: str

    def start(self, sink: InputSink) -> None:
        """Begin reporting input to ``sink`` (called on the source's own thread)."""

    def active_window(self) -> tuple[int, int, int, int] | None:
        """The focused window as (x, y, width, height) on the screen, None when unknown."""

    def close(self) -> None:
        """Stop reporting; returns once the source's thread is gone.  Idempotent."""


class ServerClock:
    """Maps a platform's millisecond event clock (32 bits, wrapping every 49.7 days) onto
    ``time.monotonic()``: the offset is the smallest ever seen between our clock and the
    event's, i.e. the one of the event that reached us fastest."""

    _WRAP = 1 << 32

    def __init__(self) -> None:
        self._offset: float | None = None
        self._last = 0
        self._wraps = 0

    def stamp(self, millis: int, received: float) -> float:
        if self._offset is not None and millis < self._last and self._last - millis > self._WRAP // 2:
            self._wraps += 1
        self._last = millis
        seconds = (millis + self._wraps * self._WRAP) / 1000.0
        candidate = received - seconds
        if self._offset is None or candidate < self._offset:
            self._offset = candidate
        return seconds + self._offset


def open_input_source(display: str | None = None) -> InputSource:
    """This platform's input source (not started): Windows hooks, else X11 RECORD on
    ``display`` (default ``$DISPLAY``).  Raises :class:`InputUnavailable` saying why not."""
    if sys.platform == "win32":
        from fastrec.events.win32 import Win32HookSource  # noqa: PLC0415 - Windows only

        return Win32HookSource()
    from fastrec.events.x11 import X11RecordSource  # noqa: PLC0415 - needs python-xlib

    return X11RecordSource(display)
