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

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from fastrec.policy.errors import PolicyError
from fastrec.server.config import ServerSettings
from fastrec.server.context import ServerContext
from fastrec.server.pages import CSP, page_html
from fastrec.server.routes import accounts, audit, exports, insights, live, media, policy, recordings, shares, ui
from fastrec.server.schemas import ErrorOut

__all__ = ["UI_PATHS", "create_app"]

#: paths the web UI answers with its page (the script renders the view)
UI_PATHS = ("/", "/login", "/live", "/recordings", "/recordings/{session_id}", "/replay/{session_id}", "/search",
            "/shares", "/audit", "/users", "/policy")


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
                  description="Live sessions, recordings, replay, share links, users, the audit log and "
                              "the recording policy.")
    for module in (accounts, recordings, media, insights, exports, shares, audit, live, policy, ui):
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

    @app.exception_handler(PolicyError)
    async def invalid_document(request: Request, exc: PolicyError) -> JSONResponse:
        # every problem on its line in detail; where the first one is, for an editor to show
        return JSONResponse({"detail": str(exc), "line": exc.line, "column": exc.column}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_detail(exc)}, status_code=422)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = error_shapes(get_openapi(title=app.title, version=app.version,
                                                          description=app.description, routes=app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def validation_detail(exc: RequestValidationError) -> str:
    """A request's bad values in one line: ``query.limit=0: Input should be greater than or
    equal to 1; body.name: Field required``."""
    parts = []
    for error in exc.errors()[:10]:
        where = ".".join(str(p) for p in error.get("loc", ()))
        value = error.get("input")
        shown = "" if value is None or isinstance(value, dict | list) else f"={str(value)[:80]!r}"
        parts.append(f"{where}{shown}: {error.get('msg', 'not allowed')}")
    return "; ".join(parts) or "the request is not valid"


def error_shapes(document: dict[str, Any]) -> dict[str, Any]:
    """Declare :class:`ErrorOut` as the body of every error response (FastAPI's default 422
    shape, a list of pydantic errors, is replaced by the API's one error shape)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("ValidationError", None)
    schemas.pop("HTTPValidationError", None)
    schemas["ErrorOut"] = ErrorOut.model_json_schema()
    ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for code, response in operation.get("responses", {}).items():
                declared = response.get("content", {})
                if code.isdigit() and int(code) >= 400 and set(declared) <= {"application/json"}:
                    response.update(ref)
                    response.setdefault("description", "Error")
    return document
