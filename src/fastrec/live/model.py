"""What the admin server's live page is told: live sessions, alerts, and the typed events.

Invariants, and why:

- **A session is known by (host, session id).**  Two gateways may both record a session
  ``42``; :attr:`LiveSession.key` (``"{host}/{session_id}"``; a host name never holds a
  ``/``) is unique across every recorder that feeds one admin server, and every event
  about a session carries it.
- **Nothing secret, no paths.**  The connection fields are the manager's cleaned ones
  (:func:`fastrec.privacy.connection.clean_connection_info`: no credentials);
  ``current_file`` is a file *name* - a value holding a path separator is refused - so
  the live feed never tells a browser where on disk recordings are.
- **Self-describing JSON.**  Every event is a JSON object whose ``"type"`` names it
  (``sessions_snapshot``, ``session_started``, ``session_updated``, ``session_ended``,
  ``alert``); :data:`LIVE_EVENTS` parses and dumps the union.  Times are ISO 8601 with
  their UTC offset.
- **Tolerant reading.**  Models ignore fields they do not know, so an admin server reads
  what a newer recorder on another gateway writes; they are frozen (an event handed to 200
  subscribers is never changed by one of them).

The names here do not clash with :mod:`fastrec.engine.events` (the engine's own life-cycle
events): the live ones are ``LiveSession*`` and :class:`SessionsSnapshot`/:class:`AlertRaised`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, computed_field, field_validator

__all__ = [
    "LIVE_EVENTS",
    "AlertKind",
    "AlertRaised",
    "EndReason",
    "LiveAlert",
    "LiveEvent",
    "LiveFrames",
    "LiveSession",
    "LiveSessionEnded",
    "LiveSessionStarted",
    "LiveSessionUpdated",
    "LiveState",
    "SessionsSnapshot",
    "dump_event",
    "parse_event",
    "session_key",
]

KEY_SEPARATOR = "/"
MAX_HOST = 255
MAX_SESSION_ID = 1024
MAX_TEXT = 1024  # messages, reasons: one bad value must not bloat every event

LiveState = Literal["starting", "recording", "stopping"]
"""A live session's state (the manager's; ``stopped``/``error`` are ends, not states)."""

Text = Annotated[str, Field(max_length=MAX_TEXT)]


def session_key(host: str, session_id: str) -> str:
    """The key of ``session_id`` recorded on ``host``: unique across gateways."""
    return f"{host}{KEY_SEPARATOR}{session_id}"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)  # validators built on first use, not at import (issue 14)


class AlertKind(StrEnum):
    """What an alert is about."""

    RECORDING_ERROR = "recording_error"  # a session failed, or an encoder died and was replaced
    DISK_NEARLY_FULL = "disk_nearly_full"  # the recordings' filesystem is nearly full
    UPLOAD_FAILING = "upload_failing"  # sealed segments cannot reach the object store: they wait on disk
    RAGE_CLICK = "rage_click"  # reserved: input-event analysis (a later issue)


class EndReason(StrEnum):
    """Why a session left the live list."""

    STOPPED = "stopped"  # its recording ended normally
    ERROR = "error"  # its recording ended in an error
    GONE = "recorder gone"  # its recorder stopped reporting (killed, or its host is down)
    UNSEEN = "ended unseen"  # it ended while the feed could not see the store


class LiveFrames(_Model):
    """Capture counters since the session started (see RecordingManager.get_recording_status)."""

    captured: int = Field(default=0, ge=0)  # every capture tick
    encoded: int = Field(default=0, ge=0)  # frames sent to the encoder
    unchanged: int = Field(default=0, ge=0)  # identical frames, skipped
    dropped: int = Field(default=0, ge=0)  # lost because the encoder fell behind


class LiveSession(_Model):
    """One session being recorded, as its recorder last announced it."""

    host: str = Field(min_length=1, max_length=MAX_HOST)  # the recorder's machine
    session_id: str = Field(min_length=1, max_length=MAX_SESSION_ID)
    pid: int = Field(ge=1)  # the recorder's process (the app embedding RecordingManager)
    process_started: float | None = Field(default=None, ge=0)  # its start (epoch s): tells pid reuse
    state: LiveState
    mode: str = Field(max_length=64)
    # the connection, as the manager cleaned it (no credentials)
    con_codigo: int | str | None = None
    ip: str | None = None
    name: str | None = None  # the server connected to
    user: str | None = None
    connection_type: str | None = None
    started_at: AwareDatetime
    updated_at: AwareDatetime  # when the recorder made this report
    elapsed_seconds: float = Field(default=0.0, ge=0)
    fps: float = Field(default=0.0, ge=0)  # measured capture rate
    frames: LiveFrames = Field(default_factory=LiveFrames)
    bytes: int = Field(default=0, ge=0)  # size of its files so far
    segments: int = Field(default=0, ge=0)
    current_file: str | None = Field(default=None, max_length=255)  # a file name, never a path
    current_part: int | None = Field(default=None, ge=1)
    paused: bool = False  # nothing recorded now (window minimised, covered, gone)
    pause_reason: Text | None = None
    occluded: bool = False  # other windows cover part of it (blanked in the video)
    output_size: tuple[int, int] | None = None
    errors: int = Field(default=0, ge=0)
    last_error: Text | None = None

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if KEY_SEPARATOR in value:
            raise ValueError(f"host {value!r} must not contain {KEY_SEPARATOR!r} (it separates the key)")
        return value

    @field_validator("current_file")
    @classmethod
    def _file_name_only(cls, value: str | None) -> str | None:
        if value is not None and ("/" in value or "\\" in value or value in ("", ".", "..")):
            raise ValueError(f"current_file must be a file name, not a path; got {value!r}")
        return value

    @computed_field  # type: ignore[prop-decorator]
    @property
    def key(self) -> str:
        """``"{host}/{session_id}"``: unique across gateways."""
        return session_key(self.host, self.session_id)


class LiveAlert(_Model):
    """Something an auditor should see at once."""

    kind: AlertKind
    host: str = Field(min_length=1, max_length=MAX_HOST)
    pid: int | None = Field(default=None, ge=1)
    session_id: str | None = Field(default=None, min_length=1, max_length=MAX_SESSION_ID)  # None: the recorder's
    message: Text
    at: AwareDatetime
    details: dict[str, str | int | float | bool | None] = Field(default_factory=dict)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def key(self) -> str | None:
        """The session's key, or None for an alert about the recorder (a full disk)."""
        return None if self.session_id is None else session_key(self.host, self.session_id)


class SessionsSnapshot(_Model):
    """Every live session: the first event a subscriber gets."""

    type: Literal["sessions_snapshot"] = "sessions_snapshot"
    sessions: list[LiveSession]
    at: AwareDatetime


class LiveSessionStarted(_Model):
    """A session appeared (its first report)."""

    type: Literal["session_started"] = "session_started"
    session: LiveSession


class LiveSessionUpdated(_Model):
    """A live session's new report (at least every 2 s while it records)."""

    type: Literal["session_updated"] = "session_updated"
    session: LiveSession


class LiveSessionEnded(_Model):
    """A session left the live list; ``session`` is its last report when known."""

    type: Literal["session_ended"] = "session_ended"
    key: str
    host: str
    session_id: str
    reason: EndReason
    at: AwareDatetime
    session: LiveSession | None = None

    @classmethod
    def of(cls, session: LiveSession, reason: EndReason, at: datetime) -> LiveSessionEnded:
        return cls(key=session.key, host=session.host, session_id=session.session_id, reason=reason,
                   at=at, session=session)


class AlertRaised(_Model):
    """An alert (``{"type": "alert", "alert": {...}}``)."""

    type: Literal["alert"] = "alert"
    alert: LiveAlert


LiveEvent = Annotated[
    SessionsSnapshot | LiveSessionStarted | LiveSessionUpdated | LiveSessionEnded | AlertRaised,
    Field(discriminator="type"),
]
"""One live event; ``type`` tells which."""

LIVE_EVENTS: TypeAdapter[LiveEvent] = TypeAdapter(LiveEvent, config=ConfigDict(defer_build=True))


def parse_event(data: str | bytes | dict[str, Any]) -> LiveEvent:
    """A live event from its JSON text (or parsed dict); pydantic's ValidationError names
    the field, the value and what is allowed."""
    if isinstance(data, dict):
        return LIVE_EVENTS.validate_python(data)
    return LIVE_EVENTS.validate_json(data)


def dump_event(event: LiveEvent) -> str:
    """The event's JSON text (what goes on the WebSocket)."""
    return LIVE_EVENTS.dump_json(event).decode("utf-8")
