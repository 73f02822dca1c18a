"""Exports (auditor role): start one for a session, follow its progress, download the file.

A sealed export (an encrypted session's) is decrypted on the fly as it is downloaded, with
HTTP Range like a plain one; once its session was shredded it is gone (410).  Every
request here first sweeps away the exports of sessions deleted or shredded since
(:meth:`~fastrec.server.exports.ExportJobs.sweep`).

Every request and every download is audit-logged (``export.requested``,
``export.downloaded``).  Jobs run in the background (:mod:`fastrec.server.exports`); a
job is visible to the user who requested it and to admins; to anybody else it does not
exist (404).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import FileResponse, Response

from fastrec.export.run import MEDIA_TYPES
from fastrec.export.timerange import RangeError, parse_bound
from fastrec.roles import Role
from fastrec.server.audit import AuditAction
from fastrec.server.auth import CanExport, Ctx, Principal
from fastrec.server.exports import ExportBusy, ExportJob
from fastrec.server.media.stored import stored_response
from fastrec.server.routes.recordings import audit, known_session
from fastrec.server.schemas import ExportOut, ExportRequest

router = APIRouter(tags=["exports"])

JobId = Annotated[str, Path(min_length=1, max_length=64)]


def export_out(job: ExportJob) -> ExportOut:
    return ExportOut(id=job.id, session_id=job.session_id, format=job.format, state=job.state,
                     progress=round(job.progress * 100, 2), message=job.message, error=job.error,
                     requested_by=job.requested_by, created_at=datetime.fromtimestamp(job.created_at, UTC),
                     file_name=job.file_name, size_bytes=job.size_bytes, start=job.start, end=job.end,
                     notes=list(job.notes), download=f"/api/exports/{job.id}/file" if job.state == "done" else None)


def _sweep(ctx: Ctx) -> None:
    """Forget the exports of sessions deleted (retention, another server) or shredded."""
    def exists(session_id: str) -> bool:
        try:
            return ctx.catalogue.parts(session_id) is not None
        except Exception:  # the catalogue is unavailable: keep them, decide next time
            return True

    ctx.exports.sweep(exists)


def _job(ctx: Ctx, principal: Principal, job_id: str) -> ExportJob:
    _sweep(ctx)
    job = ctx.exports.get(job_id)
    if job is None or (job.requested_by != principal.name and not principal.user.role.allows(Role.ADMIN)):
        raise HTTPException(404, f"export id={job_id!r}: no such export (jobs last until the server restarts)")
    return job


@router.post("/api/recordings/{session_id}/exports", response_model=ExportOut, status_code=202,
             responses={401: {}, 403: {}, 404: {}, 422: {}, 429: {}, 503: {}})
def start_export(session_id: str, body: ExportRequest, principal: CanExport, ctx: Ctx) -> ExportOut:
    """Start exporting the session as JSON, MP4 or PDF (``from``/``to``: a time range); follow
    it at ``GET /api/exports/{id}``."""
    known_session(ctx, session_id)
    _sweep(ctx)
    if body.format == "json" and (body.start is not None or body.end is not None):
        raise HTTPException(422, "from/to: the JSON export is always the whole session (mp4 and pdf take a range)")
    try:
        first = None if body.start is None else parse_bound("from", body.start)
        last = None if body.end is None else parse_bound("to", body.end)
    except RangeError as exc:
        raise HTTPException(422, str(exc)) from None
    try:
        job = ctx.exports.submit(session_id, body.format, principal.name, first, last)
    except ExportBusy as exc:
        raise HTTPException(429, str(exc)) from None
    audit(ctx, principal, AuditAction.EXPORT_REQUESTED, session_id, job=job.id, format=body.format,
          **{"from": body.start, "to": body.end})
    return export_out(job)


@router.get("/api/exports/{job_id}", response_model=ExportOut, responses={401: {}, 403: {}, 404: {}})
def export_status(job_id: JobId, principal: CanExport, ctx: Ctx) -> ExportOut:
    """An export's state and progress (percent); ``download`` once it is done."""
    return export_out(_job(ctx, principal, job_id))


@router.get("/api/exports/{job_id}/file", response_class=FileResponse,
            responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}}, 206: {}, 401: {}, 403: {},
                       404: {}, 409: {}, 410: {}, 416: {}})
def export_file(job_id: JobId, principal: CanExport, ctx: Ctx, request: Request) -> Response:
    """The exported file (as an attachment; HTTP Range requests are answered)."""
    job = _job(ctx, principal, job_id)
    if job.state != "done" or job.file_name is None:
        raise HTTPException(409, f"export id={job_id!r} is {job.state}"
                                 + (f": {job.error}" if job.error else "; download it once its state is done"))
    path = ctx.exports.file(job)
    if job.sealed:
        return _sealed_file(ctx, principal, job, request)
    audit(ctx, principal, AuditAction.EXPORT_DOWNLOADED, job.session_id, job=job.id, format=job.format,
          bytes=job.size_bytes)
    return FileResponse(path, media_type=MEDIA_TYPES[job.format], filename=job.file_name)


def _sealed_file(ctx: Ctx, principal: Principal, job: ExportJob, request: Request) -> Response:
    """A sealed export's plaintext, decrypted as the body streams (never written anywhere)."""
    from fastrec.crypt.container import KeyUnavailable
    from fastrec.storage.videos import VideoFile

    assert job.file_name is not None
    try:
        plain = ctx.exports.open_sealed(job)
    except KeyUnavailable as exc:
        raise HTTPException(410, f"export id={job.id!r}: gone, its session's key was destroyed ({exc})") from None
    except FileNotFoundError:
        raise HTTPException(404, f"export id={job.id!r}: no such export (its session was deleted)") from None
    audit(ctx, principal, AuditAction.EXPORT_DOWNLOADED, job.session_id, job=job.id, format=job.format,
          bytes=job.size_bytes)
    video = VideoFile(plain, plain.size, 0, ("export", job.id), None, encrypted=True)  # type: ignore[arg-type]
    disposition = f"attachment; filename*=utf-8''{quote(job.file_name)}"
    return stored_response(video, request.headers.get("range"), {"Content-Disposition": disposition},
                           media_type=MEDIA_TYPES[job.format])
