"""The encoder: worker processes that read frames from the sessions' rings and write them
as H.264 into rotating, crash-safe MP4 segments.

- :mod:`.pool` — the worker processes and the supervisor's side of them (replacement of a
  dead worker, the events they send);
- :mod:`.writer` — one session's frames into segment files (libx264 through PyAV, an IDR
  keyframe at least every ``keyframe_interval`` seconds of capture time, fragmented MP4
  written once and never rewritten, so every part is addressable by byte ranges).
"""
