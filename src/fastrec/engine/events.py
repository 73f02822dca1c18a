"""A recording session's life-cycle and the typed events the engine reports it with.

The engine (:class:`~fastrec.engine.recorder.Recorder`) owns the life-cycle; whoever embeds
it (RecordingManager, the demo, a benchmark) hears of it through these events, in the
order they happened, and never keeps a state of its own:

``starting`` -> ``recording`` -> ``stopping`` -> ``stopped``; any state -> ``error`` (the
session then still finishes: its files are closed and reported).  A session is *finished*
when :class:`SessionFinished` has been emitted: no event for it follows.

Per session the events come as: :class:`SessionStarted` (at most once), then for each
segment :class:`~fastrec.engine.protocol.SegmentOpened` and :class:`SegmentFinished`
(segment N finished before N+1 opened, except when a dead encoder never closed N),
:class:`~fastrec.engine.protocol.SegmentSkipped` when a part's name was taken (a dead
encoder's unreported part, or a file planted there),
:class:`SessionError` at any point, and :class:`SessionFinished` last.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fastrec.engine.protocol import SegmentInfo, SegmentOpened, SegmentSkipped

__all__ = [
    "LIVE_STATES",
    "EngineEvent",
    "SegmentFinished",
    "SegmentOpened",
    "SegmentSkipped",
    "SessionError",
    "SessionFinished",
    "SessionStarted",
    "SessionState",
]


class SessionState(StrEnum):
    STARTING = "starting"  # its capture process looks for the screen or window
    RECORDING = "recording"
    STOPPING = "stopping"  # asked to stop; files are being closed
    STOPPED = "stopped"
    ERROR = "error"  # ended (or is ending) because of an error


LIVE_STATES = frozenset({SessionState.STARTING, SessionState.RECORDING, SessionState.STOPPING})


@dataclass(frozen=True, slots=True)
class SessionStarted:
    """The capture process found its target and its frames go to an encoder."""

    session_id: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class SegmentFinished:
    """A segment file is closed (cleanly when ``info.finalized``); ``capture`` holds the
    capture counters at that moment (they are per session: a metadata writer takes the
    difference between two segments)."""

    info: SegmentInfo
    capture: dict[str, object]

    @property
    def session_id(self) -> str:
        return self.info.session_id


@dataclass(frozen=True, slots=True)
class SessionError:
    """Something went wrong.  ``fatal``: the session ends because of it (state ``error``);
    otherwise it goes on (an encoder worker died and was replaced).  ``traceback``: where
    it happened, when an exception caused it."""

    session_id: str
    message: str
    fatal: bool = True
    traceback: str | None = None


@dataclass(frozen=True, slots=True)
class SessionFinished:
    """The last event of a session: every file is closed; ``state`` is stopped or error."""

    session_id: str
    state: SessionState
    segments: tuple[SegmentInfo, ...]
    errors: tuple[str, ...]
    capture: dict[str, object]


EngineEvent = (SessionStarted | SegmentOpened | SegmentSkipped | SegmentFinished | SessionError
               | SessionFinished)
