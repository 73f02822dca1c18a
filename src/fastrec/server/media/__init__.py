"""The media layer of the admin server (issue 9): pure functions over a session's part
files and metadata, no web framework.

- :mod:`.fmp4` — the fragment index of a fragmented MP4 part (byte ranges, times, keyframes);
- :mod:`.playlist` — one HLS media playlist and one :class:`~.playlist.Timeline` over all
  the parts of a session, recorded or still recording.
"""
