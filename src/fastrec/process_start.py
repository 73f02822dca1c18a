"""When this process started, in epoch seconds, as ``psutil.Process().create_time()`` says.

A recorder writes its own start time beside its pid (a part's metadata, its live session) so
that a reader can tell a pid reused by another program from the recorder itself
(:func:`fastrec.storage.recovery.recorder_alive` compares it with psutil's figure, within a
tolerance).  On Linux it is read here from ``/proc`` the way psutil computes it (the
process's start in clock ticks since boot, plus the boot time): importing psutil only for it
cost every ``record`` command ~0.02 CPU-s and ~1 MB (issue 14).  Elsewhere, or when ``/proc``
cannot be read, psutil answers.  Not cached: a forked child is another process.
"""

from __future__ import annotations

import os
import sys

__all__ = ["this_process_started"]

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


def _from_proc() -> float:
    with open("/proc/self/stat", "rb") as stat:
        fields = stat.read().rpartition(b")")[2].split()
    ticks = int(fields[_STARTTIME_FIELD])
    with open("/proc/stat", "rb") as system:
        for line in system:
            if line.startswith(b"btime"):
                return ticks / os.sysconf("SC_CLK_TCK") + float(line.split()[1])
    raise ValueError("no btime line in /proc/stat")
