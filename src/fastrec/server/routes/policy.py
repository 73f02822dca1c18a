"""The recording policy: read (auditor), validate (auditor), save and roll back (admin).

The versions are those of :class:`fastrec.policy.store.PolicyStore` in the recordings
directory, which the recorders read too.  Changes go through
:mod:`fastrec.server.policy_changes` (audit-logged, refusals included).  Version 0 is the
default policy, in force while nothing has been saved.

Errors: an invalid document is a 422 whose ``detail`` lists every problem with its line
and whose ``line``/``column`` locate the first one (the app's handler of
:class:`~fastrec.policy.errors.PolicyError`); an unknown version a 404; a save made on a
version that is no longer the active one, or of the active document again, a 409.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from fastrec.policy.document import parse_policy
from fastrec.policy.errors import PolicyConflict, PolicyInputError, PolicyNotFound
from fastrec.policy.store import PolicyVersion
from fastrec.server.auth import Admin, Auditor, Ctx, Principal
from fastrec.server.policy_changes import Actor, rollback_policy, save_policy
from fastrec.server.schemas import (
    PolicyCheckIn,
    PolicyCheckOut,
    PolicyDiffLine,
    PolicyDiffOut,
    PolicyRollbackIn,
    PolicySaveIn,
    PolicyVersionOut,
    PolicyVersionSummary,
)

router = APIRouter(tags=["recording policy"])

_MAX = 2**63 - 1  # SQLite's integers
Version = Annotated[int, Path(ge=0, le=_MAX, description="0 is the default policy")]
Responses = {401: {}, 403: {}}


def _summary(v: PolicyVersion, active: int) -> dict[str, object]:
    return {"version": v.version, "created_at": None if v.is_default else datetime.fromtimestamp(v.created_at, UTC),
            "author": v.author, "comment": v.comment, "sha256": v.sha256, "rolled_back_from": v.rolled_back_from,
            "active": v.version == active}


def _out(v: PolicyVersion, active: int) -> PolicyVersionOut:
    return PolicyVersionOut(**_summary(v, active), text=v.text)  # type: ignore[arg-type]


def _refused(exc: Exception) -> HTTPException:
    if isinstance(exc, PolicyNotFound):
        return HTTPException(404, str(exc))
    if isinstance(exc, PolicyConflict):
        return HTTPException(409, str(exc))
    return HTTPException(422, str(exc))


def _actor(principal: Principal) -> Actor:
    return Actor(principal.name, principal.via, principal.caller.address, principal.caller.user_agent)


@router.get("/api/policy", response_model=PolicyVersionOut, responses=Responses)
def active_policy(principal: Auditor, ctx: Ctx) -> PolicyVersionOut:
    """The active policy document (version 0, the default, while nothing has been saved)."""
    active = ctx.policy.active_or_default()
    return _out(active, active.version)


@router.get("/api/policy/versions", response_model=list[PolicyVersionSummary], responses=Responses)
def policy_versions(principal: Auditor, ctx: Ctx) -> list[PolicyVersionSummary]:
    """Every saved version, oldest first; the last one is active."""
    versions = ctx.policy.versions()
    active = versions[-1].version if versions else 0
    return [PolicyVersionSummary(**_summary(v, active)) for v in versions]  # type: ignore[arg-type]


@router.get("/api/policy/versions/{version}", response_model=PolicyVersionOut, responses={**Responses, 404: {}})
def policy_version(version: Version, principal: Auditor, ctx: Ctx) -> PolicyVersionOut:
    """One version with its document."""
    try:
        found = ctx.policy.get(version)
    except (PolicyNotFound, PolicyInputError) as exc:
        raise _refused(exc) from None
    return _out(found, ctx.policy.active_or_default().version)


@router.get("/api/policy/diff", response_model=PolicyDiffOut, responses={**Responses, 404: {}})
def policy_diff(principal: Auditor, ctx: Ctx,
                from_: Annotated[int, Query(alias="from", ge=0, le=_MAX, description="the old version")],
                to: Annotated[int, Query(ge=0, le=_MAX, description="the new version")]) -> PolicyDiffOut:
    """The line diff of two versions: every line tagged equal/add/remove, and the counts."""
    try:
        changes = ctx.policy.diff(from_, to)
    except (PolicyNotFound, PolicyInputError) as exc:
        raise _refused(exc) from None
    return PolicyDiffOut(from_version=from_, to_version=to, additions=changes.additions,
                         deletions=changes.deletions,
                         lines=[PolicyDiffLine(kind=line.kind, text=line.text, old=line.old, new=line.new)
                                for line in changes.lines])


@router.post("/api/policy/validate", response_model=PolicyCheckOut, responses={**Responses, 422: {}})
def validate_policy(body: PolicyCheckIn, principal: Auditor) -> PolicyCheckOut:
    """Check a document without saving it (422 with the line of each problem)."""
    policy = parse_policy(body.text)
    return PolicyCheckOut(default_action=policy.connections.default.value,
                          connection_rules=len(policy.connections.rules), privacy_rules=len(policy.privacy.rules),
                          presets=[p.value for p in policy.privacy.presets])


@router.post("/api/policy", response_model=PolicyVersionOut, status_code=201,
             responses={**Responses, 409: {}, 422: {}})
def save_policy_version(body: PolicySaveIn, principal: Admin, ctx: Ctx) -> PolicyVersionOut:
    """Save a document as the new active version (author: you; audit-logged)."""
    try:
        saved = save_policy(ctx.policy, ctx.audit, body.text, author=principal.name, comment=body.comment,
                            actor=_actor(principal), base_version=body.base_version)
    except (PolicyConflict, PolicyInputError) as exc:
        raise _refused(exc) from None
    return _out(saved, saved.version)


@router.post("/api/policy/rollback", response_model=PolicyVersionOut, status_code=201,
             responses={**Responses, 404: {}, 409: {}, 422: {}})
def rollback_policy_version(body: PolicyRollbackIn, principal: Admin, ctx: Ctx) -> PolicyVersionOut:
    """Make an old version's document active again, as a new version (audit-logged)."""
    try:
        saved = rollback_policy(ctx.policy, ctx.audit, body.version, author=principal.name, comment=body.comment,
                                actor=_actor(principal), base_version=body.base_version)
    except (PolicyNotFound, PolicyConflict, PolicyInputError) as exc:
        raise _refused(exc) from None
    return _out(saved, saved.version)
