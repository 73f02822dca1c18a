"""Is the recordings' filesystem nearly full?  Said once per crossing.

"Nearly full" means less free space than :data:`MIN_FREE_BYTES` (1 GiB) *or* than
:data:`MIN_FREE_RATIO` (5 %) of the filesystem - whichever is more, so that both a small
disk (1 GiB is minutes of several 1080p sessions at worst) and a large one (5 % of a
multi-terabyte volume is the usual "95 % used" alarm) are caught before recording fails.

Invariant: :meth:`DiskWatch.check` reports a crossing into "nearly full" once; it reports
again only after free space has climbed back above the threshold plus
:data:`REARM_MARGIN` (10 %) of it, so space hovering at the line does not repeat the alert
every second.  A directory that cannot be examined is not an alert (recording itself
reports what is wrong with it).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MIN_FREE_BYTES", "MIN_FREE_RATIO", "DiskLow", "DiskWatch"]

MIN_FREE_BYTES = 1024**3
MIN_FREE_RATIO = 0.05
REARM_MARGIN = 0.10


@dataclass(frozen=True, slots=True)
class DiskLow:
    """The filesystem of ``directory`` has ``free_bytes`` of ``total_bytes`` left, below
    ``threshold_bytes``."""

    directory: str
    free_bytes: int
    total_bytes: int
    threshold_bytes: int

    @property
    def message(self) -> str:
        gib = 1024**3
        percent = 100.0 * self.free_bytes / self.total_bytes if self.total_bytes else 0.0
        return (f"recordings disk nearly full: {self.free_bytes / gib:.2f} GiB free of "
                f"{self.total_bytes / gib:.2f} GiB ({percent:.1f} %) in {self.directory}")


class DiskWatch:
    """Watches the filesystem holding ``directory``."""

    def __init__(self, directory: str | os.PathLike[str], *, min_free_bytes: int = MIN_FREE_BYTES,
                 min_free_ratio: float = MIN_FREE_RATIO) -> None:
        if min_free_bytes < 0 or not 0.0 <= min_free_ratio <= 1.0:
            raise ValueError(f"min_free_bytes must be >= 0 and min_free_ratio between 0 and 1, "
                             f"got {min_free_bytes} and {min_free_ratio}")
        self.directory = Path(directory)
        self.min_free_bytes = min_free_bytes
        self.min_free_ratio = min_free_ratio
        self._low = False

    def threshold(self, total_bytes: int) -> int:
        return max(self.min_free_bytes, int(self.min_free_ratio * total_bytes))

    def check(self) -> DiskLow | None:
        """A :class:`DiskLow` when free space has just fallen below the threshold, else None."""
        try:
            usage = shutil.disk_usage(self.directory)
        except OSError:
            return None
        threshold = self.threshold(usage.total)
        if usage.free < threshold:
            if self._low:
                return None
            self._low = True
            return DiskLow(str(self.directory), usage.free, usage.total, threshold)
        if self._low and usage.free >= threshold * (1 + REARM_MARGIN):
            self._low = False
        return None
