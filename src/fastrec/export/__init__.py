"""Exports of a recorded session (issue 12): JSON, MP4 and PDF, from the CLI and the server.

One module per job: :mod:`.source` (a session's parts, their verdicts and wall-clock
spans), :mod:`.timerange` (``--from``/``--to``), :mod:`.progress` (the callback),
:mod:`.document` (the JSON export and its pydantic model), :mod:`.mp4` (joining parts
without re-encoding; :mod:`.h264` the bitstream plumbing), :mod:`.thumbnails` (frames at
scene changes), :mod:`.pdf` (the report), :mod:`.events` (the session's input events,
read from the parts' events files), :mod:`.run` (:func:`~.run.export_session`, what the CLI and the server
call) and :mod:`.commands` (``python -m fastrec export``).

PyAV and fpdf2 are imported by the functions that need them, so importing this package
(the CLI's start-up does) loads neither.
"""
