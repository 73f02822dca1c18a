"""Screen pixels through mss (XShm on X11, GDI on Windows), as numpy BGRA frames."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Protocol, Self

import mss
import numpy as np
from mss.exception import ScreenShotError

from fastrec.capture.base import CaptureError, Region


class Grabber(Protocol):
    """What window sources need from a grabber (tests pass fakes on non-X platforms)."""

    def open(self) -> None: ...
    def close(self) -> None: ...
    def monitors(self) -> list[Region]: ...
    def grab(self, region: Region) -> np.ndarray: ...


def display_name(display: str | None) -> str | None:
    """Validate an X display name (``":1"``, ``"host:0.0"``) or ``None`` for $DISPLAY."""
    if display is not None and (not isinstance(display, str) or ":" not in display):
        raise ValueError(f"display must be an X display name like ':1' or None, got {display!r}")
    return display


class ScreenGrabber:
    """One mss handle: the monitor layout and rectangle grabs.

    ``display`` is the X display (``None``: $DISPLAY); on Windows it must be ``None``.
    Monitor 0 is the bounding box of all monitors (mss's virtual screen), 1.. each monitor.
    The layout is read once at :meth:`open`; a resolution change needs a new grabber.
    """

    def __init__(self, display: str | None = None) -> None:
        self.display = display_name(display)
        if display is not None and sys.platform == "win32":
            raise ValueError(f"display is an X11 setting; on Windows pass None, got {display!r}")
        self._sct: mss.MSS | None = None
        self._monitors: list[Region] = []

    def open(self) -> None:
        if self._sct is not None:
            return
        try:
            # mss warns about `display` on platforms without it: pass it on X11 only
            sct = mss.MSS(display=self.display) if sys.platform.startswith("linux") else mss.MSS()
        except ScreenShotError as exc:
            where = self.display or "$DISPLAY"
            raise CaptureError(f"cannot open the screen {where}: {exc}") from exc
        try:
            self._monitors = [Region(m["left"], m["top"], m["width"], m["height"])
                              for m in sct.monitors]
        except ScreenShotError as exc:
            sct.close()
            raise CaptureError(f"cannot read the monitor layout: {exc}") from exc
        self._sct = sct

    def close(self) -> None:
        if self._sct is not None:
            self._sct.close()
            self._sct = None

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def monitors(self) -> list[Region]:
        """Monitor 0 = all monitors together, then each monitor."""
        self._require()
        return list(self._monitors)

    def grab(self, region: Region) -> np.ndarray:
        """A fresh (h, w, 4) BGRA array of ``region``: mss copies out of its shared memory
        into a new buffer per grab, so the array stays valid after later grabs."""
        sct = self._require()
        try:
            shot = sct.grab(region.as_mss())
        except ScreenShotError as exc:
            raise CaptureError(f"cannot grab {region}: {exc}") from exc
        height, width = shot.height, shot.width
        return np.frombuffer(shot.raw, dtype=np.uint8).reshape(height, width, 4)

    def _require(self) -> mss.MSS:
        if self._sct is None:
            raise CaptureError("ScreenGrabber is not open")
        return self._sct
