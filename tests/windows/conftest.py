"""Fixtures of the Windows suite: the Windows CPython under Wine on a private Xvfb screen,
started by scripts/test-windows.sh (the Linux suite skips this folder).

Real parts only: the Win32 API is Wine's, the screen grabs are GDI's, the "mstsc.exe" is a
Windows program of the tests' own (programs/mstsc.c, cross-built by the script) showing a
known picture in a window of mstsc's class.  Windows are moved and minimised through
user32, as a user's clicks would.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from polling import wait_for

from fastrec.capture.base import Region
from fastrec.capture.win32 import Win32Backend

if sys.platform != "win32":  # pragma: no cover - scripts/test-windows.sh runs this folder
    pytest.skip("the Windows suite runs under Wine: bash scripts/test-windows.sh",
                allow_module_level=True)

WAIT = 30.0  # hang guard: Wine starts processes slowly
SWP_NOSIZE, SWP_NOMOVE, SWP_NOZORDER = 0x0001, 0x0002, 0x0004
SW_MINIMIZE, SW_RESTORE = 6, 9
_user32 = ctypes.WinDLL("user32", use_last_error=True)
_user32.SetWindowPos.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                                 ctypes.c_int, ctypes.c_int, ctypes.c_uint]
_user32.ShowWindow.argtypes = [ctypes.c_void_p, ctypes.c_int]
_user32.SetForegroundWindow.argtypes = [ctypes.c_void_p]


@dataclass
class Client:
    """A running stand-in mstsc.exe and its session window."""

    process: subprocess.Popen[bytes]
    hwnd: int
    title: str

    def client_area(self) -> Region:
        """The window's client area on the screen, as Win32Backend reports it."""
        with _backend() as backend:
            (info,) = [w for w in backend.windows() if w.id == self.hwnd]
            return info.geometry

    def move(self, x: int, y: int) -> None:
        """Move the window's frame to (x, y), as a drag of its title bar would."""
        if not _user32.SetWindowPos(self.hwnd, None, x, y, 0, 0, SWP_NOSIZE | SWP_NOZORDER):
            raise ctypes.WinError(ctypes.get_last_error())

    def resize(self, width: int, height: int) -> None:
        """Give the window's frame a new size, as a drag of its border would."""
        if not _user32.SetWindowPos(self.hwnd, None, 0, 0, width, height,
                                    SWP_NOMOVE | SWP_NOZORDER):
            raise ctypes.WinError(ctypes.get_last_error())

    def minimise(self) -> None:
        _user32.ShowWindow(self.hwnd, SW_MINIMIZE)

    def restore(self) -> None:
        _user32.ShowWindow(self.hwnd, SW_RESTORE)
        _user32.SetForegroundWindow(self.hwnd)


class _backend:
    def __enter__(self) -> Win32Backend:
        self.backend = Win32Backend()
        self.backend.open()
        return self.backend

    def __exit__(self, *exc: object) -> None:
        self.backend.close()


@pytest.fixture
def mstsc(tmp_path: Path) -> Iterator[Callable[..., Client]]:
    """Start the stand-in mstsc.exe: ``mstsc(host, (x, y, width, height), *options)`` ->
    Client, once its window shows; ``program="cover.exe"`` runs the same program under a
    name that is no RDP client's.  Every one started is killed at the end."""
    programs = Path(os.environ["FASTREC_TEST_PROGRAMS"])
    started: list[subprocess.Popen[bytes]] = []

    def start(host: str = "10.0.0.5", geometry: tuple[int, int, int, int] = (200, 150, 640, 480),
              *extra: str, program: str = "mstsc.exe") -> Client:
        x, y, w, h = geometry
        process = subprocess.Popen([str(programs / program), f"/v:{host}",
                                    f"/geometry:{x},{y},{w},{h}", *extra])
        started.append(process)

        def shown() -> int | None:
            with _backend() as backend:
                for info in backend.windows():
                    if info.pid == process.pid and not info.minimised:
                        return info.id
            return None

        hwnd = wait_for(shown, WAIT, "the mstsc.exe window")
        return Client(process, hwnd, f"{host} - Remote Desktop Connection")

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(WAIT)
