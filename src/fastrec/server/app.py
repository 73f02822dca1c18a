"""The admin server: a FastAPI application over one recordings directory.

:func:`create_app` builds it from :class:`~fastrec.server.config.ServerSettings`; the
context (database, stores, live hub) opens when the app starts and closes when it stops,
so an app object can be created, tested and discarded without leaving anything behind.
The OpenAPI schema is at ``/openapi.json`` (interactive docs at ``/docs``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from fastrec.server.config import ServerSettings
from fastrec.server.context import ServerContext
from fastrec.server.pages import CSP, page_html
from fastrec.server.routes import accounts, audit, live, media, recordings, shares, ui

__all__ = ["UI_PATHS", "create_app"]

#: paths the web UI answers with its page (the script renders the view)
UI_PATHS = ("/", "/login", "/live", "/recordings", "/recordings/{session_id}", "/replay/{session_id}",
            "/shares", "/audit", "/users")


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    """The admin server's ASGI app for ``settings`` (default: from the environment)."""
    settings = settings or ServerSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = ServerContext.open(settings)
        app.state.ctx = ctx
        try:
            await live.start_hub(ctx)
            yield
        finally:
            await live.stop_hub(ctx)
            ctx.close()

    app = FastAPI(title="fastrec admin server", version="1", lifespan=lifespan,
                  description="Live sessions, recordings, replay, share links, users and the audit log.")
    for module in (accounts, recordings, media, shares, audit, live, ui):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=str(files("fastrec.server") / "static")), name="static")

    def ui_page(request: Request) -> HTMLResponse:
        return HTMLResponse(page_html("Admin", ""))

    for path in UI_PATHS:
        app.add_api_route(path, ui_page, methods=["GET"], include_in_schema=False, response_class=HTMLResponse)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # the one error shape of the API: {"detail": "what went wrong and what is allowed"}
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    return app
