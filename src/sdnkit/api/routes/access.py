"""Login and the API root: ``/access/ticket`` (the only open endpoint), ``/version``, indexes.

``POST /access/ticket`` takes ``username`` and ``password`` (and ``realm``) as PVE does and
answers ``{username, ticket, CSRFPreventionToken, cap}``; the ticket goes into the
``PVEAuthCookie`` cookie. It also sets that cookie, as pveproxy does for the web UI.
``DELETE /access/ticket`` (sdnkit extension) clears that cookie: the web UI's log out, which cannot
clear an HttpOnly cookie itself. Tickets are not stored, so one copied elsewhere stays valid until
it expires, as in PVE.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from sdnkit.api.auth import COOKIE
from sdnkit.api.endpoint import AppState, Call, add, documented_responses, read_params
from sdnkit.api.envelope import ok
from sdnkit.api.params import BOOL, Param, ParamSpec
from sdnkit.api.tickets import TICKET_LIFETIME
from sdnkit.config.formats import Text

__all__ = ["API_VERSION", "register"]

# The PVE release line whose SDN API sdnkit follows (fabrics and the lock token are PVE 9 features);
# clients such as Ansible's community.proxmox read the version before they call anything.
API_VERSION = {"version": "9.0.0", "release": "9.0", "repoid": "sdnkit"}

LOGIN = ParamSpec(
    (
        Param(
            "username",
            "User name, user@realm or user with realm.",
            Text(None, 64, "user name"),
            required=True,
        ),
        Param(
            "password",
            "The password, or a valid ticket to renew.",
            Text(None, 4096, "password"),
            required=True,
        ),
        Param(
            "realm",
            "Authentication realm (pam or pve) when the user name has none.",
            Text(r"[A-Za-z][A-Za-z0-9._-]+", 32),
        ),
        Param("otp", "One-time password (two-factor authentication is not supported).", Text(None, 128)),
        Param("new-format", "Accepted for compatibility; the answer is always in the new format.", BOOL),
    )
)


async def _login(request: Request) -> Response:
    state: AppState = request.app.state.sdn
    values = LOGIN.parse(await read_params(request))
    data = await run_in_threadpool(
        state.auth.login, values["username"], values["password"], values.get("realm")
    )
    response = ok(data)
    response.set_cookie(
        COOKIE,
        data["ticket"],
        max_age=TICKET_LIFETIME,
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response


async def _ticket_dummy(request: Request) -> Response:
    return ok(None)


async def _logout(request: Request) -> Response:
    response = ok(None)
    response.delete_cookie(
        COOKIE, path="/", secure=request.url.scheme == "https", httponly=True, samesite="strict"
    )
    return response


def _index(call: Call) -> Any:
    return [{"subdir": s} for s in ("access", "cluster", "nodes", "version")]


def _access_index(call: Call) -> Any:
    return [{"subdir": s} for s in ("permissions", "ticket", "users")]


def _version(call: Call) -> Any:
    return dict(API_VERSION)


def _permissions(call: Call) -> Any:
    """``{path: {privilege: 1}}`` for every path the caller has ACL entries on (PVE's shape)."""
    ugids = {call.caller.userid, call.caller.ugid}
    paths = {"/", "/sdn", "/nodes"} | {e.path for e in call.perms.db.acl if e.ugid in ugids}
    wanted = call.params.get("path")
    if wanted:
        paths = {wanted}
    out = {p: {priv.value: 1 for priv in sorted(call.perms.privileges(p))} for p in sorted(paths)}
    return {p: privs for p, privs in out.items() if privs}


def register(router: APIRouter) -> None:
    router.add_api_route(
        "/access/ticket",
        _login,
        methods=["POST"],
        summary="Create an authentication ticket (log in).",
        operation_id="post_access_ticket",
        openapi_extra={"requestBody": LOGIN.openapi_body(), "security": []},
        responses=documented_responses(),
        response_class=Response,
    )
    router.add_api_route(
        "/access/ticket",
        _ticket_dummy,
        methods=["GET"],
        summary="Dummy, as in PVE (a login form's target).",
        operation_id="get_access_ticket",
        openapi_extra={"security": []},
        responses=documented_responses(),
        response_class=Response,
    )
    router.add_api_route(
        "/access/ticket",
        _logout,
        methods=["DELETE"],
        summary="Log out: clear the ticket cookie (sdnkit extension).",
        operation_id="delete_access_ticket",
        openapi_extra={"security": []},
        response_class=Response,
    )
    add(router, "GET", "/", _index, summary="The API root directory index.")
    add(router, "GET", "/access", _access_index, summary="Access directory index.")
    add(router, "GET", "/version", _version, summary="API version details (the PVE release sdnkit follows).")
    add(
        router,
        "GET",
        "/access/permissions",
        _permissions,
        spec=ParamSpec((Param("path", "Only this path.", Text(r"/[A-Za-z0-9/._-]*", 256, "ACL path")),)),
        summary="The caller's privileges by ACL path.",
    )
