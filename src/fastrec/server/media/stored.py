"""Serving a part whose bytes are in the object store: HTTP Range over ranged reads.

(Also what serves a sealed export's plaintext, decrypted chunk by chunk as it streams:
:mod:`fastrec.server.routes.exports`.)

A part on disk is served by Starlette's ``FileResponse``; one uploaded and no longer kept
locally is served here from a :class:`~fastrec.storage.videos.VideoFile` (a
:class:`~fastrec.storage.objectstore.RangeReader`), with the same answers a file would
get: 200 with the whole body, 206 for one satisfiable range (``bytes=a-b``, ``a-``,
``-n``), 416 with ``Content-Range: bytes */size`` for an unsatisfiable one.  Only the
bytes asked for are fetched from the store, block by block while the body streams;
several ranges in one request get the whole body (200), as RFC 9110 allows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from starlette.responses import Response, StreamingResponse

from fastrec.storage.videos import VideoFile

__all__ = ["CHUNK", "stored_response"]

CHUNK = 256 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _span(header: str | None, size: int) -> tuple[int, int] | None | str:
    """(first, last) inclusive; None: the whole file; "unsatisfiable"."""
    if header is None:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:  # several ranges, another unit, garbage: the whole body
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last n bytes
        count = int(last)
        return (max(0, size - count), size - 1) if count > 0 and size > 0 else "unsatisfiable"
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        return "unsatisfiable"
    return start, end


def _body(video: VideoFile, start: int, end: int) -> Iterator[bytes]:
    try:
        video.handle.seek(start)
        left = end - start + 1
        while left > 0:
            chunk = video.handle.read(min(CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk
    finally:
        video.close()


def stored_response(video: VideoFile, range_header: str | None, headers: dict[str, str],
                    media_type: str = "video/mp4") -> Response:
    """The response for ``video`` (closed when the body is sent) to a GET with ``range_header``."""
    size = video.size
    span = _span(range_header, size)
    common = {"Accept-Ranges": "bytes", **headers}
    if span == "unsatisfiable":
        video.close()
        return Response(status_code=416, headers={**common, "Content-Range": f"bytes */{size}"})
    if span is None:
        return StreamingResponse(_body(video, 0, size - 1), media_type=media_type,
                                 headers={**common, "Content-Length": str(size)})
    assert isinstance(span, tuple)
    start, end = span
    return StreamingResponse(_body(video, start, end), status_code=206, media_type=media_type,
                             headers={**common, "Content-Length": str(end - start + 1),
                                      "Content-Range": f"bytes {start}-{end}/{size}"})
