"""What users did in a recording: its input events, its heatmaps, and search across
recordings by window title, server, user, time and event kind (issue 12).

Every route needs the recording policy's ``view`` permission (``CanView``).  The session
is named by its id and must be in the index (404 otherwise); its files are the ones its
own metadata names (:mod:`fastrec.export.source`).  Viewing a heatmap or the events is
audit-logged as a view of the session.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response

from fastrec.events.file import read_session_events
from fastrec.events.model import EventKind
from fastrec.export.heatmaps import heatmap_image, heatmap_stats, resolve_range
from fastrec.export.source import NoSuchSession, SessionSource
from fastrec.export.timerange import RangeError, TimeRange, parse_bound
from fastrec.search.finder import MAX_LIMIT, SearchQuery, parse_moment, search_recordings
from fastrec.server.audit import AuditAction
from fastrec.server.auth import CanView, Ctx
from fastrec.server.catalogue import CatalogueUnavailable
from fastrec.server.routes.recordings import audit, known_session, unavailable
from fastrec.server.schemas import (
    ClickStatsOut,
    EventsOut,
    HeatmapOut,
    ScrollDepthOut,
    SearchHitOut,
    SearchOut,
)

router = APIRouter(tags=["insights"])

Bound = Annotated[str | None, Query(max_length=64, description="seconds from the session start or an ISO 8601 time")]


def _source(ctx: Ctx, session_id: str, start: str | None, end: str | None) -> tuple[SessionSource, TimeRange | None]:
    known_session(ctx, session_id)
    try:
        # its files: this server's directory, or the fleet mirror of the gateway that uploaded it;
        # no hashing per picture
        source = SessionSource.load(ctx.catalogue.directory_of(session_id), session_id, verify=False)
    except NoSuchSession as exc:
        raise HTTPException(404, str(exc)) from None
    try:
        first = None if start is None else parse_bound("from", start)
        last = None if end is None else parse_bound("to", end)
        return source, resolve_range(source, first, last)
    except RangeError as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("/api/recordings/{session_id}/events", response_model=EventsOut,
            responses={401: {}, 403: {}, 404: {}, 503: {}})
def session_events(session_id: str, principal: CanView, ctx: Ctx,
                   kind: Annotated[EventKind | None, Query(description="only events of this kind")] = None
                   ) -> EventsOut:
    """The session's input events in time order (titles as recorded: PII-redacted)."""
    known_session(ctx, session_id)
    events, problems = read_session_events(ctx.catalogue.directory_of(session_id), session_id)
    audit(ctx, principal, AuditAction.VIEW, session_id, what="events")
    return EventsOut(session_id=session_id, problems=problems,
                     events=[e.model_dump(mode="json") for e in events if kind is None or e.kind == kind])


@router.get("/api/recordings/{session_id}/heatmap", response_model=HeatmapOut,
            responses={401: {}, 403: {}, 404: {}, 422: {}, 503: {}})
def heatmap_numbers(session_id: str, principal: CanView, ctx: Ctx,
                    start: Annotated[Bound, Query(alias="from")] = None,
                    end: Annotated[Bound, Query(alias="to")] = None) -> HeatmapOut:
    """Click statistics (total, points, max per point, average) and the scroll depth (20
    buckets, average) of the session or of ``from``..``to``."""
    source, span = _source(ctx, session_id, start, end)
    stats = heatmap_stats(source, span)
    audit(ctx, principal, AuditAction.VIEW, session_id, what="heatmap")
    clicks, scroll = stats.clicks, stats.scroll
    return HeatmapOut(session_id=session_id, start=stats.start, end=stats.end, problems=list(stats.problems),
                      clicks=ClickStatsOut(total=clicks.total, points=clicks.points, max_per_point=clicks.max_per_point,
                                           average_per_point=clicks.average_per_point, hottest=clicks.hottest),
                      scroll=ScrollDepthOut(notches=scroll.notches, buckets=list(scroll.buckets),
                                            average_depth=scroll.average_depth))


@router.get("/api/recordings/{session_id}/heatmap.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}}, 401: {}, 403: {}, 404: {}, 422: {}, 503: {}})
def heatmap_png(session_id: str, principal: CanView, ctx: Ctx,
                kind: Literal["clicks", "scroll"] = "clicks",
                start: Annotated[Bound, Query(alias="from")] = None,
                end: Annotated[Bound, Query(alias="to")] = None) -> Response:
    """The click (or scroll-depth) heatmap drawn over the frame shown at the middle of the
    session or of ``from``..``to``."""
    source, span = _source(ctx, session_id, start, end)
    drawn = heatmap_image(source, span, kind)
    audit(ctx, principal, AuditAction.VIEW, session_id, what=f"heatmap {kind}")
    return Response(drawn.png, media_type="image/png",
                    headers={"Cache-Control": "no-store",
                             "X-Heatmap-Picture-At": drawn.picture_at.isoformat() if drawn.picture_at else ""})


@router.get("/api/search", response_model=SearchOut, responses={401: {}, 403: {}, 422: {}, 503: {}})
def search(principal: CanView, ctx: Ctx,
           title: Annotated[str | None, Query(max_length=500, description="text in the window title")] = None,
           server: Annotated[str | None, Query(max_length=500)] = None,
           user: Annotated[str | None, Query(max_length=500)] = None,
           since: Annotated[str | None, Query(max_length=64, description="ISO 8601 time")] = None,
           until: Annotated[str | None, Query(max_length=64, description="ISO 8601 time")] = None,
           event: EventKind | None = None,
           limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100) -> SearchOut:
    """Moments of recordings: where a window title containing ``title`` was shown, every
    ``event`` of a kind (while such a title was shown, with both), or the sessions of
    ``server``/``user``/``since``/``until``; newest first."""
    try:
        query = SearchQuery(title=title or None, server=server or None, user=user or None,
                            since=parse_moment("since", since), until=parse_moment("until", until),
                            event=event, limit=limit)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    try:
        result = search_recordings(ctx.catalogue.index(), query, folder_of=ctx.catalogue.directory_of)
    except CatalogueUnavailable as exc:
        raise unavailable(exc) from None
    return SearchOut(sessions=result.sessions, truncated=result.truncated, problems=result.problems, hits=[
        SearchHitOut(session_id=h.session_id, server=h.server, user=h.user, moment=h.moment, kind=h.kind,
                     text=h.text, title=h.title, replay=h.replay_path()) for h in result.hits])

