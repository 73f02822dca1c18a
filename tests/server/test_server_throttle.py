"""The sliding-window limiter behind login throttling and WebSocket rate limits."""

from __future__ import annotations

from fastrec.server.throttle import SlidingWindow


def test_events_over_the_limit_are_refused_with_the_wait() -> None:
    window = SlidingWindow(limit=3, window=60)
    assert [window.hit("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = window.hit("a")
    assert 0 < wait <= 60 and window.blocked_for("a") > 0
    assert window.hit("b") == 0.0  # keys are independent
    window.reset("a")
    assert window.blocked_for("a") == 0.0


def test_memory_is_bounded() -> None:
    window = SlidingWindow(limit=1, window=60, max_keys=100)
    for n in range(1000):
        window.hit(str(n))
    assert len(window._events) == 100
