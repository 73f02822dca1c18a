"""Rage clicks: several clicks on one spot in a short time (a user fighting the screen).

The rule is RECORDING_RAGE_CLICKS, written ``COUNT/RADIUSpx/SECONDSs`` (default
``3/8px/2s``: 3 or more clicks of one button within 8 pixels of each other in 2 seconds).
:class:`RageDetector` sees the session's clicks in screen pixels (not percentages: the
radius is what the user's hand does) and reports a burst once, when it reaches the
count; more clicks on the same spot extend that burst without reporting it again.
Pure logic, no clock of its own: every click brings its time.
"""

from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import dataclass

__all__ = ["DEFAULT_RAGE_RULE", "RageBurst", "RageDetector", "RageRule", "parse_rage_rule"]

_RULE = re.compile(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*px\s*/\s*(\d+(?:\.\d+)?)\s*s\s*", re.IGNORECASE)
_ALLOWED = ("COUNT/RADIUSpx/SECONDSs with COUNT 2 to 100, RADIUS 1 to 1000 pixels and "
            "SECONDS 0.1 to 60, e.g. 3/8px/2s")


@dataclass(frozen=True, slots=True)
class RageRule:
    """``count`` clicks within ``radius_px`` pixels in ``window_seconds``."""

    count: int = 3
    radius_px: float = 8.0
    window_seconds: float = 2.0

    def __post_init__(self) -> None:
        if not 2 <= self.count <= 100 or not 1 <= self.radius_px <= 1000 \
                or not 0.1 <= self.window_seconds <= 60:
            raise ValueError(f"{self.text}: must be {_ALLOWED}")

    @property
    def text(self) -> str:
        """The rule as RECORDING_RAGE_CLICKS writes it."""
        return f"{self.count}/{self.radius_px:g}px/{self.window_seconds:g}s"


DEFAULT_RAGE_RULE = RageRule()


def parse_rage_rule(text: str) -> RageRule:
    """``"3/8px/2s"`` -> RageRule(3, 8.0, 2.0); ValueError saying what is allowed."""
    match = _RULE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"must be {_ALLOWED}")
    try:
        return RageRule(int(match[1]), float(match[2]), float(match[3]))
    except ValueError:
        raise ValueError(f"must be {_ALLOWED}") from None


@dataclass(frozen=True, slots=True)
class RageBurst:
    """A burst that reached the rule's count: ``clicks`` so far, from ``first`` to ``last``
    (the caller's clock), at (``x``, ``y``) - the click that completed it."""

    button: str
    clicks: int
    first: float
    last: float
    x: float
    y: float


class RageDetector:
    """Feed it every click (:meth:`click`); it returns a :class:`RageBurst` when one starts."""

    def __init__(self, rule: RageRule = DEFAULT_RAGE_RULE) -> None:
        self.rule = rule
        self._recent: deque[tuple[float, float, float, str]] = deque()
        self._burst: RageBurst | None = None  # the burst reported last, while it goes on

    def click(self, x: float, y: float, stamp: float, button: str) -> RageBurst | None:
        rule = self.rule
        while self._recent and stamp - self._recent[0][0] > rule.window_seconds:
            self._recent.popleft()
        near = [c for c in self._recent
                if c[3] == button and math.hypot(c[1] - x, c[2] - y) <= rule.radius_px]
        self._recent.append((stamp, x, y, button))
        burst = self._burst
        if burst is not None and burst.button == button and stamp - burst.last <= rule.window_seconds \
                and math.hypot(burst.x - x, burst.y - y) <= rule.radius_px:
            self._burst = RageBurst(button, burst.clicks + 1, burst.first, stamp, burst.x, burst.y)
            return None  # the same burst, already reported
        if len(near) + 1 < rule.count:
            return None
        self._burst = RageBurst(button, len(near) + 1, min(c[0] for c in near), stamp, x, y)
        return self._burst
