"""The Win32 window sources with a MOCK user32.

Windows cannot run here, so ``FakeUser32`` below stands in for the ctypes layer
(``User32Api``) and ``FakeGrabber`` for mss: these tests check everything above the
Win32 calls -- the WindowInfo records, z-order, cloaking, mstsc's windows, pausing and
occlusion -- not the calls themselves.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field, replace

import numpy as np
import pytest

from fastrec.capture import CaptureError, Region, WindowPatterns
from fastrec.capture.win32 import ActiveWindowSource, RdpWindowSource, User32Api, Win32Backend

SCREEN = Region(0, 0, 1920, 1080)


@dataclass
class FakeWindow:
    hwnd: int
    pid: int
    exe: str
    cls: str
    title: str
    frame: Region
    client: Region
    visible: bool = True
    iconic: bool = False
    cloaked: bool = False


@dataclass
class FakeUser32:
    """MOCK of win32.User32Api: windows listed topmost first, as EnumWindows does."""

    windows: list[FakeWindow] = field(default_factory=list)
    foreground: int | None = None
    calls: int = 0

    def _get(self, hwnd: int) -> FakeWindow | None:
        self.calls += 1
        return next((w for w in self.windows if w.hwnd == hwnd), None)

    def top_level_windows(self) -> list[int]:
        return [w.hwnd for w in self.windows]

    def is_visible(self, hwnd): return bool((w := self._get(hwnd)) and w.visible)
    def is_iconic(self, hwnd): return bool((w := self._get(hwnd)) and w.iconic)
    def is_cloaked(self, hwnd): return bool((w := self._get(hwnd)) and w.cloaked)
    def window_pid(self, hwnd): return (w := self._get(hwnd)) and w.pid
    def class_name(self, hwnd): return (w := self._get(hwnd)) and w.cls or ""
    def title(self, hwnd): return (w := self._get(hwnd)) and w.title or ""
    def client_rect(self, hwnd): return (w := self._get(hwnd)) and w.client
    def frame_rect(self, hwnd): return (w := self._get(hwnd)) and w.frame
    def foreground_window(self): return self.foreground

    def process_name(self, pid):
        return next((w.exe for w in self.windows if w.pid == pid), "")

    def set(self, hwnd: int, **changes) -> None:
        self.windows = [replace(w, **changes) if w.hwnd == hwnd else w for w in self.windows]

    def raise_to_top(self, hwnd: int) -> None:
        self.windows.sort(key=lambda w: w.hwnd != hwnd)


class FakeGrabber:
    """MOCK of the mss grabber: a 1920x1080 screen whose pixels encode their x."""

    def open(self) -> None: ...
    def close(self) -> None: ...
    def monitors(self) -> list[Region]: return [SCREEN, SCREEN]

    def grab(self, region: Region) -> np.ndarray:
        frame = np.zeros((region.height, region.width, 4), np.uint8)
        frame[..., 0] = (np.arange(region.x, region.right) % 256)[None, :]
        return frame


def mstsc_desktop() -> FakeUser32:
    session_frame = Region(100, 50, 1024, 800)
    return FakeUser32([  # topmost first
        FakeWindow(0x50, 10, "explorer.exe", "Shell_TrayWnd", "", Region(0, 1040, 1920, 40),
                   Region(0, 1040, 1920, 40)),
        FakeWindow(0x40, 20, "mstsc.exe", "#32770", "Remote Desktop Connection",
                   Region(700, 300, 400, 300), Region(708, 331, 384, 261)),
        FakeWindow(0x30, 30, "notepad.exe", "Notepad", "secrets.txt - Notepad",
                   Region(900, 600, 500, 300), Region(908, 631, 484, 261)),
        FakeWindow(0x20, 20, "mstsc.exe", "TscShellContainerClass",
                   "server1 - Remote Desktop Connection", session_frame,
                   Region(108, 81, 1008, 761)),
        FakeWindow(0x25, 20, "mstsc.exe", "IHWindowClass", "", Region(0, 0, 0, 0),
                   Region(0, 0, 0, 0), visible=False),
        FakeWindow(0x10, 40, "explorer.exe", "Progman", "Program Manager", SCREEN, SCREEN),
    ])


def test_backend_lists_visible_windows_bottom_first():
    api = mstsc_desktop()
    backend = Win32Backend(api)
    backend.open()
    windows = backend.windows()
    assert [w.id for w in windows] == [0x10, 0x20, 0x30, 0x40, 0x50]  # hidden 0x25 left out
    assert [w.stacking for w in windows] == sorted(w.stacking for w in windows)
    session = windows[1]
    assert session.process_name == "mstsc.exe" and session.classes == ("TscShellContainerClass",)
    assert session.geometry == Region(108, 81, 1008, 761)  # client area
    assert session.frame == Region(100, 50, 1024, 800)  # covers others with its frame
    backend.close()


def test_rdp_source_records_the_mstsc_session_and_blanks_what_covers_it():
    api = mstsc_desktop()
    with RdpWindowSource(api=api, grabber=FakeGrabber()) as source:
        target = source.locate()
        assert target.window_id == 0x20 and target.region == Region(108, 81, 1008, 761)
        # notepad (900,600 500x300) and the dialog (700,300 400x300) are on top; the taskbar
        # is not over the window
        covered = {p.translate(target.region.x, target.region.y) for p in target.occluded}
        union = sum(p.area for p in covered)
        notepad = Region(900, 600, 500, 300).intersection(target.region)
        dialog = Region(700, 300, 400, 300).intersection(target.region)
        overlap = notepad.intersection(dialog)
        assert union == notepad.area + dialog.area - (overlap.area if overlap else 0)
        frame = source.grab(target)
        assert frame.shape == (761, 1008, 4) and frame[0, 0, 0] == 108 % 256


def test_rdp_source_pauses_when_minimised_cloaked_covered_or_closed():
    api = mstsc_desktop()
    with RdpWindowSource(api=api, grabber=FakeGrabber()) as source:
        assert source.locate() is not None
        api.set(0x20, iconic=True, client=Region(-32000, -32000, 0, 0),
                frame=Region(-32000, -32000, 160, 28))
        assert source.locate() is None and "minimised" in source.pause_reason
        api.set(0x20, iconic=False, cloaked=True, client=Region(108, 81, 1008, 761),
                frame=Region(100, 50, 1024, 800))  # moved to another virtual desktop
        assert source.locate() is None and "not shown" in source.pause_reason
        api.set(0x20, cloaked=False)
        api.set(0x30, frame=SCREEN)  # notepad maximised over everything
        assert source.locate() is None and "fully covered" in source.pause_reason
        api.set(0x30, frame=Region(900, 600, 500, 300))
        api.raise_to_top(0x20)
        assert source.locate().occluded == ()
        api.windows = [w for w in api.windows if w.pid != 20]  # mstsc exited
        assert source.locate() is None and source.pause_reason == "no rdp window"


def test_rdp_source_never_records_the_connection_dialog_alone():
    api = mstsc_desktop()
    api.windows = [w for w in api.windows if w.cls != "TscShellContainerClass"]
    with RdpWindowSource(api=api, grabber=FakeGrabber()) as source:
        assert source.locate() is None


def test_rdp_source_pinned_to_a_pid():
    api = mstsc_desktop()
    with RdpWindowSource(patterns=WindowPatterns(pids=(99,)), api=api,
                         grabber=FakeGrabber()) as source:
        assert source.locate() is None


def test_active_source_follows_the_foreground_window():
    api = mstsc_desktop()
    with ActiveWindowSource(api=api, grabber=FakeGrabber()) as source:
        api.foreground = 0x30
        api.raise_to_top(0x30)
        target = source.locate()
        assert target.window_id == 0x30 and target.title == "secrets.txt - Notepad"
        api.foreground = 0x20
        api.raise_to_top(0x20)
        assert source.locate().window_id == 0x20
        api.foreground = None
        assert source.locate() is None


def test_static_window_data_is_cached_per_hwnd():
    api = mstsc_desktop()
    backend = Win32Backend(api)
    backend.open()
    backend.windows()
    first = api.calls
    backend.windows()
    assert api.calls - first < first  # pid, process and class are read once per window


def test_win32_sources_refuse_an_x_display():
    with pytest.raises(ValueError, match="display is an X11 setting; on Windows pass None"):
        RdpWindowSource(":1", api=FakeUser32(), grabber=FakeGrabber())


@pytest.mark.skipif(sys.platform == "win32", reason="checks the non-Windows refusal")
def test_the_real_api_refuses_to_start_off_windows():
    with pytest.raises(CaptureError, match="the Win32 window backend needs Windows"):
        User32Api()


def test_importing_capture_loads_no_platform_backend():
    code = ("import sys, fastrec.capture; "
            "print(sorted(m for m in sys.modules if m.startswith(('fastrec.capture.', 'Xlib'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert "fastrec.capture.win32" not in out and "fastrec.capture.x11" not in out
    assert "Xlib" not in out
