"""Screen pixels through mss (XShm on X11, GDI on Windows), as numpy BGRA frames.

Two ways to grab: :meth:`ScreenGrabber.grab` returns the caller's own array (mss copies out
of its shared memory), :meth:`ScreenGrabber.grab_view` a read-only view of the shared
memory itself, valid until the next grab: no copy, and the capture loop uses it for the
damaged rectangles of a frame one after another (XShmGetImage of a sub-rectangle writes
``width x height`` packed pixels at the start of the segment).  The view needs mss's XCB
XShmGetImage backend (mss >= 10.2, a local X server); anywhere else - an older mss, a
remote display, Windows' GDI - ``grab_view`` is ``grab``, so callers need no second path.
"""

from __future__ import annotations

import contextlib
import sys
from types import TracebackType
from typing import Any, Literal, Protocol, Self

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


def grab_view(grabber: Grabber, region: Region) -> np.ndarray:
    """``grabber.grab_view(region)`` where the grabber has it (a zero-copy view, valid until
    the next grab), else its ``grab``: fakes and other platforms' grabbers only grab."""
    view = getattr(grabber, "grab_view", None)
    return view(region) if view is not None else grabber.grab(region)


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
        self._shm: _ShmView | Literal[False] | None = None  # False: no zero-copy grabs here

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
        if self._shm:
            self._shm.release()
        self._shm = None
        if self._sct is not None:
            try:
                self._sct.close()
            except BufferError:
                # a view from grab_view is still referenced: leave the mapping to it (freed
                # with the last view) and close the rest
                _ShmView.orphan(self._sct)
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

    def grab_view(self, region: Region) -> np.ndarray:
        """The (h, w, 4) BGRA pixels of ``region`` as a read-only view of the shared memory
        (no copy), valid until the next grab; a fresh array where that is not possible."""
        sct = self._require()
        if self._shm is None:
            self._shm = _ShmView.attach(sct)
        if self._shm is not False:
            try:
                return self._shm.grab(region)
            except ScreenShotError as exc:
                raise CaptureError(f"cannot grab {region}: {exc}") from exc
        return self.grab(region)

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


class _ShmView:
    """Zero-copy XShmGetImage of any rectangle into mss's own shared-memory segment.

    mss (>= 10.2, XCB backend) owns the connection and the segment; this reads them through
    its implementation object, checked at :meth:`attach`: any other mss, or a segment that
    cannot be used (remote display), leaves ``grab_view`` to copy through ``grab``.
    """

    def __init__(self, impl: Any, xcb: Any, all_planes: int) -> None:
        self._impl, self._xcb, self._all_planes = impl, xcb, all_planes
        # one export of the read-only mapping, sliced per grab
        self._pixels: np.ndarray | None = np.frombuffer(impl._buf, dtype=np.uint8)

    @classmethod
    def attach(cls, sct: mss.MSS) -> _ShmView | Literal[False]:
        if not sys.platform.startswith("linux"):
            return False
        try:
            from mss.linux import xcb  # noqa: PLC0415 - mss >= 10.2 only
            from mss.linux.base import ALL_PLANES  # noqa: PLC0415
            from mss.linux.xshmgetimage import MSSImplXShmGetImage, ShmStatus  # noqa: PLC0415
        except ImportError:
            return False
        impl = getattr(sct, "_impl", None)
        if not isinstance(impl, MSSImplXShmGetImage):
            return False
        if impl.shm_status == ShmStatus.UNKNOWN:
            # mss's own first grab decides whether XShm works here (else it falls back)
            with contextlib.suppress(ScreenShotError):
                impl.grab({"left": 0, "top": 0, "width": 1, "height": 1})
        if impl.shm_status != ShmStatus.AVAILABLE or getattr(impl, "_buf", None) is None \
                or getattr(impl, "_shmseg", None) is None:
            return False
        return cls(impl, xcb, ALL_PLANES)

    def grab(self, region: Region) -> np.ndarray:
        impl, pixels = self._impl, self._pixels
        assert pixels is not None, "grab after release"
        size = region.width * region.height * 4
        if size > pixels.size:
            raise ScreenShotError(f"{region} is larger than the screen's shared-memory segment")
        reply = self._xcb.shm_get_image(impl.conn, impl.drawable, region.x, region.y, region.width,
                                        region.height, self._all_planes, self._xcb.ImageFormat.ZPixmap,
                                        impl._shmseg, 0)
        if reply.depth != impl.drawable_depth:
            raise ScreenShotError(f"XShmGetImage returned depth {reply.depth}, "
                                  f"expected {impl.drawable_depth}")
        view = pixels[:size].reshape(region.height, region.width, 4)
        return view

    @staticmethod
    def orphan(sct: mss.MSS) -> None:
        """Make mss forget its mapping (still exported by a live view) so it can close."""
        sct._impl._buf = None  # type: ignore[attr-defined]

    def release(self) -> None:
        """Drop the export of mss's mapping, so mss can close it."""
        self._pixels = None
