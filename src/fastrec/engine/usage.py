"""CPU time of the current process (all its threads), on every platform.

``time.process_time()``: user + system time of every thread, as ``psutil.Process().cpu_times()``
sums it (``CLOCK_PROCESS_CPUTIME_ID`` on Linux, ``GetProcessTimes`` on Windows), without
importing psutil into the encoder worker (~1.6 MB PSS: issue 14).
"""

import time


def cpu_seconds() -> float:
    """User + system CPU seconds this process has used so far."""
    return time.process_time()
