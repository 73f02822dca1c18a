"""Win32 window sources, through ctypes (user32, kernel32, dwmapi).

Run for real under Wine with the Windows CPython (tests/windows, scripts/test-windows.sh):
the ctypes layer (:class:`User32Api`) lists, follows and pauses a window of mstsc's class,
and the foreground window.  The logic above it is also tested on Linux against a fake API
(tests/capture/test_capture_win32.py).  Only a real Windows shows: coordinates in physical
pixels on a scaled (high-DPI) monitor, cloaked windows on other virtual desktops, the
frame bounds real DWM reports, and the real, full-screen mstsc.

How it works:

* Windows in z-order: ``EnumWindows`` lists top-level windows topmost first.  It builds
  its list in one go, unlike a ``GetWindow(GW_HWNDNEXT)`` walk, which stops early when a
  window is destroyed mid-walk -- that would lose the windows covering ours.
* Only ``IsWindowVisible`` windows are listed.  Minimised: ``IsIconic``.  A *cloaked*
  window (``DWMWA_CLOAKED``: on another virtual desktop, a suspended store app) counts as
  not shown: it neither records nor covers.
* Region: the client area (``GetClientRect`` + ``ClientToScreen``), i.e. the remote
  desktop without mstsc's title bar, as on X11.  What a window covers: its visible frame
  (``DWMWA_EXTENDED_FRAME_BOUNDS``, without the invisible resize borders of Windows 10+;
  ``GetWindowRect`` when DWM does not answer).
* Process: ``GetWindowThreadProcessId`` + ``QueryFullProcessImageNameW`` (basename).
* Focus: ``GetForegroundWindow``.
* Pixels and DPI: the mss grabber makes the process per-monitor DPI aware when it opens,
  so window rectangles and grabs are both in physical pixels; the grabber opens before the
  first window query.
* Transparent overlays (layered, click-through windows some drivers put over the screen)
  count as covering what is under them: privacy first, at the price of a pause.
* ``damaged()`` returns ``None``: Windows has no X DAMAGE (DXGI dirty rectangles would be
  the equivalent, not done).
"""

from __future__ import annotations

import ntpath
import sys
from dataclasses import dataclass
from typing import Any, Protocol

from fastrec.capture.base import CaptureError, Region
from fastrec.capture.grabber import Grabber, ScreenGrabber
from fastrec.capture.matching import WindowInfo, WindowPatterns
from fastrec.capture.tracking import ActiveWindowTracker, RdpWindowTracker

DWMWA_EXTENDED_FRAME_BOUNDS = 9
DWMWA_CLOAKED = 14
PROCESS_QUERY_LIMITED_INFORMATION = 0x1000


class Win32Api(Protocol):
    """The few user32/kernel32/dwmapi calls the backend needs (faked in tests)."""

    def top_level_windows(self) -> list[int]:
        """HWNDs of all top-level windows, topmost first (``EnumWindows``)."""
        ...

    def is_visible(self, hwnd: int) -> bool: ...
    def is_iconic(self, hwnd: int) -> bool: ...
    def is_cloaked(self, hwnd: int) -> bool: ...
    def window_pid(self, hwnd: int) -> int | None: ...
    def process_name(self, pid: int) -> str: ...
    def class_name(self, hwnd: int) -> str: ...
    def title(self, hwnd: int) -> str: ...

    def client_rect(self, hwnd: int) -> Region | None:
        """The client area in screen coordinates; ``None`` if the window is gone."""
        ...

    def frame_rect(self, hwnd: int) -> Region | None:
        """The visible frame in screen coordinates; ``None`` if the window is gone."""
        ...

    def foreground_window(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class _Static:
    pid: int | None
    process_name: str
    classes: tuple[str, ...]


class Win32Backend:
    """The window list of the Windows desktop (see the module docstring)."""

    def __init__(self, api: Win32Api | None = None) -> None:
        self._api_given = api
        self._api: Win32Api | None = None
        self._static: dict[int, _Static] = {}

    def open(self) -> None:
        if self._api is None:
            self._api = self._api_given if self._api_given is not None else User32Api()

    def close(self) -> None:
        self._api = None
        self._static.clear()

    def _require(self) -> Win32Api:
        if self._api is None:
            raise CaptureError("Win32Backend is not open")
        return self._api

    def windows(self) -> list[WindowInfo]:
        api = self._require()
        hwnds = api.top_level_windows()
        result: list[WindowInfo] = []
        seen: set[int] = set()
        for position, hwnd in enumerate(hwnds):
            if not api.is_visible(hwnd):
                continue  # hidden helper windows: they neither record nor cover
            info = self._info(api, hwnd, stacking=len(hwnds) - 1 - position)
            if info is not None:
                result.append(info)
                seen.add(hwnd)
        for hwnd in [h for h in self._static if h not in seen]:
            del self._static[hwnd]  # HWNDs get reused: never trust a stale entry
        result.reverse()  # bottom first, like every backend
        return result

    def _info(self, api: Win32Api, hwnd: int, stacking: int) -> WindowInfo | None:
        client = api.client_rect(hwnd)
        frame = api.frame_rect(hwnd)
        if client is None or frame is None:
            return None  # destroyed while we looked
        static = self._static.get(hwnd)
        if static is None:
            pid = api.window_pid(hwnd)
            name = api.process_name(pid) if pid else ""
            static = _Static(pid, name, (api.class_name(hwnd),))
            self._static[hwnd] = static
        return WindowInfo(
            id=hwnd, geometry=client, frame=frame, pid=static.pid,
            process_name=static.process_name, classes=static.classes, title=api.title(hwnd),
            mapped=not api.is_cloaked(hwnd), minimised=api.is_iconic(hwnd), stacking=stacking,
        )

    def active_window(self) -> int | None:
        return self._require().foreground_window()

    def damaged(self, region: Region | None) -> bool | None:
        return None

    def damage(self, region: Region | None) -> list[Region] | None:
        return None  # no X DAMAGE: every changed frame is a whole GDI grab


class User32Api:
    """:class:`Win32Api` through ctypes.  Windows only (raises :class:`CaptureError`
    elsewhere); see the module docstring for where it has run."""

    def __init__(self) -> None:
        platform = sys.platform  # a plain name: type checkers on Linux then check what follows
        if platform != "win32":
            raise CaptureError(f"the Win32 window backend needs Windows; this is {platform}")
        import ctypes
        from ctypes import wintypes

        self._ctypes = ctypes
        self._wt = wintypes
        windll: Any = getattr(ctypes, "WinDLL")  # noqa: B009 - absent from non-Windows stubs
        user32 = windll("user32", use_last_error=True)
        try:
            self._dwm = windll("dwmapi")
            self._dwm.DwmGetWindowAttribute.argtypes = [
                wintypes.HWND, wintypes.DWORD, ctypes.c_void_p, wintypes.DWORD]
            self._dwm.DwmGetWindowAttribute.restype = ctypes.c_long  # HRESULT
        except OSError:  # no DWM (very old Windows): fall back to GetWindowRect
            self._dwm = None
        self._enum_proc = getattr(ctypes, "WINFUNCTYPE")(  # noqa: B009
            wintypes.BOOL, wintypes.HWND, wintypes.LPARAM)
        hwnd = wintypes.HWND
        signatures: list[tuple[str, list[Any], Any]] = [
            ("EnumWindows", [self._enum_proc, wintypes.LPARAM], wintypes.BOOL),
            ("IsWindowVisible", [hwnd], wintypes.BOOL),
            ("IsIconic", [hwnd], wintypes.BOOL),
            ("GetWindowThreadProcessId", [hwnd, ctypes.POINTER(wintypes.DWORD)], wintypes.DWORD),
            ("GetClassNameW", [hwnd, wintypes.LPWSTR, ctypes.c_int], ctypes.c_int),
            ("GetWindowTextLengthW", [hwnd], ctypes.c_int),
            ("GetWindowTextW", [hwnd, wintypes.LPWSTR, ctypes.c_int], ctypes.c_int),
            ("GetClientRect", [hwnd, ctypes.POINTER(wintypes.RECT)], wintypes.BOOL),
            ("ClientToScreen", [hwnd, ctypes.POINTER(wintypes.POINT)], wintypes.BOOL),
            ("GetWindowRect", [hwnd, ctypes.POINTER(wintypes.RECT)], wintypes.BOOL),
            ("GetForegroundWindow", [], hwnd),
        ]
        for name, args, res in signatures:
            fn = getattr(user32, name)
            fn.argtypes, fn.restype = args, res
        self._user32 = user32

    def top_level_windows(self) -> list[int]:
        found: list[int] = []

        def collect(hwnd: int | None, _lparam: int) -> bool:
            if hwnd:
                found.append(int(hwnd))
            return True

        if not self._user32.EnumWindows(self._enum_proc(collect), 0):
            error = getattr(self._ctypes, "get_last_error")()  # noqa: B009 - Windows only
            raise CaptureError(f"EnumWindows failed (error {error})")
        return found

    def is_visible(self, hwnd: int) -> bool:
        return bool(self._user32.IsWindowVisible(hwnd))

    def is_iconic(self, hwnd: int) -> bool:
        return bool(self._user32.IsIconic(hwnd))

    def is_cloaked(self, hwnd: int) -> bool:
        if self._dwm is None:
            return False
        cloaked = self._wt.DWORD(0)
        hr = self._dwm.DwmGetWindowAttribute(hwnd, DWMWA_CLOAKED, self._ctypes.byref(cloaked),
                                             self._ctypes.sizeof(cloaked))
        return hr == 0 and cloaked.value != 0

    def window_pid(self, hwnd: int) -> int | None:
        pid = self._wt.DWORD(0)
        self._user32.GetWindowThreadProcessId(hwnd, self._ctypes.byref(pid))
        return int(pid.value) or None

    def process_name(self, pid: int) -> str:
        return process_image_name(pid)

    def class_name(self, hwnd: int) -> str:
        buf = self._ctypes.create_unicode_buffer(257)  # class names are at most 256 chars
        n = self._user32.GetClassNameW(hwnd, buf, len(buf))
        return buf.value[:n]

    def title(self, hwnd: int) -> str:
        length = self._user32.GetWindowTextLengthW(hwnd)
        if length <= 0:
            return ""
        buf = self._ctypes.create_unicode_buffer(length + 1)
        n = self._user32.GetWindowTextW(hwnd, buf, len(buf))
        return buf.value[:n]

    def client_rect(self, hwnd: int) -> Region | None:
        rect, origin = self._wt.RECT(), self._wt.POINT(0, 0)
        if not self._user32.GetClientRect(hwnd, self._ctypes.byref(rect)):
            return None
        if not self._user32.ClientToScreen(hwnd, self._ctypes.byref(origin)):
            return None
        return Region(origin.x, origin.y, max(0, rect.right - rect.left),
                      max(0, rect.bottom - rect.top))

    def frame_rect(self, hwnd: int) -> Region | None:
        rect = self._wt.RECT()
        if self._dwm is not None:
            hr = self._dwm.DwmGetWindowAttribute(hwnd, DWMWA_EXTENDED_FRAME_BOUNDS,
                                                 self._ctypes.byref(rect),
                                                 self._ctypes.sizeof(rect))
            if hr == 0:
                return Region.from_edges(rect.left, rect.top, rect.right, rect.bottom)
        if not self._user32.GetWindowRect(hwnd, self._ctypes.byref(rect)):
            return None
        return Region.from_edges(rect.left, rect.top, rect.right, rect.bottom)

    def foreground_window(self) -> int | None:
        hwnd = self._user32.GetForegroundWindow()
        return int(hwnd) if hwnd else None


def process_image_name(pid: int) -> str:
    """The executable's file name of process ``pid`` (``QueryFullProcessImageNameW``), or ""
    when it cannot be opened (elevated, protected or gone).  Windows only.

    Needs only PROCESS_QUERY_LIMITED_INFORMATION, which the desktop's processes grant; the
    connection monitor falls back on it where psutil's name() fails (under Wine, which
    lacks the NtQuerySystemInformation class psutil asks).
    """
    import ctypes
    from ctypes import wintypes

    kernel32 = getattr(ctypes, "WinDLL")("kernel32", use_last_error=True)  # noqa: B009
    kernel32.OpenProcess.argtypes = [wintypes.DWORD, wintypes.BOOL, wintypes.DWORD]
    kernel32.OpenProcess.restype = wintypes.HANDLE
    kernel32.QueryFullProcessImageNameW.argtypes = [
        wintypes.HANDLE, wintypes.DWORD, wintypes.LPWSTR, ctypes.POINTER(wintypes.DWORD)]
    kernel32.QueryFullProcessImageNameW.restype = wintypes.BOOL
    kernel32.CloseHandle.argtypes = [wintypes.HANDLE]
    handle = kernel32.OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
    if not handle:
        return ""  # an elevated or protected process: no name, no process match
    try:
        size = wintypes.DWORD(32768)
        buf = ctypes.create_unicode_buffer(size.value)
        if not kernel32.QueryFullProcessImageNameW(handle, 0, buf, ctypes.byref(size)):
            return ""
        return ntpath.basename(buf.value)
    finally:
        kernel32.CloseHandle(handle)


def window_backend(display: str | None = None) -> Win32Backend:
    """The desktop's window list (full-screen sources with window privacy rules)."""
    if display is not None:
        raise ValueError(f"display is an X11 setting; on Windows pass None, got {display!r}")
    return Win32Backend()


class RdpWindowSource(RdpWindowTracker):
    """RECORDING_MODE=rdp_window on Windows: the mstsc.exe session window (or another
    client matched by ``patterns``).  ``api``/``grabber``: test doubles."""

    def __init__(self, display: str | None = None, patterns: WindowPatterns | None = None, *,
                 api: Win32Api | None = None, grabber: Grabber | None = None) -> None:
        if display is not None:
            raise ValueError(f"display is an X11 setting; on Windows pass None, got {display!r}")
        super().__init__(Win32Backend(api), grabber if grabber is not None else ScreenGrabber(),
                         patterns)


class ActiveWindowSource(ActiveWindowTracker):
    """RECORDING_MODE=active_window on Windows: the foreground window."""

    def __init__(self, display: str | None = None, *, api: Win32Api | None = None,
                 grabber: Grabber | None = None) -> None:
        if display is not None:
            raise ValueError(f"display is an X11 setting; on Windows pass None, got {display!r}")
        super().__init__(Win32Backend(api), grabber if grabber is not None else ScreenGrabber())
