"""Start the engine's child processes (capture loops, encoder workers).

Not multiprocessing's spawn: spawn re-imports the host application's main script in every
child (a GUI toolkit in the capture process, or a crash if the script lacks a
``__main__`` guard) and starts a resource-tracker process.  A child here is a fresh
interpreter that imports only fastrec and runs one function with one duplex
:class:`~multiprocessing.connection.Connection` to the parent: a socket pair whose child
end is inherited (POSIX), a named pipe's end on Windows.  Objects sent over it are pickled as by multiprocessing, file
descriptors included (ring endpoints), so the child shares the parent's authkey.

Start-up (issue 14): a child can be started ahead of need (:func:`prestart`): it imports
the module its target will come from while the parent gets on with other things, then waits
for :func:`run` to name the target; one that is never used sees EOF and exits.  Children run
with OpenBLAS limited to one thread (the engine does no linear algebra, and numpy's import
otherwise starts a BLAS thread per core: CPU at every start) and at most two malloc arenas
(the per-thread arenas of glibc hold memory no frame needs), unless the environment already
sets those variables.  On Linux a child turns transparent huge pages off for itself
(``PR_SET_THP_DISABLE``) before it imports anything: libx264 asks for huge pages on every
buffer over 1.75 MB (``madvise(MADV_HUGEPAGE)``), and a huge page is resident whole, so
at 1080p the encoder held ~4 MB of pages it never touched; the encoded bytes are the same
(issue 14, benchmarks/README.md "Memory of the tree").  Once it has imported its module it
hands the heap's free pages back (``malloc_trim``: what the imports freed, ~0.5-0.8 MB).

Liveness: the child sees EOF on its connection when the parent is gone; the parent
polls :meth:`Child.poll` (no zombie is left: :meth:`Child.join` reaps it).

Windows: the child's end is one end of a duplex named pipe (multiprocessing's
PipeConnection), the only handle it inherits (``handle_list``); it runs with a console of
its own, without a window, and in a process group of its own, so the console events of the
host's console -- Ctrl-C, Ctrl-Break, closing its window -- reach the host alone, which
stops the recording and seals the files as on POSIX.

Signals (POSIX): every child runs in a session (and so a process group) of its own.  A terminal's
Ctrl-C signals its foreground process group, and the parent alone decides when recording
stops and the files are sealed; with the children outside that group no SIGINT can cut a
segment off, and the parent needs no "ignore SIGINT while spawning" dance (which lost
signals).  Outside the terminal's session a child also has no controlling terminal, so
its log lines on the inherited stderr never stop it (SIGTTOU) and a closed terminal
(SIGHUP) does not kill it: it still exits when its connection reaches EOF.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import socket
import subprocess
import sys
from importlib import import_module
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NamedTuple


# argv: [python, -c, _BOOT, package root, fd, name, module to import ahead ("" none)];
# the name makes `ps` readable
_BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from fastrec.engine.launch import _child_main; _child_main()"
_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding the fastrec package
# Windows' equivalent of a session of its own: a console of its own, without a window, so
# the host's console events (Ctrl-C, Ctrl-Break, its window closed) reach the host alone
# (see above); and a process group of its own, so no Ctrl-C is ever sent to it by group
_WINDOWS_FLAGS = getattr(subprocess, "CREATE_NO_WINDOW", 0) | getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)


class Target(NamedTuple):
    """A child's function by name: what a parent launches without importing the module
    that defines it (the supervisor does not import the capture loop's or the encoder
    worker's numpy, PyAV or compiled core: issue 14)."""

    module: str
    qualname: str


def _named(target: Callable[..., None] | Target) -> Target:
    if isinstance(target, Target):
        return target
    return Target(target.__module__, target.__qualname__)


class Child:
    """A running child process and the parent's end of its connection."""

    def __init__(self, popen: subprocess.Popen[bytes], conn: Connection, name: str) -> None:
        self._popen = popen
        self.conn = conn
        self.name = name

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def exitcode(self) -> int | None:
        """The exit code once it has exited (negative: killed by that signal), else None."""
        return self._popen.poll()

    def is_alive(self) -> bool:
        return self._popen.poll() is None

    def join(self, timeout: float | None = None) -> None:
        """Wait up to ``timeout`` seconds for it to exit (reaping it)."""
        try:
            self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pass

    def kill(self) -> None:
        if self.is_alive():
            self._popen.kill()
        self._popen.wait()

    def __repr__(self) -> str:
        return f"<Child {self.name} pid={self.pid} exitcode={self.exitcode}>"


# what the children run with unless the environment says otherwise (see the module docstring)
CHILD_ENV = {"OPENBLAS_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2"}


def start(target: Callable[..., None] | Target, *args: Any, name: str) -> Child:
    """Run ``target(conn, *args)`` in a new interpreter; ``target`` must be a module-level
    function of fastrec (or its :class:`Target`) and ``args`` picklable (sockets and ring
    endpoints included)."""
    return run(prestart(_named(target).module, name=name), target, *args)


def prestart(module: str, *, name: str) -> Child:
    """Start an interpreter that imports ``module`` and then waits for :func:`run`."""
    if getattr(sys, "frozen", False):  # sys.executable is the application, not a Python
        raise NotImplementedError("fastrec's engine processes cannot start from a frozen "
                                  "application (PyInstaller, cx_Freeze) yet: run it on a Python interpreter")
    argv = [sys.executable, "-c", _BOOT, _ROOT, "", name, module]
    env = {**CHILD_ENV, **os.environ}
    popen, conn = _start_windows(argv, env) if os.name == "nt" else _start_posix(argv, env)
    # the authkey first: unpickling the arguments may already fetch file descriptors
    conn.send(bytes(mp.current_process().authkey))
    return Child(popen, conn, name)


def run(child: Child, target: Callable[..., None] | Target, *args: Any) -> Child:
    """Have a :func:`prestart` child run ``target(conn, *args)``; returns it."""
    module, qualname = _named(target)
    child.conn.send((module, qualname, args))
    return child


def _start_posix(argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Connection]:
    mine, theirs = socket.socketpair()
    argv[4] = str(theirs.fileno())
    try:
        popen = subprocess.Popen(
            argv, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, env=env,
            start_new_session=True)  # out of reach of the terminal's Ctrl-C: see above
    except BaseException:
        mine.close()
        raise
    finally:
        theirs.close()
    return popen, Connection(mine.detach())


def _start_windows(argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Connection]:
    # A duplex named pipe (multiprocessing's own PipeConnection); the child's end is the
    # one handle it inherits (handle_list), so no other handle of the host leaks into it.
    mine, theirs = mp.Pipe(duplex=True)
    try:
        handle = theirs.fileno()
        os.set_handle_inheritable(handle, True)
        info = subprocess.STARTUPINFO(lpAttributeList={"handle_list": [handle]})
        argv[4] = str(handle)
        popen = subprocess.Popen(
            argv, startupinfo=info, close_fds=True, stdin=subprocess.DEVNULL, env=env,
            creationflags=_WINDOWS_FLAGS)
    except BaseException:
        mine.close()
        raise
    finally:
        theirs.close()
    return popen, mine  # type: ignore[return-value]  # PipeConnection: same interface


def send(conn: Connection, message: Any) -> bool:
    """Send on a parent/child connection; False (nothing raised) when the other side is
    gone - its exit is noticed and handled where the connection is read."""
    try:
        conn.send(message)
    except OSError:
        return False
    return True


# prctl(2): this process (and what it starts) gets no transparent huge pages, even where
# it asks for them with madvise
_PR_SET_THP_DISABLE = 41


def libc_call(name: str, *args: int) -> None:
    """Call a C library function of this process on Linux, if the libc has it (glibc, musl
    lacks malloc_trim); elsewhere nothing.  Only memory is at stake: a failure is ignored."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes  # the children import it anyway (mss, the fragment flush)

    try:
        getattr(ctypes.CDLL(None), name)(*args)
    except (OSError, AttributeError):
        pass


def _child_main() -> None:
    libc_call("prctl", _PR_SET_THP_DISABLE, 1, 0, 0, 0)  # before any import allocates
    conn: Any
    if os.name == "nt":
        from multiprocessing.connection import PipeConnection  # type: ignore[attr-defined]

        conn = PipeConnection(int(sys.argv[2]))
    else:
        conn = Connection(int(sys.argv[2]))
    mp.current_process().authkey = conn.recv()
    mp.current_process().name = sys.argv[3]
    if sys.argv[4]:
        import_module(sys.argv[4])  # while the parent has not named the target yet
        libc_call("malloc_trim", 0)  # what the imports freed goes back to the system
    try:
        module, qualname, args = conn.recv()
    except EOFError:
        return  # a child started ahead that was not needed
    target: Any = import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    target(conn, *args)
