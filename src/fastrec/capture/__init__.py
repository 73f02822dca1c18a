"""Capture sources: what to record each frame, and its pixels.

``open_source(mode, display, **options)`` builds the source for a RECORDING_MODE:

=================  ==========================================================
``full_screen``    :class:`~fastrec.capture.screen.FullScreenSource` (``monitor``)
``rdp_window``     the RDP client window (``patterns``: :class:`WindowPatterns`)
``active_window``  the focused window
``synthetic``      :class:`~fastrec.capture.synthetic.SyntheticSource` (tests, benchmarks)
``video_file``     :class:`~fastrec.capture.synthetic.VideoFileSource` (``path``)
=================  ==========================================================

Window modes use the X11 backend (python-xlib) on Linux and the Win32 backend (ctypes)
on Windows; both are imported only when asked for, so this package imports anywhere.
"""

from __future__ import annotations

import inspect
import sys
from typing import TYPE_CHECKING, Any

from fastrec.capture.base import CaptureError, CaptureSource, Region, Target
from fastrec.capture.matching import (
    WindowInfo,
    WindowPatterns,
    occlusion,
    pick_active_window,
    pick_rdp_window,
)
from fastrec.engine.protocol import CaptureMode
from fastrec.lazy_exports import lazy_getattr

if TYPE_CHECKING:
    from fastrec.capture.screen import FullScreenSource
    from fastrec.capture.synthetic import SCENARIOS, SyntheticSource, VideoFileSource

# name -> the module that defines it, imported on first use (see the module docstring)
_LAZY = {
    "FullScreenSource": "fastrec.capture.screen",
    "SCENARIOS": "fastrec.capture.synthetic",
    "SyntheticSource": "fastrec.capture.synthetic",
    "VideoFileSource": "fastrec.capture.synthetic",
}

MODES = tuple(CaptureMode)

__all__ = [
    "MODES",
    "SCENARIOS",
    "CaptureError",
    "CaptureSource",
    "FullScreenSource",
    "Region",
    "SyntheticSource",
    "Target",
    "VideoFileSource",
    "WindowInfo",
    "WindowPatterns",
    "occlusion",
    "open_source",
    "pick_active_window",
    "pick_rdp_window",
    "window_backend_module",
]


__getattr__ = lazy_getattr("fastrec.capture", _LAZY, globals())


def window_backend_module(platform: str | None = None) -> Any:
    """The module with this platform's ``RdpWindowSource`` and ``ActiveWindowSource``."""
    platform = platform or sys.platform
    if platform == "win32":
        from fastrec.capture import win32

        return win32
    if platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        try:
            from fastrec.capture import x11
        except ImportError as exc:  # python-xlib missing
            raise CaptureError(f"window recording on X11 needs python-xlib: {exc}") from exc
        return x11
    raise CaptureError(f"window recording is not supported on {platform}; "
                       f"use mode 'full_screen'")


def open_source(mode: str, display: str | None = None, **options: Any) -> CaptureSource:
    """A (not yet opened) source for ``mode``; use it in a ``with`` block.

    ``display`` is the X display (``":1"``; ``None``: $DISPLAY; must be ``None`` on
    Windows); the synthetic and video modes ignore it.  ``options`` go to the source's
    constructor; an unknown option is a ``ValueError`` that lists the allowed ones.
    """
    if mode == CaptureMode.FULL_SCREEN:
        factory: Any = __getattr__("FullScreenSource")
    elif mode in (CaptureMode.RDP_WINDOW, CaptureMode.ACTIVE_WINDOW):
        module = window_backend_module()
        factory = module.RdpWindowSource if mode == CaptureMode.RDP_WINDOW else module.ActiveWindowSource
    elif mode == CaptureMode.SYNTHETIC:
        factory = __getattr__("SyntheticSource")
    elif mode == CaptureMode.VIDEO_FILE:
        factory = __getattr__("VideoFileSource")
    else:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    params = inspect.signature(factory).parameters
    allowed = [n for n, p in params.items()
               if n != "display" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(map(repr, unknown))} for mode {mode!r}; "
                         f"allowed: {', '.join(allowed) or 'none'}")
    if "display" in params:
        return factory(display=display, **options)  # type: ignore[no-any-return]
    return factory(**options)  # type: ignore[no-any-return]
