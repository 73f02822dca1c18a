"""Changing the recording policy, audit-logged: the one way the API and ``python -m fastrec
policy`` save a version or roll back.

Every change attempt leaves one audit record (:class:`~fastrec.server.audit.AuditLog`):
``policy.save`` or ``policy.rollback``, target ``policy:v<N>`` (the new version), details
with the version, the author, the comment, the lines added and deleted against the version
it replaced and, for a rollback, the version restored; a refused attempt (an invalid
document, a conflict, an unknown version) is recorded with status ``failure`` and the
reason, then re-raised for the caller to report.

The policy store and the audit log are two SQLite files; the caller opens both before
changing anything, so the usual failure (a database that cannot be opened) is found before
the change is made.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastrec.policy.diff import diff_texts
from fastrec.policy.errors import PolicyConflict, PolicyError, PolicyInputError, PolicyNotFound
from fastrec.policy.store import PolicyStore, PolicyVersion
from fastrec.server.audit import ActorType, AuditAction, AuditLog, AuditStatus

__all__ = ["Actor", "rollback_policy", "save_policy"]

_REFUSALS = (PolicyError, PolicyConflict, PolicyNotFound, PolicyInputError)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who changes the policy, for the audit log (a signed-in user, or ``cli:<os user>``)."""

    name: str
    actor_type: ActorType
    address: str | None = None
    user_agent: str | None = None


def _record(audit: AuditLog, action: AuditAction, actor: Actor, target: str | None, status: AuditStatus,
            details: dict[str, object]) -> None:
    audit.record(action, actor=actor.name, actor_type=actor.actor_type, status=status, target=target,
                 address=actor.address, user_agent=actor.user_agent, details=details)


def _done(store: PolicyStore, audit: AuditLog, action: AuditAction, actor: Actor, saved: PolicyVersion) -> None:
    previous = store.get(saved.version - 1)  # versions are consecutive: the one it replaced (0: the default)
    changes = diff_texts(previous.text, saved.text)
    details: dict[str, object] = {"version": saved.version, "author": saved.author, "comment": saved.comment,
                                  "replaced": previous.version, "additions": changes.additions,
                                  "deletions": changes.deletions, "sha256": saved.sha256}
    if saved.rolled_back_from is not None:
        details["rolled_back_from"] = saved.rolled_back_from
    _record(audit, action, actor, f"policy:v{saved.version}", AuditStatus.SUCCESS, details)


def _refused(audit: AuditLog, action: AuditAction, actor: Actor, exc: Exception, **details: object) -> None:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    _record(audit, action, actor, "policy", AuditStatus.FAILURE, {**details, "reason": reason[:500]})


def save_policy(store: PolicyStore, audit: AuditLog, text: str, *, author: str, comment: str, actor: Actor,
                base_version: int | None = None) -> PolicyVersion:
    """:meth:`PolicyStore.save`, audit-logged; raises what it raises."""
    try:
        saved = store.save(text, author=author, comment=comment, base_version=base_version)
    except _REFUSALS as exc:
        _refused(audit, AuditAction.POLICY_SAVE, actor, exc)
        raise
    _done(store, audit, AuditAction.POLICY_SAVE, actor, saved)
    return saved


def rollback_policy(store: PolicyStore, audit: AuditLog, version: int, *, author: str, comment: str,
                    actor: Actor, base_version: int | None = None) -> PolicyVersion:
    """:meth:`PolicyStore.rollback`, audit-logged; raises what it raises."""
    try:
        saved = store.rollback(version, author=author, comment=comment, base_version=base_version)
    except _REFUSALS as exc:
        _refused(audit, AuditAction.POLICY_ROLLBACK, actor, exc, rollback_to=version)
        raise
    _done(store, audit, AuditAction.POLICY_ROLLBACK, actor, saved)
    return saved
