"""A recording's media: the HLS playlist over all of its parts, the player's timeline, and
the part files themselves (HTTP Range), for signed-in users and for share links.

Clients name a session and a part number, never a path (see
:meth:`fastrec.server.catalogue.Catalogue.video_file`).  The playlist's URIs point back at
the same route family the playlist was fetched from, so a share link's player never needs
a session cookie.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response
from fastapi.responses import FileResponse

from fastrec.events.file import read_session_events
from fastrec.events.model import Event
from fastrec.server.audit import AuditAction
from fastrec.server.auth import CanView, Ctx, context
from fastrec.server.catalogue import CatalogueUnavailable
from fastrec.server.media.stored import stored_response
from fastrec.server.replay import Timeline, build_playlist, build_timeline
from fastrec.server.routes.recordings import audit, unavailable
from fastrec.server.routes.shares import resolve_share
from fastrec.server.schemas import SessionOut
from fastrec.server.routes.recordings import session_out
from fastrec.storage.videos import open_video

router = APIRouter(tags=["replay"])

HLS_TYPE = "application/vnd.apple.mpegurl"
Part = Annotated[int, Path(ge=1, le=1_000_000)]


def _parts(ctx: Ctx, session_id: str):  # type: ignore[no-untyped-def]
    try:
        parts = ctx.catalogue.parts(session_id)
    except CatalogueUnavailable as exc:
        raise unavailable(exc) from None
    if parts is None:
        raise HTTPException(404, f"session_id={session_id!r}: no such recording")
    return parts


def _events(ctx: Ctx, session_id: str) -> list[Event]:
    """The session's input events (the timeline marks rage clicks); damaged lines are skipped."""
    return read_session_events(ctx.catalogue.directory_of(session_id), session_id)[0]  # a fleet's: its mirror


def _video(ctx: Ctx, session_id: str, part: int, request: Request) -> Response:
    try:
        path = ctx.catalogue.video_file(session_id, part)
    except CatalogueUnavailable as exc:
        raise unavailable(exc) from None
    if path is None:
        raise HTTPException(404, f"part={part}: session {session_id!r} has no such part")
    headers = {"Cache-Control": "no-cache"}  # a part still being written grows: never cache it
    try:
        video = open_video(path)
    except FileNotFoundError:
        raise HTTPException(404, f"part={part}: session {session_id!r} has no such part") from None
    except OSError as exc:  # the object store is down
        raise HTTPException(503, f"part={part} of session {session_id!r} cannot be read now: {exc}") from None
    if video.local is not None:
        video.close()
        return FileResponse(path, media_type="video/mp4", headers=headers)
    return stored_response(video, request.headers.get("range"), headers)


def _playlist(ctx: Ctx, session_id: str, base: str) -> Response:
    text = build_playlist(_parts(ctx, session_id), lambda part: f"{base}/parts/{part}/video.mp4")
    return Response(text, media_type=HLS_TYPE, headers={"Cache-Control": "no-cache"})


# --- signed-in users ---

@router.get("/api/recordings/{session_id}/playlist.m3u8", response_class=Response,
            responses={200: {"content": {HLS_TYPE: {}}}, 401: {}, 404: {}})
def playlist(session_id: str, principal: CanView, ctx: Ctx) -> Response:
    """The HLS playlist of every part of the session (VOD once sealed, EVENT while recording)."""
    return _playlist(ctx, session_id, f"/api/recordings/{session_id}")


@router.get("/api/recordings/{session_id}/timeline", response_model=Timeline, responses={401: {}, 404: {}})
def timeline(session_id: str, principal: CanView, ctx: Ctx) -> Timeline:
    """The player's timeline: parts, wall-clock mapping, idle stretches and markers."""
    result = build_timeline(_parts(ctx, session_id), ctx.notes.bookmarks(session_id), ctx.catalogue.idle_seconds,
                            events=_events(ctx, session_id))
    audit(ctx, principal, AuditAction.VIEW, session_id, what="replay")
    return result


@router.get("/api/recordings/{session_id}/parts/{part}/video.mp4", response_class=FileResponse,
            responses={200: {"content": {"video/mp4": {}}}, 206: {"content": {"video/mp4": {}}},
                       401: {}, 404: {}, 416: {}, 503: {}})
def video(session_id: str, part: Part, principal: CanView, ctx: Ctx, request: Request) -> Response:
    """One part's MP4 file (from the disk or the object store); supports HTTP Range requests."""
    return _video(ctx, session_id, part, request)


# --- share links (no login; the token is the key) ---

@router.get("/api/shared/{token}/recording", response_model=SessionOut, responses={404: {}, 410: {}})
def shared_recording(token: str, request: Request) -> SessionOut:
    """The shared session's summary (the share page's heading)."""
    link = resolve_share(request, token, log_access=False)
    ctx = context(request)
    row = ctx.catalogue.summary(link.session_id)
    if row is None:
        raise HTTPException(404, "the shared recording no longer exists")
    return session_out(row)


@router.get("/api/shared/{token}/playlist.m3u8", response_class=Response,
            responses={200: {"content": {HLS_TYPE: {}}}, 404: {}, 410: {}})
def shared_playlist(token: str, request: Request) -> Response:
    link = resolve_share(request, token, log_access=False)
    return _playlist(context(request), link.session_id, f"/api/shared/{token}")


@router.get("/api/shared/{token}/timeline", response_model=Timeline, responses={404: {}, 410: {}})
def shared_timeline(token: str, request: Request) -> Timeline:
    link = resolve_share(request, token, log_access=False)
    ctx = context(request)
    # an anonymous viewer does not see the auditors' bookmark notes
    result = build_timeline(_parts(ctx, link.session_id), (), ctx.catalogue.idle_seconds, include_notes=False,
                            events=_events(ctx, link.session_id))
    if link.start_at is not None:
        result.start_at = link.start_at
    return result


@router.get("/api/shared/{token}/parts/{part}/video.mp4", response_class=FileResponse,
            responses={200: {"content": {"video/mp4": {}}}, 206: {"content": {"video/mp4": {}}},
                       404: {}, 410: {}, 416: {}, 503: {}})
def shared_video(token: str, part: Part, request: Request) -> Response:
    link = resolve_share(request, token, log_access=False)
    return _video(context(request), link.session_id, part, request)
