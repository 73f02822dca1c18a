"""What crosses between the engine's processes besides pixels: frame flags in the ring's
slot headers and the small messages of the supervisor, capture and encoder processes -
and the vocabulary of a session's capture settings (capture modes, the full-ring policy),
defined here once for the settings, the command line and the engine."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag, StrEnum
from pathlib import Path

from fastrec.storage.naming import part_basename, video_path


class CaptureMode(StrEnum):
    """What a session records."""

    FULL_SCREEN = "full_screen"  # all monitors, or one
    RDP_WINDOW = "rdp_window"  # the RDP client's window, followed; paused when it is not visible
    ACTIVE_WINDOW = "active_window"  # whichever window has the focus
    SYNTHETIC = "synthetic"  # a generated desktop (tests, benchmarks, `record --mode synthetic`)
    VIDEO_FILE = "video_file"  # frames of a video file (tests, benchmarks)


# what RECORDING_MODE accepts: the modes that record a real screen
RECORDING_MODES = (CaptureMode.FULL_SCREEN, CaptureMode.RDP_WINDOW, CaptureMode.ACTIVE_WINDOW)


class FullPolicy(StrEnum):
    """What the capture process does when every ring slot is taken."""

    BLOCK = "block"  # wait up to `timeout` for a consumer to release one, else drop the new frame
    DROP_OLDEST = "drop_oldest"  # overwrite the oldest unread frame


class FrameFlags(IntFlag):
    """Flags the capture process sets on a ring slot."""

    NONE = 0
    KEYFRAME = 1  # encode as a keyframe: a new picture (periodic ones are the encoder's)
    PAUSED = 2  # the target vanished (minimised, covered, gone): a blank frame opens the gap
    FINAL = 4  # the last frame of the session, stamped at stop time


@dataclass(frozen=True, slots=True)
class SegmentPolicy:
    """When the encoder starts a new segment (None: never for that reason)."""

    max_bytes: int | None = None
    max_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """One finished (or crash-truncated) segment file."""

    session_id: str
    part: int
    path: Path
    first_timestamp: float
    last_timestamp: float
    frames: int
    keyframes: int
    bytes: int
    # Closed cleanly: the encoder flushed, the muxer's trailer (its ``mfra`` keyframe index)
    # written and the file made durable.  False: the session failed or a write did; the
    # file is as written, fragmented, up to its last whole fragment.  Never rewritten.
    finalized: bool
    # Why the segment ended early: a write failed (disk full...) and the file was cut back
    # to its last whole fragment.  None: closed normally (rotation or stop).
    error: str | None = None

    @property
    def duration(self) -> float:
        return self.last_timestamp - self.first_timestamp


@dataclass(frozen=True, slots=True)
class SegmentNaming:
    """Where a session's segments go: part 1 is ``{basename}.mp4``, later parts
    ``{basename}_part{N}.mp4``."""

    directory: Path
    basename: str

    def path(self, part: int) -> Path:
        return video_path(self.directory, part_basename(self.basename, part))


# Encoder pool events, sent from workers to the supervisor.

@dataclass(frozen=True, slots=True)
class SegmentOpened:
    session_id: str
    part: int
    path: Path
    # The capture time (time.monotonic(), a clock all processes share) of the part's first
    # frame, at pts 0: what turns the part's media time into wall-clock time.
    first_timestamp: float


@dataclass(frozen=True, slots=True)
class SegmentSkipped:
    """A part's file name was taken already - by an encoder worker that died before its
    supervisor heard of that part, or by anything else (a planted symlink) - so the writer
    left it untouched and went on with the next part number."""

    session_id: str
    part: int
    path: Path


@dataclass(frozen=True, slots=True)
class SegmentClosed:
    info: SegmentInfo


@dataclass(frozen=True, slots=True)
class SessionEncoded:
    """A session's ring closed and every frame in it was encoded."""

    session_id: str
    frames: int
    worker_cpu_seconds: float  # the whole worker process's CPU time so far


@dataclass(frozen=True, slots=True)
class EncoderFailed:
    """Encoding a session failed (disk full, unwritable directory...); files written so far
    stay playable."""

    session_id: str
    error: str
    traceback: str | None = None  # where it was raised, when an exception caused it


@dataclass(frozen=True, slots=True)
class WorkerDied:
    """An encoder worker process died; its sessions continue in a new segment."""

    worker: int
    exitcode: int | None
    sessions: tuple[str, ...]
