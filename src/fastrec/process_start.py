"""When this process started, in epoch seconds, as ``psutil.Process().create_time()`` says;
whether a process is alive, as ``psutil.Process(pid).status()`` says.

A recorder writes its own start time beside its pid (a part's metadata, its live session) so
that a reader can tell a pid reused by another program from the recorder itself
(:func:`fastrec.storage.recovery.recorder_alive` compares it with psutil's figure, within a
tolerance).  On Linux it is read here from ``/proc`` the way psutil computes it (the
process's start in clock ticks since boot, plus the boot time): importing psutil only for it
cost every ``record`` command ~0.02 CPU-s and ~1 MB (issue 14).  Elsewhere, or when ``/proc``
cannot be read, psutil answers.  Not cached: a forked child is another process.

The same goes for :func:`process_alive`, which the shared-memory ring asks whenever a reader
finds no frame (is the producer still there?): on Linux it reads the state letter of
``/proc/<pid>/stat``, so the encoder worker does not import psutil (~1.6 MB PSS: issue 14).
"""

from __future__ import annotations

import os
import sys

__all__ = ["process_alive", "this_process_started"]

_STATE_FIELD = 0  # /proc/<pid>/stat field 3 (state), counted after the ")" of the name
_STARTTIME_FIELD = 19  # /proc/<pid>/stat field 22 (starttime), counted after the ")" of the name


def this_process_started() -> float:
    """This process's start time in epoch seconds (the value psutil gives)."""
    if sys.platform.startswith("linux"):
        try:
            return _from_proc()
        except (OSError, ValueError, IndexError):
            pass
    import psutil  # noqa: PLC0415 - not Linux, or no /proc

    return float(psutil.Process().create_time())


def process_alive(pid: int) -> bool:
    """``pid`` is a process that has not exited: neither gone nor a zombie (psutil's answer;
    True when the system will not say, as psutil's AccessDenied).  Not ``os.kill(pid, 0)``: on
    Windows that kill terminates the process, and a killed child its parent has not reaped
    yet still answers signals."""
    if sys.platform.startswith("linux"):
        try:
            return _stat_fields(str(pid))[_STATE_FIELD] != b"Z"
        except (FileNotFoundError, ProcessLookupError):
            return False
        except PermissionError:
            return True
        except (OSError, ValueError, IndexError):
            pass
    import psutil  # noqa: PLC0415 - not Linux, or no /proc

    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def _stat_fields(pid: str) -> list[bytes]:
    """The fields of ``/proc/<pid>/stat`` after the process name (which may hold spaces)."""
    with open(f"/proc/{pid}/stat", "rb") as stat:
        return stat.read().rpartition(b")")[2].split()


def _from_proc() -> float:
    ticks = int(_stat_fields("self")[_STARTTIME_FIELD])
    with open("/proc/stat", "rb") as system:
        for line in system:
            if line.startswith(b"btime"):
                return ticks / os.sysconf("SC_CLK_TCK") + float(line.split()[1])
    raise ValueError("no btime line in /proc/stat")
