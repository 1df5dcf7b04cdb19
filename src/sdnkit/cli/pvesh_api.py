"""``sdn pvesh`` for every other API path (``/nodes/...``, ``/access/...``, ``/cluster/resources``).

Paths without a service route in ``cli/pvesh.py`` go through the REST API itself, in this process:
the application of ``sdn serve`` for the same config directory, called as ``root@pam`` with a
ticket and CSRF token signed by the directory's own key. That is pvesh's model on a PVE node (it
runs the API handlers locally, as root), so the paths, parameter checks and answers are exactly
the API's, without a server or a network connection.
"""

from __future__ import annotations

from typing import Any

from sdnkit.errors import ConfigError, NotFoundError, PermissionDeniedError, SdnError

__all__ = ["ApiAnswer", "call_api"]

PREFIX = "/api2/json"


class ApiAnswer(SdnError):
    """The API refused the call; ``status`` and PVE's ``errors`` object as it answered them."""

    def __init__(self, status: int, message: str, errors: dict[str, str]) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors


def call_api(config_dir: str, method: str, path: str, params: dict[str, Any]) -> Any:
    """``method path`` with ``params`` as root; the answer's ``data``."""
    import asyncio

    import httpx

    from sdnkit.api.access import ROOT, AccessStore
    from sdnkit.api.app import create_app
    from sdnkit.api.auth import COOKIE
    from sdnkit.api.tickets import Tickets

    tickets = Tickets(AccessStore(config_dir).signing_key())
    headers = {"Cookie": f"{COOKIE}={tickets.issue(ROOT)}", "CSRFPreventionToken": tickets.csrf_token(ROOT)}
    body = method in ("POST", "PUT")

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(config_dir))
        async with httpx.AsyncClient(transport=transport, base_url="https://localhost") as client:
            return await client.request(
                method,
                PREFIX + "/" + path.strip("/"),
                params=None if body else params,
                data=params if body else None,
                headers=headers,
            )

    resp = asyncio.run(send())
    answer = resp.json() if resp.content else {}
    if resp.status_code in (404, 405) and str(answer.get("message", "")).startswith("Method '"):
        path = "/" + path.strip("/")
        verb = {"GET": "get", "POST": "create", "PUT": "set", "DELETE": "delete"}[method]
        problem = f"no such path '{path}'" if resp.status_code == 404 else f"no '{verb}' handler for '{path}'"
        raise NotFoundError(problem, key="path", value=path)
    if resp.status_code >= 400:
        message = str(answer.get("message") or resp.reason_phrase).strip()
        errors = answer.get("errors") or {}
        kinds = {400: ConfigError, 403: PermissionDeniedError, 404: NotFoundError}
        if resp.status_code in kinds and not errors:
            raise kinds[resp.status_code](message)
        raise ApiAnswer(resp.status_code, message, errors)
    return answer.get("data")
