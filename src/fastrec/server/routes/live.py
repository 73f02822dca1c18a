"""Live sessions over a WebSocket: ``/admin/sessions/live``.

On connect the client gets ``sessions_snapshot`` (every session being recorded now), then
``session_started``, ``session_updated`` (at least every 2 s per recording session),
``session_ended`` and ``alert`` as JSON text frames (see :mod:`fastrec.live.model`).

Authentication: the browser's session cookie (same origin only) or ``Authorization:
Bearer`` with an API token.  Connection attempts are rate-limited per client address.
The server closes with a documented code (README, "Admin server"):

- 4401 not signed in, or the session expired (sign in again, then reconnect)
- 4403 the page's origin is not this server
- 4429 too many connection attempts from this address (retry later, with backoff)
- 4408 the client read too slowly and fell behind (reconnect)
- 1001 the server is shutting down
"""

from __future__ import annotations

from enum import IntEnum

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from fastrec.server.auth import identify, same_origin
from fastrec.server.context import ServerContext

router = APIRouter(tags=["live"])


class CloseCode(IntEnum):
    GOING_AWAY = 1001
    UNAUTHENTICATED = 4401
    FORBIDDEN_ORIGIN = 4403
    TOO_SLOW = 4408
    RATE_LIMITED = 4429


async def start_hub(ctx: ServerContext) -> None:
    from fastrec.live.hub import LiveHub  # noqa: PLC0415 - the live layer starts with the app

    ctx.hub = LiveHub.from_server_settings(ctx.settings)
    await ctx.hub.start()


async def stop_hub(ctx: ServerContext) -> None:
    if ctx.hub is not None:
        await ctx.hub.stop()
        ctx.hub = None


async def refuse(websocket: WebSocket, code: CloseCode, reason: str) -> None:
    """Close with ``code``.  Accepted first: a close before the handshake completes is an
    HTTP 403 to the client (ASGI), and a browser's WebSocket then only sees 1006, never the
    code that tells the page what to do (sign in again, or back off)."""
    await websocket.accept()
    await websocket.close(code, reason)


@router.websocket("/admin/sessions/live")
async def live_sessions(websocket: WebSocket) -> None:
    ctx: ServerContext = websocket.app.state.ctx
    address = websocket.client.host if websocket.client else "?"
    if ctx.ws_attempts.hit(f"ws:{address}") > 0:
        await refuse(websocket, CloseCode.RATE_LIMITED, "too many connection attempts; retry later")
        return
    if not same_origin(websocket):
        await refuse(websocket, CloseCode.FORBIDDEN_ORIGIN, "cross-origin connection refused")
        return
    principal = identify(websocket)
    if principal is None:
        await refuse(websocket, CloseCode.UNAUTHENTICATED, "sign in first (no session, or it expired)")
        return
    await websocket.accept()
    try:
        async for message in ctx.hub.subscribe():
            if message is None:  # this client fell too far behind
                await websocket.close(CloseCode.TOO_SLOW, "fell behind; reconnect")
                return
            await websocket.send_text(message)
    except WebSocketDisconnect:
        return
    await websocket.close(CloseCode.GOING_AWAY, "server shutting down")
