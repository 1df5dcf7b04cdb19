"""One API endpoint: authenticate, read and check parameters, run the handler, answer in the envelope.

Route modules declare endpoints with ``add(router, method, path, handler, spec=..., ...)``; the
handler is a plain function of a ``Call`` and runs in a worker thread (the service layer does
blocking file and lock I/O). Its return value becomes ``{"data": ...}``; its exceptions become
PVE-style errors (``envelope.py``).

Request bodies are read as PVE reads them: ``application/x-www-form-urlencoded`` (what proxmoxer
and the PVE web UI send; a repeated key gives an array) or ``application/json``; parameters from
the query string and the body are merged. Bodies are limited to 64 KiB, as in pveproxy, and JSON
bodies to 32 levels of nesting (PVE's parameters are flat: a list value is the second level). The
depth is measured before ``json.loads`` runs: the decoder recurses once per level, and a body of
``[[[[…`` would otherwise end in a ``RecursionError`` (a 500) instead of a 400.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from sdnkit.api.auth import Authenticator
from sdnkit.api.envelope import ok
from sdnkit.api.params import Param, ParamSpec, without_path
from sdnkit.api.permissions import Caller, Permissions
from sdnkit.errors import ConfigError

__all__ = ["MAX_BODY", "AppState", "Call", "Declared", "add", "read_params"]

MAX_BODY = 64 * 1024
MAX_FIELDS = 1000
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKET = re.compile(rb"[\[\]{}]")


@dataclass(frozen=True, slots=True)
class AppState:
    """What every endpoint may use; ``app.state.sdn``."""

    config_dir: str
    auth: Authenticator
    service: Any  # sdnkit.service: the one service layer (None until it is wired)
    extras: Mapping[str, Any]  # optional collaborators by name (ipam service, node status reader)


@dataclass(frozen=True, slots=True)
class Call:
    """One authenticated request, its checked parameters and the app's state."""

    caller: Caller
    perms: Permissions
    params: dict[str, Any]
    path: dict[str, str]
    state: AppState

    @property
    def service(self) -> Any:
        return self.state.service


Handler = Callable[[Call], Any]


@dataclass(frozen=True, slots=True)
class Declared:
    """What one endpoint accepts, kept on its route's endpoint (``route.endpoint.declared``), so
    that tests and tools can walk every parameter of the API."""

    method: str
    path: str
    spec: ParamSpec
    path_params: Mapping[str, Param]


def _pairs(text: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as err:
        raise ConfigError(f"malformed form data: {err}", key="body") from None


async def _body(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise ConfigError(f"request body larger than {MAX_BODY} bytes", key="body")
        chunks.append(chunk)
    return b"".join(chunks)


def json_depth(body: bytes) -> int:
    """How deep arrays and objects nest in ``body``, counted without recursion (strings skipped)."""
    depth = deepest = 0
    for match in _JSON_BRACKET.finditer(_JSON_STRING.sub(b'""', body)):
        if match[0] in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _json_params(body: bytes) -> dict[str, list[Any]]:
    depth = json_depth(body)
    if depth > MAX_JSON_DEPTH:
        raise ConfigError(
            f"malformed JSON body: nested {depth} levels deep, more than {MAX_JSON_DEPTH}", key="body"
        )
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ConfigError(f"malformed JSON body: {err}", key="body") from None
    if not isinstance(data, dict):
        raise ConfigError("the JSON body must be an object of parameters", key="body")
    return {str(k): [v] for k, v in data.items() if v is not None}


async def read_params(request: Request) -> dict[str, list[Any]]:
    """Query and body parameters, each name with every value given."""
    raw: dict[str, list[Any]] = {}
    for key, value in _pairs(request.url.query):
        raw.setdefault(key, []).append(value)
    body = await _body(request)
    if not body.strip():
        return raw
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        extra = _json_params(body)
    elif ctype in ("application/x-www-form-urlencoded", ""):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError("form data is not UTF-8", key="body") from None
        extra = {}
        for key, value in _pairs(text):
            extra.setdefault(key, []).append(value)
    else:
        raise ConfigError(f"unsupported content type {ctype!r} (use form data or JSON)", key="body")
    for key, values in extra.items():
        raw.setdefault(key, []).extend(values)
    return raw


def check_path(values: Mapping[str, str], params: Mapping[str, Param]) -> dict[str, str]:
    errors: dict[str, str] = {}
    out: dict[str, str] = {}
    for name, param in params.items():
        try:
            out[name] = str(param.format.parse(values[name])) if param.format else values[name]
        except ValueError as err:
            errors[name] = f"invalid value: {err}"
    if errors:
        raise ConfigError("Parameter verification failed.", key=next(iter(errors)), errors=errors)
    return out


def documented_responses() -> dict[int | str, dict[str, Any]]:
    """The answers every route may give, for its OpenAPI entry (PVE's envelope each time)."""
    envelope = {
        "type": "object",
        "properties": {"data": {}, "message": {"type": "string"}, "errors": {"type": "object"}},
    }
    content = {"application/json": {"schema": envelope}}
    return {
        200: {"description": 'Success: {"data": ...}', "content": content},
        400: {
            "description": "Parameter verification failed (errors names the parameters)",
            "content": content,
        },
        401: {"description": "No or invalid credentials", "content": content},
        403: {"description": "Permission check failed (path, privilege)", "content": content},
        404: {"description": "No such object", "content": content},
        409: {"description": "Conflict: stale digest or concurrent change", "content": content},
        423: {"description": "The SDN configuration is locked (lock-token)", "content": content},
    }


def add(
    router: APIRouter,
    method: str,
    path: str,
    handler: Handler,
    *,
    spec: ParamSpec | None = None,
    path_params: Mapping[str, Param] | None = None,
    summary: str,
    description: str = "",
) -> None:
    """Declare ``method path`` with its parameters; ``handler(call)`` gives the data."""
    spec = spec or ParamSpec()
    pparams = dict(path_params or {})

    async def endpoint(request: Request) -> Response:
        state: AppState = request.app.state.sdn
        caller = state.auth.authenticate(request.method, request.headers, request.cookies)
        values = spec.parse(without_path(await read_params(request), request.path_params))
        checked = check_path(request.path_params, pparams)
        perms = Permissions(state.auth.store.load(), caller)
        data = await run_in_threadpool(handler, Call(caller, perms, values, checked, state))
        return ok(data)

    endpoint.declared = Declared(method, path, spec, pparams)  # type: ignore[attr-defined]

    openapi: dict[str, Any] = {
        "parameters": [
            {
                "name": n,
                "in": "path",
                "required": True,
                "description": p.description,
                "schema": p.json_schema(),
            }
            for n, p in pparams.items()
        ]
    }
    if method in ("POST", "PUT"):
        if spec.params:
            openapi["requestBody"] = spec.openapi_body()
    else:
        openapi["parameters"] += spec.openapi_query()
    op_id = f"{method.lower()}{path.replace('/', '_').replace('{', '').replace('}', '').replace('-', '_')}"
    router.add_api_route(
        path,
        endpoint,
        methods=[method],
        summary=summary,
        description=description or summary,
        operation_id=op_id,
        openapi_extra=openapi,
        responses=documented_responses(),
        response_class=Response,
    )
