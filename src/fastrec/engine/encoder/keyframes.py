"""When a session's frame is encoded as a keyframe (an IDR frame): its seeking points.

A seek - hls.js over byte ranges, an export's cut, a live viewer joining - starts decoding
at the keyframe before its target, so the frames between two keyframes bound what a seek
costs; and every keyframe costs bytes: a 1080p desktop's is 70-150 kB where a typed
character's frame is ~0.5 kB.  Decoding has a floor per frame however little changed, so
the *number of frames* bounds a seek, not the capture time they span: a fixed spacing of
10 s of capture time (the rule before issue 14) decoded few frames where little changed,
yet made a minute of typing twice ffmpeg's file (whose keyframes come every 250 frames).
So:

- a frame is a keyframe when the capture asks for one (a new picture: a resize, the end
  of a pause) - the writer also makes one at every segment's start;
- at the latest :data:`MAX_GROUP_FRAMES` frames after the last keyframe (30 s at 10 fps, a
  worst seek about as costly as in ffmpeg's files), or ``max_interval`` seconds of capture
  time (``RECORDING_KEYFRAME_INTERVAL_SECONDS``), whichever comes first;
- the session's second keyframe comes :data:`FIRST_GROUP_SECONDS` after its first: the
  live playlist lists whole keyframe groups only (hls.js refuses a playlist without one),
  so a live viewer has one to start from a second after the session starts.  Later parts
  need none: the parts before them are in the session's playlist.

An idle stretch brings no frame and so no keyframe.  Measured in benchmarks/README.md
("Keyframes by what a seek decodes").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# The most frames a seek decodes: 30 s at 10 fps (ffmpeg's libx264 default is 250 frames).
MAX_GROUP_FRAMES = 300
# The session's first keyframe group lasts this long at most (see above).
FIRST_GROUP_SECONDS = 1.0


@dataclass(slots=True)
class KeyframeSchedule:
    """One session's keyframe decisions (see the module's docstring); not thread-safe:
    one writer asks it, frame by frame, in capture order."""

    max_interval: float
    _last: float = -math.inf  # capture time of the last keyframe
    _keyframes: int = 0  # decided so far
    _frames: int = 0  # frames since the last keyframe, itself included

    def decide(self, timestamp: float, asked: bool = False) -> bool:
        """Whether the frame captured at ``timestamp`` is to be a keyframe (``asked``: the
        caller needs one); a keyframe decided here is counted as the last one."""
        since = timestamp - self._last
        due = (asked or since >= self.max_interval or self._frames >= MAX_GROUP_FRAMES
               or (self._keyframes == 1 and since >= FIRST_GROUP_SECONDS))
        if due:
            self._keyframes += 1
            self._last = timestamp
            self._frames = 0
        self._frames += 1
        return due
