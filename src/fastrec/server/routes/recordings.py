"""Recordings: list, search and filter; detail with integrity and reviews; review marks,
bookmarks; deletion (admin).  Media (playlist, timeline, video) is in :mod:`.media`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response

from fastrec.server.audit import AuditAction, AuditStatus
from fastrec.server.auth import Admin, Auditor, CanView, Ctx, Principal
from fastrec.server.catalogue import CatalogueUnavailable, SessionRow
from fastrec.server.notes import Bookmark, Review
from fastrec.server.schemas import (
    BookmarkIn,
    BookmarkOut,
    DeleteRequest,
    DeleteResult,
    DeletionRecordOut,
    IntegrityOut,
    IntegrityPart,
    ReviewIn,
    ReviewOut,
    SegmentOut,
    SessionDetail,
    SessionOut,
    SessionPage,
)
from fastrec.storage.deletions import DeletionRefused, delete_session

router = APIRouter(tags=["recordings"])

Unavailable = {503: {"description": "the recordings index cannot be read"}}


def review_out(review: Review) -> ReviewOut:
    return ReviewOut(id=review.id, user=review.user, at=datetime.fromtimestamp(review.at, UTC), note=review.note)


def bookmark_out(mark: Bookmark) -> BookmarkOut:
    return BookmarkOut(id=mark.id, moment=datetime.fromtimestamp(mark.moment, UTC), note=mark.note,
                       user=mark.user, created_at=datetime.fromtimestamp(mark.created_at, UTC))


def session_out(row: SessionRow, review: Review | None = None) -> SessionOut:
    return SessionOut(session_id=row.session_id, con_codigo=row.con_codigo, server=row.server, user=row.user,
                      ip=row.ip, connection_type=row.connection_type, start_time=row.start_time,
                      end_time=row.end_time, parts=row.parts, size_bytes=row.size_bytes, recording=row.recording,
                      statuses=list(row.statuses), reviewed=None if review is None else review_out(review))


def audit(ctx: Ctx, principal: Principal, action: AuditAction, target: str | None,
          status: AuditStatus = AuditStatus.SUCCESS, **details: object) -> None:
    ctx.audit.record(action, actor=principal.name, actor_type=principal.via, target=target, status=status,
                     address=principal.caller.address, user_agent=principal.caller.user_agent, details=details)


def unavailable(exc: CatalogueUnavailable) -> HTTPException:
    return HTTPException(503, f"the recordings index cannot be read: {exc}")


def known_session(ctx: Ctx, session_id: str) -> SessionRow:
    """The session's list row; 404 when there is no such recording, 503 without an index."""
    try:
        row = ctx.catalogue.summary(session_id)
    except CatalogueUnavailable as exc:
        raise unavailable(exc) from None
    if row is None:
        raise HTTPException(404, f"session_id={session_id!r}: no such recording")
    return row


@router.get("/api/recordings", response_model=SessionPage, responses={401: {}, **Unavailable})
def list_recordings(
    principal: CanView, ctx: Ctx,
    since: datetime | None = None, until: datetime | None = None,
    server: Annotated[str | None, Query(max_length=500)] = None,
    user: Annotated[str | None, Query(max_length=500)] = None,
    ip: Annotated[str | None, Query(max_length=100)] = None,
    connection_type: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[str | None, Query(max_length=500, description="text in the id, server, user or IP")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> SessionPage:
    """Sessions overlapping the time range and matching every filter, newest first."""
    try:
        rows = ctx.catalogue.sessions(since=since, until=until, server=server or None, user=user or None,
                                      ip=ip or None, connection_type=connection_type or None, text=q or None)
    except CatalogueUnavailable as exc:
        raise unavailable(exc) from None
    page = rows[offset:offset + limit]
    reviewed = ctx.notes.reviewed([r.session_id for r in page])
    return SessionPage(total=len(rows), offset=offset, limit=limit,
                       sessions=[session_out(r, reviewed.get(r.session_id)) for r in page])


@router.get("/api/recordings/{session_id}", response_model=SessionDetail, responses={401: {}, 404: {}, **Unavailable})
def recording_detail(session_id: str, principal: CanView, ctx: Ctx,
                     verify: bool = Query(True, description="check the files against the chain")) -> SessionDetail:
    """Metadata, segments, integrity verdict, reviews and bookmarks of one session."""
    try:
        parts = ctx.catalogue.parts(session_id)
        row = ctx.catalogue.summary(session_id)
    except CatalogueUnavailable as exc:
        raise unavailable(exc) from None
    if parts is None or row is None:
        raise HTTPException(404, f"session_id={session_id!r}: no such recording")
    segments = []
    for entry, meta in zip(parts.entries, parts.metadata, strict=True):
        segments.append(SegmentOut(
            part=entry.part, file=entry.path.name, start_time=entry.start_time, end_time=entry.end_time,
            status=entry.status, size_bytes=entry.size_bytes, sha256=entry.sha256,
            chain_hash=meta.chain.chain_hash if meta else None,
            frames=meta.frames.model_dump() if meta else {}, errors=list(meta.errors) if meta else [],
            pauses=[p.model_dump() for p in meta.capture.pauses] if meta else [],
            window_titles=[t.model_dump() for t in meta.capture.window_titles] if meta else []))
    integrity = None
    if verify:
        report = ctx.catalogue.verify(session_id)
        integrity = IntegrityOut(ok=report.ok, summary=report.summary, parts=[
            IntegrityPart(part=c.part, file=c.file, status=c.status, problems=list(c.problems), notes=list(c.notes))
            for c in report.segments], signatures_checked=report.signatures_checked,
            signatures=report.signatures, deletion_log=list(report.deletion_log), deletions=[
                DeletionRecordOut(parts=list(d.parts), by=d.by, at=d.at, reason=d.reason, key_id=d.key_id,
                                  signature=d.signature, problem=d.problem) for d in report.deletions])
    reviews = ctx.notes.reviews(session_id)
    audit(ctx, principal, AuditAction.VIEW, session_id)
    return SessionDetail(session=session_out(row, reviews[-1] if reviews else None), segments=segments,
                         integrity=integrity, reviews=[review_out(r) for r in reviews],
                         bookmarks=[bookmark_out(b) for b in ctx.notes.bookmarks(session_id)])


@router.get("/api/recordings/{session_id}/summary", response_model=SessionOut,
            responses={401: {}, 404: {}, **Unavailable})
def recording_summary(session_id: str, principal: CanView, ctx: Ctx) -> SessionOut:
    """One session's list row with its latest review (the replay page's heading; no files
    are read and nothing is audit-logged: opening the replay logs the view)."""
    row = known_session(ctx, session_id)
    reviews = ctx.notes.reviewed([session_id])
    return session_out(row, reviews.get(session_id))


@router.post("/api/recordings/{session_id}/reviews", response_model=ReviewOut, status_code=201,
             responses={401: {}, 403: {}, 404: {}})
def mark_reviewed(session_id: str, body: ReviewIn, principal: Auditor, ctx: Ctx) -> ReviewOut:
    """Mark the session as reviewed by you, now, with a note."""
    known_session(ctx, session_id)
    review = ctx.notes.review(session_id, principal.name, body.note)
    audit(ctx, principal, AuditAction.REVIEW, session_id, note=body.note)
    return review_out(review)


@router.get("/api/recordings/{session_id}/bookmarks", response_model=list[BookmarkOut], responses={401: {}})
def list_bookmarks(session_id: str, principal: CanView, ctx: Ctx) -> list[BookmarkOut]:
    return [bookmark_out(b) for b in ctx.notes.bookmarks(session_id)]


@router.post("/api/recordings/{session_id}/bookmarks", response_model=BookmarkOut, status_code=201,
             responses={401: {}, 403: {}, 404: {}})
def add_bookmark(session_id: str, body: BookmarkIn, principal: Auditor, ctx: Ctx) -> BookmarkOut:
    """A note at a moment of the replay (its wall-clock time), shown as a marker."""
    known_session(ctx, session_id)
    moment = body.moment if body.moment.tzinfo else body.moment.astimezone()
    mark = ctx.notes.add_bookmark(session_id, principal.name, moment.timestamp(), body.note)
    audit(ctx, principal, AuditAction.BOOKMARK, session_id, moment=moment.isoformat(), note=body.note)
    return bookmark_out(mark)


@router.delete("/api/recordings/{session_id}/bookmarks/{bookmark_id}", status_code=204,
               responses={401: {}, 403: {}, 404: {}})
def delete_bookmark(session_id: str, bookmark_id: Annotated[int, Path(ge=1, le=2**63 - 1)], principal: Auditor,
                    ctx: Ctx) -> Response:
    if not ctx.notes.delete_bookmark(bookmark_id, session_id):
        raise HTTPException(404, f"bookmark_id={bookmark_id}: no such bookmark of session {session_id!r}")
    return Response(status_code=204)


@router.post("/api/recordings/delete", response_model=DeleteResult, responses={401: {}, 403: {}})
def delete_recordings(body: DeleteRequest, principal: Admin, ctx: Ctx) -> DeleteResult:
    """Delete sessions (all their parts); each deletion is audit-logged and recorded in the
    recordings directory's deletion chain."""
    result = DeleteResult(deleted=[], not_found=[], refused={})
    for session_id in dict.fromkeys(body.session_ids):
        try:
            record = delete_session(ctx.catalogue.directory, session_id, by=principal.name, reason=body.reason)
        except DeletionRefused as exc:
            result.refused[session_id] = str(exc)
            audit(ctx, principal, AuditAction.DELETE, session_id, AuditStatus.DENIED, reason=str(exc))
            continue
        except OSError as exc:
            result.refused[session_id] = f"cannot delete: {exc.strerror or exc}"
            audit(ctx, principal, AuditAction.DELETE, session_id, AuditStatus.FAILURE, reason=str(exc))
            continue
        if record is None:
            result.not_found.append(session_id)
            continue
        ctx.catalogue.forget_session(session_id)
        ctx.notes.forget_session(session_id)
        ctx.exports.forget_session(session_id)  # its exports go with it
        result.deleted.append(session_id)
        audit(ctx, principal, AuditAction.DELETE, session_id, reason=body.reason,
              parts=[p.model_dump() for p in record.parts])
    return result


@router.delete("/api/recordings/{session_id}", response_model=DeleteResult, responses={401: {}, 403: {}, 404: {}})
def delete_recording(session_id: str, principal: Admin, ctx: Ctx) -> DeleteResult:
    result = delete_recordings(DeleteRequest(session_ids=[session_id]), principal, ctx)
    if result.not_found:
        raise HTTPException(404, f"session_id={session_id!r}: no such recording")
    if result.refused:
        raise HTTPException(409, result.refused[session_id])
    return result
