"""Sign-in, sign-out, users (admin) and API tokens (each user their own)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request, Response, status

from fastrec.server.accounts import AccountError, ApiToken, Role, User
from fastrec.server.audit import ActorType, AuditAction, AuditStatus
from fastrec.server.auth import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Admin,
    Ctx,
    Principal,
    Viewer,
    caller,
    identify,
)
from fastrec.server.schemas import LoginRequest, Me, TokenCreate, TokenCreated, TokenOut, UserCreate, UserOut, UserUpdate

router = APIRouter(tags=["accounts"])


def _time(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def user_out(user: User) -> UserOut:
    return UserOut(name=user.name, role=user.role, created_at=datetime.fromtimestamp(user.created_at, UTC),
                   disabled=user.disabled)


def token_out(token: ApiToken) -> TokenOut:
    return TokenOut(id=token.id, user=token.user_name, label=token.label,
                    created_at=datetime.fromtimestamp(token.created_at, UTC),
                    last_used_at=_time(token.last_used_at), revoked_at=_time(token.revoked_at))


def _audit(ctx: Ctx, principal: Principal, action: AuditAction, target: str | None, **details: object) -> None:
    ctx.audit.record(action, actor=principal.name, actor_type=principal.via, target=target,
                     address=principal.caller.address, user_agent=principal.caller.user_agent, details=details)


@router.post("/api/auth/login", response_model=Me, responses={401: {}, 429: {}})
def login(body: LoginRequest, request: Request, response: Response, ctx: Ctx) -> Me:
    """Sign in with a password: sets the session cookie (HttpOnly) and the CSRF cookie."""
    who = caller(request)
    # per account *and* address, so nobody can lock an admin out from elsewhere; per address
    # alone with a higher limit, so one address cannot try many accounts
    pair, address = f"user:{body.username.casefold()}|{who.address}", f"addr:{who.address}"
    wait = max(ctx.login_failures.blocked_for(pair), ctx.address_failures.blocked_for(address))
    if wait > 0:
        ctx.audit.record(AuditAction.LOGIN, actor=body.username, actor_type=ActorType.ANONYMOUS,
                         status=AuditStatus.DENIED, address=who.address, user_agent=who.user_agent,
                         details={"reason": "too many failed logins"})
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            f"too many failed logins; try again in {math.ceil(wait)} s",
                            headers={"Retry-After": str(math.ceil(wait))})
    user = ctx.accounts.authenticate(body.username, body.password)
    if user is None:
        ctx.login_failures.hit(pair)
        ctx.address_failures.hit(address)
        ctx.audit.record(AuditAction.LOGIN, actor=body.username, actor_type=ActorType.ANONYMOUS,
                         status=AuditStatus.FAILURE, address=who.address, user_agent=who.user_agent)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    ctx.login_failures.reset(pair)
    secret, session = ctx.accounts.open_session(user, who.address, who.user_agent)
    secure = ctx.settings.cookie_secure
    max_age = int(ctx.settings.session_hours * 3600)
    response.set_cookie(SESSION_COOKIE, secret, max_age=max_age, httponly=True, samesite="strict", secure=secure,
                        path="/")
    response.set_cookie(CSRF_COOKIE, session.csrf_token, max_age=max_age, httponly=False, samesite="strict",
                        secure=secure, path="/")
    ctx.audit.record(AuditAction.LOGIN, actor=user.name, actor_type=ActorType.USER, address=who.address,
                     user_agent=who.user_agent)
    return Me(user=user_out(user), csrf_token=session.csrf_token)


@router.post("/api/auth/logout", status_code=204)
def logout(request: Request, response: Response, ctx: Ctx) -> Response:
    """End the browser session (also fine when there is none)."""
    principal = identify(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        ctx.accounts.close_session(cookie)
    if principal is not None:
        _audit(ctx, principal, AuditAction.LOGOUT, None)
    response.status_code = 204
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/api/auth/me", response_model=Me, responses={401: {}})
def me(principal: Viewer) -> Me:
    """The signed-in user."""
    return Me(user=user_out(principal.user), csrf_token=principal.csrf_token)


@router.get("/api/users", response_model=list[UserOut], responses={401: {}, 403: {}})
def list_users(principal: Admin, ctx: Ctx) -> list[UserOut]:
    return [user_out(u) for u in ctx.accounts.list_users()]


@router.post("/api/users", response_model=UserOut, status_code=201, responses={401: {}, 403: {}, 409: {}})
def create_user(body: UserCreate, principal: Admin, ctx: Ctx) -> UserOut:
    try:
        user = ctx.accounts.create_user(body.name, body.password, body.role)
    except AccountError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT if "exists" in str(exc) else 422, str(exc)) from None
    _audit(ctx, principal, AuditAction.USER_CREATE, user.name, role=user.role.value)
    return user_out(user)


@router.patch("/api/users/{name}", response_model=UserOut, responses={401: {}, 403: {}, 404: {}, 409: {}})
def update_user(name: str, body: UserUpdate, principal: Admin, ctx: Ctx) -> UserOut:
    if ctx.accounts.get_user(name) is None:
        raise HTTPException(404, f"username={name!r}: no such user")
    try:
        user = ctx.accounts.update_user(name, role=body.role, password=body.password, disabled=body.disabled)
    except AccountError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    _audit(ctx, principal, AuditAction.USER_UPDATE, user.name, role=user.role.value, disabled=user.disabled,
           password_changed=body.password is not None)
    return user_out(user)


@router.delete("/api/users/{name}", status_code=204, responses={401: {}, 403: {}, 404: {}, 409: {}})
def delete_user(name: str, principal: Admin, ctx: Ctx) -> Response:
    if ctx.accounts.get_user(name) is None:
        raise HTTPException(404, f"username={name!r}: no such user")
    try:
        ctx.accounts.delete_user(name)
    except AccountError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    _audit(ctx, principal, AuditAction.USER_DELETE, name)
    return Response(status_code=204)


@router.get("/api/tokens", response_model=list[TokenOut], responses={401: {}})
def list_tokens(principal: Viewer, ctx: Ctx) -> list[TokenOut]:
    """Your API tokens (an admin sees everybody's)."""
    owner = None if principal.user.role is Role.ADMIN else principal.name
    return [token_out(t) for t in ctx.accounts.list_tokens(owner)]


@router.post("/api/tokens", response_model=TokenCreated, status_code=201, responses={401: {}})
def create_token(body: TokenCreate, principal: Viewer, ctx: Ctx) -> TokenCreated:
    """A new API token for scripts (``Authorization: Bearer ...``); the secret is shown once."""
    try:
        token, secret = ctx.accounts.create_token(principal.name, body.label)
    except AccountError as exc:
        raise HTTPException(422, str(exc)) from None
    _audit(ctx, principal, AuditAction.TOKEN_CREATE, token.id, label=token.label)
    return TokenCreated(**token_out(token).model_dump(), token=secret)


@router.delete("/api/tokens/{token_id}", status_code=204, responses={401: {}, 404: {}})
def revoke_token(token_id: str, principal: Viewer, ctx: Ctx) -> Response:
    owner = None if principal.user.role is Role.ADMIN else principal.name
    if not ctx.accounts.revoke_token(token_id, owner):
        raise HTTPException(404, f"token_id={token_id!r}: no such active token of yours")
    _audit(ctx, principal, AuditAction.TOKEN_REVOKE, token_id)
    return Response(status_code=204)
