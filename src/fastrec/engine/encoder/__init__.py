"""The encoder: worker processes that read frames from the sessions' rings and write them
as H.264 into rotating, crash-safe MP4 segments.

- :mod:`.pool` — the worker processes and the supervisor's side of them (replacement of a
  dead worker, the events they send);
- :mod:`.writer` — one session's frames into segment files (libx264 through PyAV, fragmented
  MP4 written once and never rewritten, so every part is addressable by byte ranges);
- :mod:`.keyframes` — which frames are IDR keyframes (seeking points): spaced by what a seek
  decodes, at the latest every ``keyframe_interval`` seconds of capture time.
"""
