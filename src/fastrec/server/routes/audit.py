"""The audit log: listed and filtered (admin), exported as CSV or JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response

from fastrec.server.audit import AuditEntry
from fastrec.server.auth import Admin, Ctx
from fastrec.server.schemas import AuditOut, AuditPage

router = APIRouter(tags=["audit"])

EXPORT_LIMIT = 100_000


def _query(ctx: Ctx, since: datetime | None, until: datetime | None, actor: str | None, action: str | None,
           target: str | None, status: str | None, limit: int, offset: int) -> tuple[list[AuditEntry], int]:
    try:
        return ctx.audit.query(since=since, until=until, actor=actor, action=action, target=target,
                               status=status, limit=limit, offset=offset)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


Filter = Annotated[str | None, Query(max_length=1024)]
Status = Annotated[Literal["success", "failure", "denied"] | None, Query()]


@router.get("/api/audit", response_model=AuditPage, responses={401: {}, 403: {}})
def list_audit(principal: Admin, ctx: Ctx, since: datetime | None = None, until: datetime | None = None,
               actor: Filter = None, action: Filter = None, target: Filter = None, status: Status = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100,
               offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> AuditPage:
    """Audit records matching every filter, newest first."""
    entries, total = _query(ctx, since, until, actor, action, target, status, limit, offset)
    return AuditPage(total=total, offset=offset, limit=limit,
                     entries=[AuditOut.model_validate(e, from_attributes=True) for e in entries])


@router.get("/api/audit/export", responses={200: {"content": {"text/csv": {}, "application/json": {}}},
                                            401: {}, 403: {}})
def export_audit(principal: Admin, ctx: Ctx, format: Literal["csv", "json"] = "csv",
                 since: datetime | None = None, until: datetime | None = None, actor: Filter = None,
                 action: Filter = None, target: Filter = None, status: Status = None) -> Response:
    """Every matching record (up to 100 000) as a CSV or JSON download."""
    entries, _ = _query(ctx, since, until, actor, action, target, status, EXPORT_LIMIT, 0)
    if format == "csv":
        body, media = ctx.audit.to_csv(entries), "text/csv; charset=utf-8"
    else:
        body, media = ctx.audit.to_json(entries), "application/json"
    return Response(body, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="fastrec-audit.{format}"'})
