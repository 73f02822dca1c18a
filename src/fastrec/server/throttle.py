"""Sliding-window counters: login failures per account and per address, WebSocket
connection attempts per address.

In memory, per server process: a restart forgets them, which only ever lets an attacker
start over at the same slow rate.  Memory is bounded: keys idle past the window are
dropped as they are met, and at most ``max_keys`` are tracked (the oldest go first).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque

__all__ = ["SlidingWindow"]


class SlidingWindow:
    """At most ``limit`` events per key within ``window`` seconds."""

    def __init__(self, limit: int, window: float, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._events: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            events = self._events[key] = deque()
            while len(self._events) > self.max_keys:
                self._events.popitem(last=False)
        self._events.move_to_end(key)
        while events and events[0] <= now - self.window:
            events.popleft()
        return events

    def blocked_for(self, key: str) -> float:
        """Seconds until ``key`` may act again (0 when it may now)."""
        now = time.monotonic()
        with self._lock:
            events = self._recent(key, now)
            if len(events) < self.limit:
                return 0.0
            return max(0.0, events[0] + self.window - now)

    def hit(self, key: str) -> float:
        """Count one event for ``key``; the seconds it must wait when over the limit (then
        the event is not counted), else 0."""
        now = time.monotonic()
        with self._lock:
            events = self._recent(key, now)
            if len(events) >= self.limit:
                return max(0.0, events[0] + self.window - now)
            events.append(now)
            return 0.0

    def reset(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)
