"""The encoder: worker processes that read frames from the sessions' rings and write them
as H.264 into rotating, crash-safe MP4 segments.

- :mod:`.pool` — the worker processes and the supervisor's side of them (replacement of a
  dead worker, the events they send);
- :mod:`.writer` — one session's frames into segment files (libx264 through PyAV,
  fragmented MP4 while writing, remuxed with the index first when a segment closes).
"""
