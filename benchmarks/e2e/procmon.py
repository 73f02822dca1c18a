"""Sample the CPU time and memory of a set of processes every 0.2 s.

CPU: the last ``cpu_times()`` sample of every pid is kept (a process's counters only grow),
so the total misses at most the final <= 0.2 s of a process that exited between samples;
callers that can do better (``os.wait4`` of their own child, a process's self-reported CPU)
use that instead.  Memory: the sum over the processes of RSS (and of PSS, which counts a
page shared by n processes - e.g. the shared-memory ring - once in total) at each sample;
the peak of those sums is reported.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

import psutil


class TreeSampler:
    """Sample the processes ``pids()`` returns (re-evaluated each time) in a thread."""

    def __init__(self, pids: Callable[[], Iterable[int]], interval: float = 0.2) -> None:
        self._pids = pids
        self.interval = interval
        self.cpu: dict[int, float] = {}  # pid -> last user+system seconds seen
        self.names: dict[int, str] = {}
        self.peak_rss = 0
        self.peak_pss = 0
        self.samples = 0
        self.peak_by_pid: dict[int, int] = {}  # RSS
        self.peak_pss_by_pid: dict[int, int] = {}
        self._lock = threading.Lock()
        self._procs: dict[int, psutil.Process] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="e2e-sampler", daemon=True)

    def __enter__(self) -> TreeSampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join()
            self.sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        with self._lock:
            self._sample()

    def cpu_snapshot(self) -> dict[int, float]:
        """Sample now; the CPU seconds of every process so far (a baseline)."""
        with self._lock:
            self._sample()
            return dict(self.cpu)

    def _sample(self) -> None:
        rss = pss = 0
        for pid in list(self._pids()):
            proc = self._procs.get(pid)
            try:
                if proc is None:
                    proc = self._procs[pid] = psutil.Process(pid)
                    self.names[pid] = " ".join(proc.cmdline())[:300]
                with proc.oneshot():
                    t = proc.cpu_times()
                    mem = proc.memory_full_info()
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            self.cpu[pid] = max(self.cpu.get(pid, 0.0), t.user + t.system)
            rss += mem.rss
            self.peak_by_pid[pid] = max(self.peak_by_pid.get(pid, 0), mem.rss)
            pss += getattr(mem, "pss", mem.rss)
            self.peak_pss_by_pid[pid] = max(self.peak_pss_by_pid.get(pid, 0), getattr(mem, "pss", mem.rss))
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = max(self.peak_pss, pss)
        self.samples += 1

    def total_cpu(self) -> float:
        return sum(self.cpu.values())


def thread_cpu_seconds(native_id: int | None) -> float:
    """User + system seconds of one thread of this process (0 if not found)."""
    if native_id is None:
        return 0.0
    for t in psutil.Process().threads():
        if t.id == native_id:
            return t.user_time + t.system_time
    return 0.0
