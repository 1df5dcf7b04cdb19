"""Answers in Proxmox VE's JSON envelope, and errors as PVE gives them.

Success: ``{"data": ...}``. Failure: ``{"data": null, "message": "...\\n", "errors": {param:
message}}`` with the message also in the HTTP reason phrase (pve-http-server
``Formatter/Standard.pm``; proxmoxer shows the reason phrase as the error text).

Status codes by error class (the first match along the class's MRO wins):

=====================  ====  ====================================================================
ConfigError            400   bad parameter or config rule; ``errors`` names the parameter(s)
AuthError              401   missing or invalid credentials
PermissionDeniedError  403   ``Permission check failed (<path>, <privilege>)``
NotFoundError          404   the object does not exist
ConflictError          409   stale ``digest``, or a concurrent change: reload and retry
IpamExhaustedError     409   no free address
IpamTakenError         409   the address is already registered
LockError              423   the SDN config is locked (wrong or missing ``lock-token``)
NotSupportedError      400   the operation does not exist for this object (e.g. status of netbox)
PluginError            502   an external IPAM/DNS server failed
StoreError             503   the cluster store (etcd) cannot be reached
anything else          500   a fault of the server, never of the input
=====================  ====  ====================================================================

PVE answers most of these with 500; sdnkit keeps 5xx for its own faults (``docs/api.md``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from sdnkit.api.auth import AuthError
from sdnkit.errors import (
    ConfigError,
    ConflictError,
    IpamExhaustedError,
    IpamTakenError,
    LockError,
    NotFoundError,
    NotSupportedError,
    PermissionDeniedError,
    PluginError,
    StoreError,
)

__all__ = ["REASON_HEADER", "STATUS_OF", "error", "from_exception", "ok", "status_of"]

log = logging.getLogger(__name__)

# Carries the reason phrase from the app to the server adapter (``api/server.py``), which removes it.
REASON_HEADER = "x-sdnkit-reason"
CONTENT_TYPE = "application/json;charset=UTF-8"

STATUS_OF: dict[type[BaseException], int] = {
    ConflictError: 409,
    IpamExhaustedError: 409,
    IpamTakenError: 409,
    ConfigError: 400,
    AuthError: 401,
    PermissionDeniedError: 403,
    NotFoundError: 404,
    LockError: 423,
    NotSupportedError: 400,
    PluginError: 502,
    StoreError: 503,
}


def status_of(err: BaseException) -> int:
    for cls in type(err).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return 500


def _json(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), default=str).encode("utf-8")


def ok(data: Any) -> Response:
    return Response(_json({"data": data}), media_type=CONTENT_TYPE)


def reason_phrase(message: str) -> str:
    """One line of printable ASCII, as an HTTP reason phrase must be."""
    line = " ".join(message.split())
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in line)[:400]


def error(status: int, message: str, errors: Mapping[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"data": None, "message": message.rstrip("\n") + "\n"}
    if errors:
        body["errors"] = dict(errors)
    headers = {REASON_HEADER: reason_phrase(message)}
    return Response(_json(body), status_code=status, media_type=CONTENT_TYPE, headers=headers)


def _param_errors(err: BaseException) -> dict[str, str]:
    if isinstance(err, ConfigError):
        if err.errors:
            return dict(err.errors)
        if err.key:
            return {err.key: err.message}
    return {}


def from_exception(err: BaseException) -> Response:
    status = status_of(err)
    if status >= 500:
        if status == 500:
            log.error("internal error: %s", err, exc_info=err)
            return error(500, f"internal error: {type(err).__name__}: {err}")
        log.warning("%s", err)
    return error(status, str(err) or type(err).__name__, _param_errors(err))
