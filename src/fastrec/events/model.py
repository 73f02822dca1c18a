"""The input events of a recorded session: one typed model per kind, one JSON object a line.

Every event carries its time twice: ``at``, the wall-clock time (ISO 8601 with its UTC
offset) - what the replay timeline (program date-time) and the exports show - and ``t``,
seconds since the session's recording was requested (the manager's ``start_time``), so a
player can seek without parsing dates.  Positions are percentages (0..100, two
decimals) of the captured region (the recorded window or screen) at that moment, so they
stay meaningful whatever the output scale.

What is deliberately not here: key codes and characters.  ``key_activity`` is a count of
key presses in one second of session time; no model has a field that could hold a key,
and the input sources never hand one over (:mod:`fastrec.events.source`).  Titles are
written as the capture process reports them: already passed through the PII patterns
(:mod:`fastrec.privacy.pii`).

The first line of every events file is an :class:`EventsHeader` (it has ``format``, never
``kind``); readers recognise it by that.  Unknown keys are refused (``extra="forbid"``):
a line that does not match its kind's model is skipped by the reader, never guessed at.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

__all__ = [
    "EVENTS_FORMAT",
    "EVENTS_VERSION",
    "Click",
    "Event",
    "EventKind",
    "EventsHeader",
    "FocusChange",
    "KeyActivity",
    "MouseButton",
    "Pause",
    "RageClick",
    "Resume",
    "Scroll",
    "ScrollDirection",
    "TitleChange",
    "event_adapter",
]

EVENTS_FORMAT = "fastrec-events"
EVENTS_VERSION = 1
MAX_TEXT = 4096  # a title or a pause reason; longer ones are cut by the writer of the event

Percent = Annotated[float, Field(ge=0.0, le=100.0, allow_inf_nan=False)]
Seconds = Annotated[float, Field(ge=0.0, le=10 * 366 * 86400.0, allow_inf_nan=False)]


class EventKind(StrEnum):
    """What an event line is (its ``kind``): the one vocabulary of input events."""

    CLICK = "click"
    SCROLL = "scroll"
    KEY_ACTIVITY = "key_activity"
    TITLE_CHANGE = "title_change"
    FOCUS_CHANGE = "focus_change"
    PAUSE = "pause"
    RESUME = "resume"
    RAGE_CLICK = "rage_click"


class MouseButton(StrEnum):
    LEFT = "left"
    MIDDLE = "middle"
    RIGHT = "right"
    BACK = "back"
    FORWARD = "forward"


class ScrollDirection(StrEnum):
    UP = "up"
    DOWN = "down"
    LEFT = "left"
    RIGHT = "right"


class _Line(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)  # validators built on first use, not at import (issue 14)


class EventsHeader(_Line):
    """The first line of an events file: which session and part it belongs to."""

    format: Literal["fastrec-events"] = EVENTS_FORMAT
    version: int = EVENTS_VERSION
    session_id: str = Field(min_length=1, max_length=1024)
    part: int = Field(ge=1)
    session_start: datetime  # ``t`` = 0 of every event of the session


class _Event(_Line):
    at: datetime  # wall-clock time, ISO 8601 with offset
    t: Seconds  # seconds since session_start


class Click(_Event):
    """A mouse button pressed inside the captured region."""

    kind: Literal[EventKind.CLICK] = EventKind.CLICK
    button: MouseButton
    x: Percent
    y: Percent


class Scroll(_Event):
    """Wheel notches in one direction inside the captured region."""

    kind: Literal[EventKind.SCROLL] = EventKind.SCROLL
    direction: ScrollDirection
    amount: int = Field(ge=1, le=1_000_000)  # notches
    x: Percent
    y: Percent


class KeyActivity(_Event):
    """``count`` key presses in the second starting at ``t`` (never which keys)."""

    kind: Literal[EventKind.KEY_ACTIVITY] = EventKind.KEY_ACTIVITY
    count: int = Field(ge=1, le=1_000_000)


class TitleChange(_Event):
    """The recorded window's title changed (PII-redacted by the capture process)."""

    kind: Literal[EventKind.TITLE_CHANGE] = EventKind.TITLE_CHANGE
    title: str = Field(max_length=MAX_TEXT)


class FocusChange(_Event):
    """The keyboard focus entered (``focused``) or left the recorded window/region."""

    kind: Literal[EventKind.FOCUS_CHANGE] = EventKind.FOCUS_CHANGE
    focused: bool


class Pause(_Event):
    """Recording paused (window minimised, covered, gone; a privacy rule uncertain)."""

    kind: Literal[EventKind.PAUSE] = EventKind.PAUSE
    reason: str = Field(max_length=MAX_TEXT)


class Resume(_Event):
    """Recording resumed after a pause (seen in the capture process's next report, so up
    to a second after the fact)."""

    kind: Literal[EventKind.RESUME] = EventKind.RESUME


class RageClick(_Event):
    """``clicks`` clicks within ``radius_px`` pixels in ``span_seconds`` (at least the
    rule's count within its window: RECORDING_RAGE_CLICKS); ``t``/``at`` are the click
    that completed the burst, ``x``/``y`` where it was."""

    kind: Literal[EventKind.RAGE_CLICK] = EventKind.RAGE_CLICK
    button: MouseButton
    clicks: int = Field(ge=2)
    span_seconds: Seconds
    radius_px: float = Field(gt=0, allow_inf_nan=False)
    x: Percent
    y: Percent


Event = Annotated[Click | Scroll | KeyActivity | TitleChange | FocusChange | Pause | Resume | RageClick,
                  Field(discriminator="kind")]

#: parses one event line (``event_adapter.validate_json(line)``)
event_adapter: TypeAdapter[Event] = TypeAdapter(Event, config=ConfigDict(defer_build=True))
