"""Who is asking, and may they: browser sessions, API tokens, roles, CSRF.

- A browser signs in with a password and gets two cookies: the session id (HttpOnly,
  SameSite=Strict, never readable by scripts) and a CSRF token (readable by the page's
  script, which echoes it in the ``X-CSRF-Token`` header).  Every state-changing request
  made with the session cookie must carry that header, equal to the session's token: a
  cross-site form can send the cookie but cannot read the token.
- Scripts send ``Authorization: Bearer frt_...`` (an API token); no cookie, no CSRF.
- Roles are checked per route with :func:`require`; 401 means "not signed in (or the
  session expired)", 403 "signed in, not allowed".
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, WebSocket, status
from starlette.requests import HTTPConnection

from fastrec.policy.document import Permission
from fastrec.server.accounts import Role, User
from fastrec.server.audit import ActorType
from fastrec.server.context import ServerContext

__all__ = ["CSRF_COOKIE", "CSRF_HEADER", "SESSION_COOKIE", "Caller", "Principal", "context", "current",
           "identify", "require"]

SESSION_COOKIE = "fastrec_session"
CSRF_COOKIE = "fastrec_csrf"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True, slots=True)
class Caller:
    """Where a request comes from, for the audit log."""

    address: str | None
    user_agent: str | None


@dataclass(frozen=True, slots=True)
class Principal:
    user: User
    via: ActorType  # USER (browser session) or API_TOKEN
    csrf_token: str | None
    caller: Caller

    @property
    def name(self) -> str:
        return self.user.name


def context(connection: HTTPConnection) -> ServerContext:
    ctx: ServerContext = connection.app.state.ctx
    return ctx


def caller(connection: HTTPConnection) -> Caller:
    return Caller(connection.client.host if connection.client else None,
                  connection.headers.get("user-agent"))


def identify(connection: HTTPConnection) -> Principal | None:
    """The signed-in user of a request or WebSocket, or None."""
    ctx = context(connection)
    header = connection.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() == "bearer" and secret:
        user = ctx.accounts.user_for_token(secret.strip())
        return None if user is None else Principal(user, ActorType.API_TOKEN, None, caller(connection))
    cookie = connection.cookies.get(SESSION_COOKIE)
    if cookie:
        session = ctx.accounts.session(cookie)
        if session is not None:
            return Principal(session.user, ActorType.USER, session.csrf_token, caller(connection))
    return None


def current(request: Request) -> Principal:
    """The signed-in user (401 otherwise); state-changing cookie requests need the CSRF header."""
    principal = identify(request)
    if principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "sign in first (no session, or it expired)",
                            headers={"WWW-Authenticate": "Bearer"})
    if principal.via is ActorType.USER and request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not (principal.csrf_token and hmac.compare_digest(sent, principal.csrf_token)):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"missing or wrong {CSRF_HEADER} header (copy it from the {CSRF_COOKIE} cookie)")
    return principal


def require(role: Role):  # type: ignore[no-untyped-def]
    """A dependency: the signed-in user, when their role includes ``role`` (else 403)."""

    def check(principal: Annotated[Principal, Depends(current)]) -> Principal:
        if not principal.user.role.allows(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"role {principal.user.role.value} may not do this (needs {role.value})")
        return principal

    return check


def permitted(permission: Permission):  # type: ignore[no-untyped-def]
    """A dependency: the signed-in user, when the active recording policy's permissions
    section lets their role ``permission`` (view, export, share) recordings (else 403)."""

    def check(principal: Annotated[Principal, Depends(current)],
              ctx: Annotated[ServerContext, Depends(context)]) -> Principal:
        active = ctx.active_policy.current()
        if not active.policy.permissions.allows(principal.user.role, permission):
            allowed = ", ".join(r.value for r in active.roles(permission)) or "no role"
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"role {principal.user.role.value} may not {permission.value} recordings: "
                                f"the recording policy (version {active.version.version}) allows {allowed}")
        return principal

    return check


Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Auditor = Annotated[Principal, Depends(require(Role.AUDITOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
Ctx = Annotated[ServerContext, Depends(context)]
# the recording policy's permissions on recordings (on top of the roles above)
CanView = Annotated[Principal, Depends(permitted(Permission.VIEW))]
CanExport = Annotated[Principal, Depends(permitted(Permission.EXPORT))]
CanShare = Annotated[Principal, Depends(permitted(Permission.SHARE))]


def same_origin(websocket: WebSocket) -> bool:
    """A browser's WebSocket must come from our own pages (cookies ride along cross-site)."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser: scripts authenticate with a token
    host = websocket.headers.get("host", "")
    return origin.split("://", 1)[-1] == host
