"""CPU time of the current process (all its threads), on every platform."""

import psutil


def cpu_seconds() -> float:
    """User + system CPU seconds this process has used so far."""
    times = psutil.Process().cpu_times()
    return times.user + times.system
