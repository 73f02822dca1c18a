"""Share links: create (auditor), list and revoke, and the read-only page they open.

The reference's endpoints: ``POST /admin/session-recordings/share/{session_id}`` with
``{"expiresIn": "1h"|"24h"|"7d"|"30d"|"never"}`` and ``GET
/admin/session-recordings/shared/{token}``.  Every access to a link, allowed or refused,
is audit-logged with the time, address and user agent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse

from fastrec.server.audit import ActorType, AuditAction, AuditStatus
from fastrec.server.auth import Auditor, CanShare, Ctx, caller, context
from fastrec.server.routes.recordings import audit, known_session
from fastrec.server.pages import page_html
from fastrec.server.schemas import ShareCreated, ShareOut, ShareRequest
from fastrec.server.shares import ShareLink, ShareState, share_ttl

router = APIRouter(tags=["share links"])

SHARED_PATH = "/admin/session-recordings/shared/"


def _time(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def share_out(link: ShareLink) -> ShareOut:
    return ShareOut(id=link.id, session_id=link.session_id, created_by=link.created_by,
                    created_at=datetime.fromtimestamp(link.created_at, UTC),
                    expires_at=datetime.fromtimestamp(link.expires_at, UTC), start_at=_time(link.start_at),
                    state=link.state().value, revoked_at=_time(link.revoked_at), revoked_by=link.revoked_by)


@router.post("/admin/session-recordings/share/{session_id}", response_model=ShareCreated, status_code=201,
             responses={401: {}, 403: {}, 404: {}})
def create_share(session_id: str, body: ShareRequest, request: Request, principal: CanShare, ctx: Ctx) -> ShareCreated:
    """A read-only link to one recording, valid without login until it expires."""
    known_session(ctx, session_id)
    ttl = share_ttl(body.expiresIn, ctx.settings.share_link_max_ttl_seconds)
    start = None
    if body.startAt is not None:
        start = (body.startAt if body.startAt.tzinfo else body.startAt.astimezone()).timestamp()
    link, token = ctx.shares.create(session_id, principal.name, ttl, start)
    audit(ctx, principal, AuditAction.SHARE_CREATE, session_id, link_id=link.id, expires_in=body.expiresIn)
    url = str(request.base_url).rstrip("/") + SHARED_PATH + token
    return ShareCreated(**share_out(link).model_dump(), url=url, token=token)


@router.get("/api/shares", response_model=list[ShareOut], responses={401: {}, 403: {}})
def list_shares(principal: Auditor, ctx: Ctx, session_id: str | None = None) -> list[ShareOut]:
    """Links not yet forgotten (valid, expired or revoked), newest first."""
    return [share_out(link) for link in ctx.shares.list(session_id or None)]


@router.delete("/api/shares/{link_id}", response_model=ShareOut, responses={401: {}, 403: {}, 404: {}})
def revoke_share(link_id: str, principal: Auditor, ctx: Ctx) -> ShareOut:
    """Revoke a link: from now on it opens a "revoked" page, never the recording."""
    link = ctx.shares.revoke(link_id, principal.name)
    if link is None:
        raise HTTPException(404, f"link_id={link_id!r}: no such link (or it expired and was forgotten)")
    audit(ctx, principal, AuditAction.SHARE_REVOKE, link.session_id, link_id=link_id)
    return share_out(link)


_REFUSED = {
    ShareState.EXPIRED: (410, "This link has expired",
                         "The recording it shared is no longer available through it. Ask for a new link."),
    ShareState.REVOKED: (410, "This link was revoked",
                         "Whoever shared it has withdrawn it. Ask for a new link if you still need it."),
    ShareState.UNKNOWN: (404, "This link is not valid",
                         "It may have expired some time ago, or been copied incompletely."),
}


class ShareRefused(HTTPException):
    """A link that opens nothing: 410 (expired, revoked) or 404 (unknown)."""

    def __init__(self, state: ShareState) -> None:
        self.state = state
        code, title, _ = _REFUSED[state]
        super().__init__(code, title)


def resolve_share(request: Request, token: str, *, log_access: bool) -> ShareLink:
    """The valid link of ``token``; :class:`ShareRefused` otherwise.  Audit-logged when asked."""
    ctx = context(request)
    who = caller(request)
    state, link = ctx.shares.resolve(token)
    if log_access:
        ctx.audit.record(AuditAction.SHARE_ACCESS, actor=link.id if link else None,
                         actor_type=ActorType.SHARE_LINK,
                         status=AuditStatus.SUCCESS if state is ShareState.VALID else AuditStatus.DENIED,
                         target=link.session_id if link else None, address=who.address,
                         user_agent=who.user_agent, details={"state": state.value})
    if state is not ShareState.VALID or link is None:
        raise ShareRefused(state if state is not ShareState.VALID else ShareState.UNKNOWN)
    return link


@router.get("/admin/session-recordings/shared/{token}", response_class=HTMLResponse,
            responses={404: {"description": "unknown link (a page)", "content": {"text/html": {}}},
                       410: {"description": "expired or revoked (a page)", "content": {"text/html": {}}}})
def open_share(token: str, request: Request) -> Response:
    """The shared recording's read-only replay page (no login); a clear page when refused."""
    try:
        resolve_share(request, token, log_access=True)
    except ShareRefused as refused:
        code, title, text = _REFUSED[refused.state]
        body = f'<div class="refused" id="refused"><h1>{escape(title)}</h1><p>{escape(text)}</p></div>'
        return HTMLResponse(page_html(title, body, script=None), status_code=code,
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
    return HTMLResponse(page_html("Shared recording", "", script="app.js", shared=True),
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
