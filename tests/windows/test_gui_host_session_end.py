"""A GUI host (no console: pythonw.exe) seals its recording when Windows ends the user's
session (issue 10): it calls RecordingManager.shutdown() on WM_ENDSESSION, as the README's
Platforms section tells an embedding application to; the engine's processes stop with it.
The test sends the two messages Windows sends at logoff (WM_QUERYENDSESSION, then
WM_ENDSESSION) to the host's window."""

from __future__ import annotations

import ctypes
import subprocess
import sys
from pathlib import Path

import psutil
from conftest import WAIT
from polling import wait_for
from videos import decode

from fastrec.capture.win32 import Win32Backend
from fastrec.storage import iter_metadata, verify_session

# a window program embedding fastrec: records the screen, and on WM_ENDSESSION shuts the
# recorder down (files sealed) before Windows ends the process
HOST = r"""
import ctypes, sys
from ctypes import wintypes
from fastrec import RecordingManager, load_settings

WM_DESTROY, WM_ENDSESSION = 0x0002, 0x0016
user32 = ctypes.WinDLL("user32", use_last_error=True)
WNDPROC = ctypes.WINFUNCTYPE(ctypes.c_ssize_t, wintypes.HWND, wintypes.UINT, wintypes.WPARAM,
                             wintypes.LPARAM)
user32.DefWindowProcW.argtypes = [wintypes.HWND, wintypes.UINT, wintypes.WPARAM, wintypes.LPARAM]
user32.DefWindowProcW.restype = ctypes.c_ssize_t
user32.CreateWindowExW.restype = wintypes.HWND
user32.CreateWindowExW.argtypes = [wintypes.DWORD, wintypes.LPCWSTR, wintypes.LPCWSTR,
    wintypes.DWORD, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, wintypes.HWND,
    wintypes.HMENU, wintypes.HINSTANCE, wintypes.LPVOID]

manager = RecordingManager(load_settings(enabled=True, output_dir=sys.argv[1], fps=10,
                                         encoder_workers=1), mode="full_screen",
                           cleanup_schedule=False)

def proc(hwnd, msg, wparam, lparam):
    if msg == WM_ENDSESSION and wparam:
        manager.shutdown()  # stops the session and seals its files
        user32.PostQuitMessage(0)
        return 0
    if msg == WM_DESTROY:
        user32.PostQuitMessage(0)
        return 0
    return user32.DefWindowProcW(hwnd, msg, wparam, lparam)

callback = WNDPROC(proc)

class WNDCLASSW(ctypes.Structure):
    _fields_ = [("style", wintypes.UINT), ("lpfnWndProc", WNDPROC), ("cbClsExtra", ctypes.c_int),
                ("cbWndExtra", ctypes.c_int), ("hInstance", wintypes.HINSTANCE),
                ("hIcon", wintypes.HICON), ("hCursor", wintypes.HANDLE),
                ("hbrBackground", wintypes.HBRUSH), ("lpszMenuName", wintypes.LPCWSTR),
                ("lpszClassName", wintypes.LPCWSTR)]

wc = WNDCLASSW(lpfnWndProc=callback, lpszClassName="FastrecGuiHost")
user32.RegisterClassW(ctypes.byref(wc))
hwnd = user32.CreateWindowExW(0, "FastrecGuiHost", "Connection manager", 0x10CF0000,
                              900, 500, 300, 150, None, None, None, None)
manager.initialize()
manager.start_session_recording("gui", {"name": "Server"})
msg = wintypes.MSG()
while user32.GetMessageW(ctypes.byref(msg), None, 0, 0) > 0:
    user32.TranslateMessage(ctypes.byref(msg))
    user32.DispatchMessageW(ctypes.byref(msg))
"""

WM_QUERYENDSESSION, WM_ENDSESSION = 0x0011, 0x0016
ENDSESSION_LOGOFF = 0x80000000
SMTO_NORMAL = 0


def _send(hwnd: int, message: int, wparam: int, lparam: int) -> None:
    user32 = ctypes.WinDLL("user32", use_last_error=True)
    user32.SendMessageTimeoutW.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_size_t,
                                           ctypes.c_ssize_t, ctypes.c_uint, ctypes.c_uint,
                                           ctypes.c_void_p]
    result = ctypes.c_size_t(0)
    # Windows waits about 5 s for WM_ENDSESSION; the test waits as long as its hang guard
    user32.SendMessageTimeoutW(hwnd, message, wparam, lparam, SMTO_NORMAL,
                               int(WAIT * 1000), ctypes.byref(result))


def test_a_gui_host_seals_the_recording_when_the_session_ends(tmp_path: Path, mstsc):
    mstsc()  # something changing on the screen
    script = tmp_path / "host.pyw"
    script.write_text(HOST)
    out = tmp_path / "rec"
    pythonw = Path(sys.executable).with_name("pythonw.exe")
    host = subprocess.Popen([str(pythonw), str(script), str(out)])
    try:
        def host_window() -> int | None:
            backend = Win32Backend()
            backend.open()
            try:
                return next((w.id for w in backend.windows()
                             if w.pid == host.pid and w.title == "Connection manager"), None)
            finally:
                backend.close()

        hwnd = wait_for(host_window, WAIT, "the host's window")
        video = wait_for(lambda: next((p for p in out.glob("*.mp4") if p.stat().st_size), None),
                         WAIT, "the recording on disk")
        children = psutil.Process(host.pid).children(recursive=True)
        _send(hwnd, WM_QUERYENDSESSION, 0, ENDSESSION_LOGOFF)
        _send(hwnd, WM_ENDSESSION, 1, ENDSESSION_LOGOFF)
        assert host.wait(WAIT) == 0
        gone, alive = psutil.wait_procs(children, timeout=WAIT)
        assert not alive
    finally:
        if host.poll() is None:
            host.kill()
            host.wait(WAIT)
    (meta,) = [m for _, m in iter_metadata(out)]
    assert meta.status == "complete"
    assert verify_session(out, "gui").ok
    assert len(decode(video)) == meta.frames.encoded > 0
