"""When a session's frame is encoded as a keyframe (an IDR frame): its seeking points.

A seek - hls.js over byte ranges, an export's cut, a live viewer joining - starts decoding
at the keyframe before its target, so the frames between two keyframes bound what a seek
costs; and every keyframe costs bytes: a 1080p desktop's is 70-110 kB where a typed
character's frame is ~0.5 kB.  A fixed spacing (every 10 s before issue 14) made a slowly
changing screen pay mostly for keyframes (a minute of typing: twice ffmpeg's file, whose
keyframes come every 250 frames).  So the spacing follows what a seek would decode:

- a frame is a keyframe when the capture asks for one (a new picture: a resize, the end
  of a pause) - the writer also makes one at every segment's start;
- at the latest :data:`MAX_GROUP_FRAMES` frames or ``max_interval`` seconds of capture time
  (``RECORDING_KEYFRAME_INTERVAL_SECONDS``) after the last keyframe, whichever comes first:
  decoding costs a floor per frame however little changed (a 1080p frame with one typed
  character ~0.5 ms of CPU), so the number of frames bounds a seek into slow content;
- earlier, once :data:`BUSY_SECONDS` have passed (or ``max_interval``, if shorter) *and*
  the frames since the last keyframe have taken :data:`GROUP_SHARE` times its bytes: busy
  content (a scroll, a video) gets a keyframe every 10 s as before, so a seek into it
  decodes at most 10 s of its large frames; slow content waits for the frame or time
  bound, and its keyframes stay at most a fifth of its bytes;
- the session's second keyframe comes :data:`FIRST_GROUP_SECONDS` after its first: the
  live playlist lists whole keyframe groups only (hls.js refuses a playlist without one),
  so a live viewer has one to start from a second after the session starts.  Later parts
  need none: the parts before them are in the session's playlist.

Frame sizes are known a frame late (x264 returns a frame's packet when the next frame
comes), so the rule reads the bytes counted so far; an idle stretch brings no frame and so
no keyframe.  Measured in benchmarks/README.md ("Keyframes by what a seek decodes").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# The most frames a seek decodes: 30 s at 10 fps (ffmpeg's libx264 default is 250 frames).
MAX_GROUP_FRAMES = 300
# Busy content's keyframe spacing, in seconds of capture time (issue 9's bound).
BUSY_SECONDS = 10.0
# A group's other frames may take this many times its keyframe's bytes before a keyframe
# comes earlier than the interval (at most every BUSY_SECONDS).
GROUP_SHARE = 4
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
    _key_bytes: int = 0  # the last keyframe's packet
    _group_bytes: int = 0  # the packets after it
    _busy: float = field(init=False)

    def __post_init__(self) -> None:
        self._busy = min(BUSY_SECONDS, self.max_interval)

    def decide(self, timestamp: float, asked: bool = False) -> bool:
        """Whether the frame captured at ``timestamp`` is to be a keyframe (``asked``: the
        caller needs one); a keyframe decided here is counted as the last one."""
        since = timestamp - self._last
        due = (asked or since >= self.max_interval or self._frames >= MAX_GROUP_FRAMES
               or (self._keyframes == 1 and since >= FIRST_GROUP_SECONDS)
               or (since >= self._busy and self._group_bytes >= GROUP_SHARE * self._key_bytes))
        if due:
            self._keyframes += 1
            self._last = timestamp
            self._frames = 0
        self._frames += 1
        return due

    def encoded(self, size: int, keyframe: bool) -> None:
        """Count a packet the encoder returned (``size`` bytes; ``keyframe``: it opens a group)."""
        if keyframe:
            self._key_bytes, self._group_bytes = size, 0
        else:
            self._group_bytes += size
