"""A private X server (Xvfb): the screen the demo, tests and benchmarks record.

Never the user's own display: each VirtualDisplay picks a free display number itself.
Its processes run in sessions of their own, so a terminal's Ctrl-C reaches only the program
that started them, which stops its recording before :meth:`VirtualDisplay.close`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from types import TracebackType


class VirtualDisplayError(RuntimeError):
    """Xvfb is missing or did not start."""


class VirtualDisplay:
    """Run Xvfb (and optionally the openbox window manager) for the life of a ``with``."""

    def __init__(self, width: int = 1920, height: int = 1080, depth: int = 24,
                 window_manager: bool = False, start_timeout: float = 10.0) -> None:
        self.width, self.height, self.depth = width, height, depth
        self.window_manager = window_manager
        self.start_timeout = start_timeout
        self.display = ""
        self._procs: list[subprocess.Popen[bytes]] = []

    @property
    def env(self) -> dict[str, str]:
        """The current environment with DISPLAY pointing at this server."""
        env = dict(os.environ, DISPLAY=self.display)
        env.pop("WAYLAND_DISPLAY", None)
        return env

    def __enter__(self) -> VirtualDisplay:
        xvfb = shutil.which("Xvfb")
        if xvfb is None:
            raise VirtualDisplayError("Xvfb is not installed; run `bash scripts/setup.sh` (Debian package xvfb)")
        read_fd, write_fd = os.pipe()
        try:
            # -displayfd: Xvfb picks a free display number and writes it to us when ready
            proc = subprocess.Popen(
                [xvfb, "-displayfd", str(write_fd), "-screen", "0",
                 f"{self.width}x{self.height}x{self.depth}", "-nolisten", "tcp", "-noreset"],
                pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                start_new_session=True,
            )
            self._procs.append(proc)
            os.close(write_fd)
            write_fd = -1
            number = self._read_display_number(read_fd, proc)
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
        self.display = f":{number}"
        if self.window_manager:
            self._start_window_manager()
        return self

    def _read_display_number(self, fd: int, proc: subprocess.Popen[bytes]) -> int:
        deadline = time.monotonic() + self.start_timeout
        data = b""
        os.set_blocking(fd, False)
        while not data.endswith(b"\n"):
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                self.close()
                raise VirtualDisplayError(f"Xvfb exited with code {proc.returncode}: {err.strip()[-500:]}")
            if time.monotonic() > deadline:
                self.close()
                raise VirtualDisplayError(f"Xvfb did not start within {self.start_timeout} s")
            try:
                data += os.read(fd, 64)
            except BlockingIOError:
                time.sleep(0.01)
        return int(data.strip())

    def _start_window_manager(self) -> None:
        openbox = shutil.which("openbox")
        if openbox is None:
            raise VirtualDisplayError("openbox is not installed; run `bash scripts/setup.sh`")
        self._procs.append(subprocess.Popen([openbox], env=self.env, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, start_new_session=True))
        time.sleep(0.3)  # let it take over as the window manager before windows appear

    def close(self) -> None:
        """Stop the window manager and the server (idempotent)."""
        for proc in reversed(self._procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stderr:
                proc.stderr.close()
        self._procs.clear()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
