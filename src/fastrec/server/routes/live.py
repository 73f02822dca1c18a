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

import asyncio
from collections.abc import AsyncIterator
from enum import IntEnum
from typing import TypeVar

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from fastrec.live.hub import SubscriberDropped
from fastrec.server.auth import identify, same_origin
from fastrec.server.context import ServerContext

router = APIRouter(tags=["live"])
T = TypeVar("T")


class CloseCode(IntEnum):
    GOING_AWAY = 1001
    UNAUTHENTICATED = 4401
    FORBIDDEN_ORIGIN = 4403
    TOO_SLOW = 4408
    RATE_LIMITED = 4429


async def start_hub(ctx: ServerContext) -> None:
    from fastrec.live.hub import LiveHub  # noqa: PLC0415

    from fastrec.settings import load_settings  # noqa: PLC0415

    # the recorders' settings name the store (SQLite beside the index, or FASTREC_REDIS_URL)
    recorder_settings = load_settings(output_dir=str(ctx.settings.recordings_dir))
    if ctx.settings.redis_url and not recorder_settings.redis_url:
        recorder_settings.redis_url = ctx.settings.redis_url
    ctx.hub = LiveHub.from_settings(recorder_settings)
    await ctx.hub.start()


async def stop_hub(ctx: ServerContext) -> None:
    if ctx.hub is not None:
        await ctx.hub.aclose()
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
    # the client's side is read too: a closed tab (or uvicorn closing connections at
    # shut-down) ends the handler at once, not at the next event
    gone = asyncio.create_task(_until_disconnected(websocket))
    try:
        async with ctx.hub.subscribe() as subscription:
            async for message in _until(subscription, gone):
                await websocket.send_text(message.text)
    except SubscriberDropped as dropped:
        await _close(websocket, CloseCode.TOO_SLOW, f"fell behind; reconnect ({dropped.reason})"[:120])
        return
    except (WebSocketDisconnect, RuntimeError):
        return  # the client went away mid-send
    finally:
        gone.cancel()
    if not gone.done():
        await _close(websocket, CloseCode.GOING_AWAY, "server shutting down")


async def _until_disconnected(websocket: WebSocket) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


async def _until(subscription: AsyncIterator[T], gone: asyncio.Task[None]) -> AsyncIterator[T]:
    """The subscription's messages until the client is gone."""
    iterator = subscription.__aiter__()
    while True:
        following = asyncio.ensure_future(iterator.__anext__())
        done, _ = await asyncio.wait({following, gone}, return_when=asyncio.FIRST_COMPLETED)
        if following not in done:
            following.cancel()
            return
        try:
            yield following.result()
        except StopAsyncIteration:
            return


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    try:
        await websocket.close(code, reason)
    except RuntimeError:
        pass  # already closed by the client
