"""Full-screen recording (RECORDING_MODE=full_screen): all monitors, or one of them."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from fastrec.capture.base import CaptureError, CaptureSource, Region, Target, check_grab_target, grab_part
from fastrec.capture.grabber import Grabber, ScreenGrabber, grab_view
from fastrec.capture.matching import WindowInfo
from fastrec.checks import check_int


def describe_monitors(monitors: list[Region]) -> str:
    """"0 (all monitors, 1280x720+0+0), 1 (1280x720+0+0)" for error messages."""
    parts = [f"0 (all monitors, {monitors[0]})"] if monitors else []
    parts += [f"{i} ({m})" for i, m in enumerate(monitors[1:], start=1)]
    return ", ".join(parts)


class FullScreenSource(CaptureSource):
    """The whole desktop: ``monitor=0`` is every monitor together (mss's virtual screen),
    ``monitor=N`` the N-th monitor.

    Never pauses: :meth:`locate` always returns the monitor.  The monitor index is checked
    against the display's layout when the source opens.

    :meth:`windows` (for the privacy rules' window matching) opens the platform's window
    backend on first use (X11 or Win32, :func:`fastrec.capture.window_backend_module`), so
    a session without window rules never connects to it; ``window_backend`` replaces it.
    """

    def __init__(self, display: str | None = None, monitor: int = 0, *,
                 grabber: Grabber | None = None, window_backend: Any = None) -> None:
        check_int("FullScreenSource.monitor (0 = all monitors)", monitor, 0)
        self.display = display
        self.monitor = monitor
        self._grabber: Grabber = grabber if grabber is not None else ScreenGrabber(display)
        self._target: Target | None = None
        self._damage: Any = None  # x11.DamageMonitor, made on first damaged() (X11 only)
        self._backend: Any = window_backend  # a tracking.WindowBackend, opened on first windows()
        self._backend_open = False

    def _open(self) -> None:
        self._grabber.open()
        try:
            monitors = self._grabber.monitors()
            if self.monitor >= len(monitors):
                raise ValueError(
                    f"FullScreenSource.monitor={self.monitor} does not exist on display "
                    f"{self.display or '$DISPLAY'}; available monitors: {describe_monitors(monitors)}"
                )
        except BaseException:
            self._grabber.close()
            raise
        region = monitors[self.monitor]
        if region.is_empty:
            self._grabber.close()
            raise CaptureError(f"monitor {self.monitor} has no pixels: {region}")
        label = "all monitors" if self.monitor == 0 else f"monitor {self.monitor}"
        self._target = Target(region, reason=f"full screen: {label} {region}")

    def _close(self) -> None:
        if self._backend_open:
            self._backend_open = False
            self._backend.close()
        if self._damage is not None:
            self._damage.close()
            self._damage = None
        self._grabber.close()

    @property
    def monitors(self) -> list[Region]:
        """The display's monitors (0 = all together); the source must be open."""
        self._require_open()
        return self._grabber.monitors()

    def locate(self) -> Target:
        self._require_open()
        assert self._target is not None
        return self._target

    def windows(self) -> list[WindowInfo]:
        """Every window on the display now (the backend is opened on the first call)."""
        self._require_open()
        if self._backend is None:
            from fastrec.capture import window_backend_module  # imports the platform's module

            self._backend = window_backend_module().window_backend(self.display)
        if not self._backend_open:
            self._backend.open()
            self._backend_open = True
        windows: list[WindowInfo] = self._backend.windows()
        return windows

    def grab(self, target: Target) -> np.ndarray:
        self._require_open()
        check_grab_target(target, self._grabber.monitors()[0])
        return self._grabber.grab(target.region)

    def grab_view(self, target: Target, part: Region | None = None) -> np.ndarray:
        """Zero-copy where the grabber can (:meth:`ScreenGrabber.grab_view`)."""
        self._require_open()
        check_grab_target(target, self._grabber.monitors()[0])
        return grab_view(self._grabber, grab_part(target, part))

    def damaged(self) -> bool | None:
        """X DAMAGE inside the monitor on X11 (see :mod:`fastrec.capture.x11`); ``None``
        elsewhere or when python-xlib or the extension is missing."""
        monitor = self._damage_monitor()
        if monitor is None:
            return None
        assert self._target is not None
        changed: bool | None = monitor.damaged(self._target.region)
        return changed

    def damage(self) -> list[Region] | None:
        """X DAMAGE rectangles inside the monitor on X11; ``None`` elsewhere."""
        monitor = self._damage_monitor()
        if monitor is None:
            return None
        assert self._target is not None
        rects: list[Region] | None = monitor.damage(self._target.region)
        return rects

    def quiet_handle(self) -> int | None:
        """A file descriptor that turns readable when the screen is next drawn on, while
        nothing has been since the last :meth:`damage` (X11: the DAMAGE connection); None
        when unknown or elsewhere."""
        if self._damage is None:
            return None
        handle: int | None = self._damage.quiet_handle()
        return handle

    def _damage_monitor(self) -> Any:
        self._require_open()
        if self._damage is None:
            if not sys.platform.startswith("linux"):
                return None
            try:
                from fastrec.capture.x11 import DamageMonitor
            except ImportError:  # python-xlib not installed: "unknown" is a valid answer
                return None
            self._damage = DamageMonitor(self.display)
        return self._damage
