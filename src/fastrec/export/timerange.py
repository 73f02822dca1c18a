"""The time range of an export: ``--from`` / ``--to`` as wall-clock times or seconds.

A bound is either an ISO 8601 time (``2026-12-01T14:03:10``, ``...Z``, ``...+01:00``; a
time without a zone is local time, as the recorder's metadata and file names use it) or a
number of seconds from the session's start (the wall-clock time of the first frame of its
first part: ``90``, ``12.5``).  Both resolve to wall-clock times (timezone-aware) against
the session: the exported MP4's time 0 is the resolved start, and its ``creation_time`` says
which wall-clock moment that is.

Invariants: a resolved range is never empty (``start < end``) and lies within the session;
a bound outside it is clipped to the session, a range that misses the session entirely is
refused.  Every refusal is a :class:`RangeError` naming the option, the value and what is
allowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["RangeError", "TimeBound", "TimeRange", "parse_bound"]

_MAX_SECONDS = 100 * 366 * 86400.0


class RangeError(ValueError):
    """A bad ``--from``/``--to`` (or ``from``/``to`` in the API): the message names it."""


@dataclass(frozen=True, slots=True)
class TimeBound:
    """One bound as given: a wall-clock time or seconds from the session start."""

    option: str  # "--from" or "--to" (or the API field), for messages
    text: str
    at: datetime | None = None
    seconds: float | None = None

    def resolve(self, session_start: datetime) -> datetime:
        if self.at is not None:
            return self.at
        assert self.seconds is not None
        return session_start + timedelta(seconds=self.seconds)


def parse_bound(option: str, text: str) -> TimeBound:
    """Parse ``text`` given for ``option``: seconds (a number >= 0) or an ISO 8601 time."""
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        seconds = None
    if seconds is not None:
        if not math.isfinite(seconds) or not 0 <= seconds <= _MAX_SECONDS:
            raise RangeError(f"{option}={text!r}: seconds from the session start must be between 0 and "
                             f"{_MAX_SECONDS:.0f}")
        return TimeBound(option, text, seconds=seconds)
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise RangeError(f"{option}={text!r}: must be seconds from the session start (e.g. 90 or 12.5) or an "
                         "ISO 8601 time (e.g. 2026-12-01T14:03:10, 2026-12-01T13:03:10Z)") from None
    return TimeBound(option, text, at=at.astimezone() if at.tzinfo is None else at)


@dataclass(frozen=True, slots=True)
class TimeRange:
    """Wall-clock ``start`` .. ``end`` (timezone-aware) inside one session."""

    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    @classmethod
    def within(cls, session_start: datetime, session_end: datetime,
               first: TimeBound | None, last: TimeBound | None) -> TimeRange:
        """The range ``first`` .. ``last`` (None: the session's start / end), clipped to the
        session; :class:`RangeError` when it is empty or outside the session."""
        start = session_start if first is None else max(session_start, first.resolve(session_start))
        end = session_end if last is None else min(session_end, last.resolve(session_start))
        span = f"the session runs from {session_start.isoformat()} to {session_end.isoformat()} " \
               f"({(session_end - session_start).total_seconds():.3f} s)"
        if first is not None and start >= session_end:
            raise RangeError(f"{first.option}={first.text!r}: after the end of the session; {span}")
        if last is not None and end <= session_start:
            raise RangeError(f"{last.option}={last.text!r}: before the start of the session; {span}")
        if start >= end:
            what = f"{first.option}={first.text!r}" if first is not None else "the start"
            raise RangeError(f"{what} is not before {last.option if last else 'the end'}"
                             f"{'=' + repr(last.text) if last else ''}: the range is empty; {span}")
        return cls(start, end)
