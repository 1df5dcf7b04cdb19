"""Run the API: uvicorn over HTTPS (HTTP only when asked), with PVE's reason phrases.

PVE puts the error message in the HTTP reason phrase (``HTTP/1.1 403 Permission check failed
(/sdn, SDN.Allocate)``), and clients show it: proxmoxer's ``ResourceException`` text is the
reason phrase. ASGI has no field for a reason phrase, so the app passes it in a private header
(``envelope.REASON_HEADER``) and ``ReasonPhrases`` hands it to uvicorn's h11 protocol through a
context variable, only for the duration of that one ``send``. If uvicorn's internals ever change
shape, ``install_reason_phrases`` returns False and responses carry the standard phrase; the
message is always in the body too.
"""

from __future__ import annotations

import contextvars
import copy
import ipaddress
import logging
import socket
from dataclasses import dataclass
from typing import Any

from sdnkit.api.envelope import REASON_HEADER
from sdnkit.errors import ConfigError

__all__ = ["Listen", "ReasonPhrases", "install_reason_phrases", "parse_listen", "run"]

log = logging.getLogger(__name__)

_REASON: contextvars.ContextVar[bytes | None] = contextvars.ContextVar("sdnkit_reason", default=None)
_REASON_KEY = REASON_HEADER.encode("ascii")


class _Phrases(dict[int, bytes]):
    def __getitem__(self, status: int) -> bytes:
        reason = _REASON.get()
        return reason if reason is not None else super().__getitem__(status)


def install_reason_phrases() -> bool:
    """Let uvicorn's h11 protocol send the app's reason phrases; False when it cannot."""
    try:
        from uvicorn.protocols.http import h11_impl
    except ImportError:
        return False
    phrases = getattr(h11_impl, "STATUS_PHRASES", None)
    if isinstance(phrases, _Phrases):
        return True
    if not isinstance(phrases, dict):
        return False
    h11_impl.STATUS_PHRASES = _Phrases(phrases)
    return True


class ReasonPhrases:
    """ASGI middleware: moves the private reason header into the reason phrase."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_reason(message: Any) -> None:
            if message["type"] != "http.response.start":
                await send(message)
                return
            headers = list(message.get("headers", []))
            reasons = [v for k, v in headers if k.lower() == _REASON_KEY]
            if not reasons:
                await send(message)
                return
            message = {**message, "headers": [(k, v) for k, v in headers if k.lower() != _REASON_KEY]}
            token = _REASON.set(reasons[0])
            try:
                await send(message)
            finally:
                _REASON.reset(token)

        await self.app(scope, receive, send_with_reason)


@dataclass(frozen=True, slots=True)
class Listen:
    host: str
    port: int


def parse_listen(text: str) -> Listen:
    """``ADDR:PORT``, ``[v6]:PORT`` or ``:PORT`` (all addresses)."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) < 65536:
        raise ConfigError(f"--listen {text!r}: expected ADDR:PORT (e.g. 127.0.0.1:8006)", key="listen")
    host = host.strip("[]") or "0.0.0.0"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            raise ConfigError(f"--listen {text!r}: {host!r} is not an IP address", key="listen") from None
    return Listen(host, int(port_text))


def run(app: Any, sock: socket.socket, *, certfile: str | None, keyfile: str | None) -> None:
    """Serve ``app`` on the bound ``sock`` until interrupted; TLS unless both files are None."""
    import uvicorn

    install_reason_phrases()
    # every log line to stderr: stdout carries only the "listening on" line for scripts
    log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    log_config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(
        ReasonPhrases(app),
        host=host,
        port=port,
        http="h11",
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
        log_config=log_config,
        log_level="info",
        access_log=True,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run(sockets=[sock])
