"""`python -m fastrec ...` as the tests run it: to completion (:func:`fastrec`) or as a
terminal's foreground job that a test watches and interrupts (:class:`Job`).

The child never inherits the developer's RECORDING_* / FASTREC_* variables: a test's
settings are the ones it passes."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

_OURS = ("RECORDING_", "FASTREC_", "SESSION_SHARE_LINK_")


def environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without fastrec's settings, plus ``env``."""
    result = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    result.update(env or {})
    return result


def fastrec(*args: str, cwd: Path, timeout: float = 60, env: dict[str, str] | None = None,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m fastrec ARGS`` to its end; standard input is ``input`` (else empty)."""
    return subprocess.run([sys.executable, "-m", "fastrec", *args], check=False, cwd=cwd, env=environment(env),
                          input=input if input is not None else "", capture_output=True, text=True,
                          timeout=timeout)


def free_port() -> int:
    """A TCP port free on loopback now (the OS's choice) for a server a test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Job:
    """A command run as a terminal's foreground job: in its own session and process group,
    so that :meth:`interrupt` signals every process in the group, as Ctrl-C does.  Both
    output pipes are read all the time (a full pipe would block the command)."""

    def __init__(self, *args: str, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "fastrec", *args], cwd=cwd, env=environment(env),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True)
        self.stdout_lines: queue.Queue[str] = queue.Queue()
        self.stderr_lines: queue.Queue[str] = queue.Queue()
        self._stdout: list[str] = []
        self._stderr: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(self.proc.stdout, self._stdout, self.stdout_lines),
                                          daemon=True),
                         threading.Thread(target=self._read, args=(self.proc.stderr, self._stderr, self.stderr_lines),
                                          daemon=True)]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(pipe: IO[str] | None, lines: list[str], notify: queue.Queue[str]) -> None:
        assert pipe is not None
        for line in pipe:
            lines.append(line)
            notify.put(line)
        notify.put("")  # EOF

    def _wait_for(self, lines: queue.Queue[str], pattern: str, timeout: float) -> re.Match[str]:
        while True:
            line = lines.get(timeout=timeout)
            assert line, (f"exited before printing {pattern!r}:\n{''.join(self._stdout)}\n"
                          f"{''.join(self._stderr)}")
            found = re.search(pattern, line)
            if found:
                return found

    def wait_for_stderr(self, pattern: str, timeout: float = 30) -> str:
        """The first standard-error line matching ``pattern`` (fails at EOF or timeout)."""
        return self._wait_for(self.stderr_lines, pattern, timeout).string

    def wait_for_stdout(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        """The match in the first standard-output line matching ``pattern`` (fails at EOF or timeout)."""
        return self._wait_for(self.stdout_lines, pattern, timeout)

    def interrupt(self, signum: int = signal.SIGINT) -> None:
        os.killpg(self.proc.pid, signum)

    def finish(self, timeout: float = 30) -> tuple[int, str, str]:
        """Exit code, standard output and standard error; kills the group after ``timeout``."""
        try:
            self.proc.wait(timeout)
        finally:
            self.kill()
        for reader in self._readers:
            reader.join(10)
        return self.proc.returncode, "".join(self._stdout), "".join(self._stderr)

    def kill(self) -> None:
        """Kill the group if it still runs (a test's ``finally``)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
