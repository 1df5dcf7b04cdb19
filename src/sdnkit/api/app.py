"""The FastAPI application: PVE's ``/api2/json`` tree over the service layer.

``create_app(config_dir)`` builds it: the access store and authenticator (``api/access.py``,
``api/auth.py``), the service layer (``sdnkit.service.SdnService``), the routes of
``api/routes/*`` and the error handlers that answer in PVE's envelope. The OpenAPI document is at
``/api2/json/openapi.json`` and the interactive docs at ``/api2/json/docs``; both need valid
credentials like every other route except ``POST /api2/json/access/ticket``. The web UI's files
are served at ``/`` (``api/webui.py``).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from sdnkit.api.access import AccessStore
from sdnkit.api.auth import COOKIE, Authenticator
from sdnkit.api.endpoint import AppState
from sdnkit.api.envelope import error, from_exception
from sdnkit.api.routes import ROUTE_MODULES
from sdnkit.api.webui import install_ui
from sdnkit.errors import SdnError

__all__ = ["PREFIX", "create_app"]

PREFIX = "/api2/json"
OPENAPI_PATH = f"{PREFIX}/openapi.json"
DOCS_PATH = f"{PREFIX}/docs"

DESCRIPTION = """Proxmox VE compatible SDN API (paths, parameters and answers of PVE's `/cluster/sdn`
and `/nodes/{node}/sdn`).

Authenticate with an API token (`Authorization: PVEAPIToken=USER@REALM!TOKENID=SECRET`) or a
ticket from `POST /access/ticket` (cookie `PVEAuthCookie`, and header `CSRFPreventionToken` on
every request other than GET). Bodies may be form-encoded (a repeated key is an array) or JSON;
booleans are 0/1. Answers are `{"data": ...}`; errors carry `message` and, for parameter errors
(HTTP 400), `errors` by parameter name."""


def _router() -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    for name in ROUTE_MODULES:
        importlib.import_module(f"sdnkit.api.routes.{name}").register(router)
    return router


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(
            title="sdnkit SDN API", version=app.version, description=DESCRIPTION, routes=app.routes
        )
        schema.setdefault("components", {})["securitySchemes"] = {
            "PVEAPIToken": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "PVEAPIToken=USER@REALM!TOKENID=SECRET",
            },
            "PVEAuthCookie": {"type": "apiKey", "in": "cookie", "name": COOKIE},
        }
        schema["security"] = [{"PVEAPIToken": []}, {"PVEAuthCookie": []}]
        app.openapi_schema = schema
    return app.openapi_schema


def _install_docs(app: FastAPI) -> None:
    async def openapi_json(request: Request) -> Response:
        state: AppState = request.app.state.sdn
        state.auth.authenticate(request.method, request.headers, request.cookies)
        return JSONResponse(_openapi(app))

    async def docs(request: Request) -> Response:
        state: AppState = request.app.state.sdn
        state.auth.authenticate(request.method, request.headers, request.cookies)
        return get_swagger_ui_html(openapi_url=OPENAPI_PATH, title="sdnkit SDN API")

    for path in (OPENAPI_PATH, "/openapi.json"):
        app.add_api_route(path, openapi_json, methods=["GET"], include_in_schema=False)
    for path in (DOCS_PATH, "/docs"):
        app.add_api_route(path, docs, methods=["GET"], include_in_schema=False)


def _install_errors(app: FastAPI) -> None:
    async def on_error(request: Request, exc: Exception) -> Response:
        return from_exception(exc)

    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error(404, f"Method '{request.method} {request.url.path}' not implemented")
        if exc.status_code == 405:
            return error(405, f"Method '{request.method} {request.url.path}' not implemented")
        return error(exc.status_code, str(exc.detail))

    async def on_validation(request: Request, exc: RequestValidationError) -> Response:
        errors = {
            ".".join(str(p) for p in e.get("loc", ())[1:]) or "body": e.get("msg", "") for e in exc.errors()
        }
        return error(400, "Parameter verification failed.", errors)

    app.add_exception_handler(StarletteHTTPException, on_http)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, on_validation)  # type: ignore[arg-type]
    app.add_exception_handler(SdnError, on_error)  # answered here, not logged as a crash
    app.add_exception_handler(Exception, on_error)  # the rest: 500, logged with its traceback


def _default_service(config_dir: str) -> Any:
    from sdnkit.service import SdnService

    return SdnService(config_dir)


def create_app(
    config_dir: str | os.PathLike[str], *, service: Any = None, extras: Mapping[str, Any] | None = None
) -> FastAPI:
    """The API app for one store: a directory or an etcd URL (``service`` replaces the default SdnService)."""
    directory = os.fspath(config_dir)
    app = FastAPI(
        title="sdnkit SDN API",
        description=DESCRIPTION,
        version="1.0",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    store = AccessStore(directory)
    app.state.sdn = AppState(
        config_dir=directory,
        auth=Authenticator(store),
        service=service if service is not None else _default_service(directory),
        extras=dict(extras or {}),
    )
    app.include_router(_router())
    _install_docs(app)
    install_ui(app)  # last: its catch-all GET route must not shadow an API route
    _install_errors(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app
