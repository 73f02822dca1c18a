"""Window sources on any platform: follow one window, pause when it cannot be seen.

A :class:`WindowBackend` (X11 in :mod:`fastrec.capture.x11`, Win32 in
:mod:`fastrec.capture.win32`) lists windows; the trackers here choose one each frame
with :mod:`fastrec.capture.matching` and turn it into a :class:`Target`.

Privacy rules, the same on every platform:

* no chosen window, or chosen but minimised, unmapped, off screen or fully covered:
  ``locate()`` returns ``None`` (pause) -- never the desktop;
* windows above the chosen one (other applications, menus, the taskbar) are reported in
  ``Target.occluded`` so the engine blanks them.

There is a small window of time between ``locate()`` and ``grab()`` in which a window can
move or appear; the engine keeps it to microseconds by grabbing right after locating.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from fastrec.capture.base import CaptureSource, Region, Target, check_grab_target, grab_part
from fastrec.capture.grabber import Grabber, grab_view
from fastrec.capture.matching import (
    WindowInfo,
    WindowPatterns,
    occlusion,
    pick_active_window,
    pick_rdp_window,
    windows_above,
)


class WindowBackend(Protocol):
    """A platform's window list."""

    def open(self) -> None: ...
    def close(self) -> None: ...

    def windows(self) -> list[WindowInfo]:
        """Every top-level window -- application windows and anything else that can cover
        them -- in stacking order, bottom first (``stacking`` numbers them)."""
        ...

    def active_window(self) -> int | None:
        """The id of the focused application window, or ``None``."""
        ...

    def damaged(self, region: Region | None) -> bool | None:
        """Did pixels change inside ``region`` (``None``: anywhere) since the last call?
        ``None`` when the platform cannot tell."""
        ...

    def damage(self, region: Region | None) -> list[Region] | None:
        """Where pixels changed inside ``region`` since the last call (screen
        coordinates); ``[]`` nowhere, ``None`` when the platform cannot tell."""
        ...


class WindowTracker(CaptureSource):
    """Records one window chosen by :meth:`_choose`; subclasses say which."""

    kind = "window"

    def __init__(self, backend: WindowBackend, grabber: Grabber) -> None:
        self._backend = backend
        self._grabber = grabber
        self._screen: Region | None = None
        self._pause_reason: str | None = None
        self._last_region: Region | None = None
        self._current: int | None = None  # id of the window followed last

    def _open(self) -> None:
        self._backend.open()
        try:
            self._grabber.open()
            self._screen = self._grabber.monitors()[0]
        except BaseException:
            self._grabber.close()
            self._backend.close()
            raise

    def _close(self) -> None:
        try:
            self._grabber.close()
        finally:
            self._backend.close()

    @property
    def window_id(self) -> int | None:
        """The window followed by the last :meth:`locate` that found one."""
        return self._current

    def _choose(self, windows: list[WindowInfo]) -> WindowInfo | None:
        raise NotImplementedError

    def _pause(self, reason: str) -> None:
        self._pause_reason = reason
        self._last_region = None

    def locate(self) -> Target | None:
        self._require_open()
        assert self._screen is not None
        windows = self._backend.windows()
        chosen = self._choose(windows)
        if chosen is None:
            self._pause(f"no {self.kind}")
            return None
        self._current = chosen.id
        what = f"{self.kind} {chosen.describe()}"
        if chosen.minimised:
            self._pause(f"{what} is minimised")
            return None
        if not chosen.mapped:
            self._pause(f"{what} is not shown")
            return None
        region = chosen.geometry.clip_to(self._screen)
        if region is None:
            self._pause(f"{what} is off screen")
            return None
        covered, occluded = occlusion(region, windows_above(windows, chosen))
        if covered:
            self._pause(f"{what} is fully covered")
            return None
        self._pause_reason = None
        self._last_region = region
        return Target(region, occluded, chosen.id, chosen.title, what)

    def windows(self) -> list[WindowInfo]:
        """The backend's window list now (the same one :meth:`locate` chooses from)."""
        self._require_open()
        return self._backend.windows()

    def grab(self, target: Target) -> np.ndarray:
        self._require_open()
        assert self._screen is not None
        check_grab_target(target, self._screen)
        return self._grabber.grab(target.region)

    def grab_view(self, target: Target, part: Region | None = None) -> np.ndarray:
        """Zero-copy where the grabber can (:meth:`ScreenGrabber.grab_view`)."""
        self._require_open()
        assert self._screen is not None
        check_grab_target(target, self._screen)
        return grab_view(self._grabber, grab_part(target, part))

    def damaged(self) -> bool | None:
        """Changes inside the last located region (anywhere while paused)."""
        self._require_open()
        return self._backend.damaged(self._last_region)

    def damage(self) -> list[Region] | None:
        """Where, inside the last located region (``None`` while paused: grab everything)."""
        self._require_open()
        where = getattr(self._backend, "damage", None)  # backends that only know whether
        if where is None or self._last_region is None:
            return super().damage()
        rects: list[Region] | None = where(self._last_region)
        return rects


class RdpWindowTracker(WindowTracker):
    """RECORDING_MODE=rdp_window: the RDP client window picked by ``patterns``.

    Keeps following the same window while it exists (see :func:`pick_rdp_window`); when
    it is gone, the next matching window is picked, if any.
    """

    kind = "rdp window"

    def __init__(self, backend: WindowBackend, grabber: Grabber,
                 patterns: WindowPatterns | None = None) -> None:
        super().__init__(backend, grabber)
        if patterns is not None and not isinstance(patterns, WindowPatterns):
            raise ValueError(f"patterns must be a WindowPatterns, got {patterns!r}")
        self.patterns = patterns if patterns is not None else WindowPatterns()

    def _choose(self, windows: list[WindowInfo]) -> WindowInfo | None:
        return pick_rdp_window(windows, self.patterns, previous=self._current)


class ActiveWindowTracker(WindowTracker):
    """RECORDING_MODE=active_window: whichever application window has the focus."""

    kind = "active window"

    def _choose(self, windows: list[WindowInfo]) -> WindowInfo | None:
        return pick_active_window(windows, self._backend.active_window())
