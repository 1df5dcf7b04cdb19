"""A small JSON-over-HTTP client for external IPAM and DNS servers (NetBox, phpIPAM, PowerDNS).

Behaviour (upstream ``SDN.pm::api_request``, spec §5.5, plus what it lacks):

* TLS is verified against the system trust store (plus ``cafile`` if given), hostname included.
* With ``fingerprint`` (``AA:BB:…``, SHA-256 of the leaf certificate, as PVE shows it) the
  certificate is pinned instead: chain and hostname are not checked, and a mismatch aborts right
  after the handshake, before any request byte (and so the token) is sent.
* ``timeout`` bounds the connect and every read (default 30 s, as upstream).
* Any failure raises ``ExternalServiceError`` naming the service, the call and the request
  (``ipam "nb" (NetBox): allocate an address: POST /api/ipam/prefixes/3/available-ips/ answered
  HTTP 500: …``) with ``status`` (None when there was no HTTP answer) and ``body``; without an
  HTTP answer its ``key`` names the option to look at (``url``, ``fingerprint``, ``cafile``).
  Credentials are never part of a message. Statuses listed in ``accept`` are returned instead, so
  a plugin can turn a documented answer (NetBox 409 "full") into its own error.
* A ``cafile`` that cannot be read is a ``ConfigError`` when the client is made.
* Proxies are not used: IPAM and DNS servers are expected to be reachable directly.

Usage (PowerDNS)::

    client = HttpClient(HttpSettings(
        url="http://127.0.0.1:8081/api/v1/servers/localhost",
        headers={"X-API-Key": key}, service='dns "pdns" (PowerDNS)', timeout=10))
    zone = client.request("GET", "/zones/example.com.", what="read the zone").data
    client.request("PATCH", "/zones/example.com.", body={"rrsets": [...]}, what="add A record")

One TCP (TLS) connection per request: the calls are few per operation and a fresh connection
never replays a non-idempotent POST on a stale socket.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import ssl
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from sdnkit.errors import ConfigError, ExternalServiceError

__all__ = ["HttpClient", "HttpResponse", "HttpSettings", "parse_fingerprint", "server_message"]

_EXCERPT = 300


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpSettings:
    url: str  # base URL; request paths are appended to it
    service: str  # who is called, for messages: 'ipam "nb" (NetBox)'
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)  # authentication
    fingerprint: str | None = None
    timeout: float = 30.0
    cafile: str | None = None


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    data: Any  # the decoded JSON body, None when empty


def parse_fingerprint(text: str) -> bytes:
    """``AA:BB:…`` (32 bytes, any case, colons optional) → bytes."""
    raw = text.replace(":", "").strip()
    try:
        value = bytes.fromhex(raw)
    except ValueError:
        value = b""
    if len(value) != 32:
        raise ConfigError(f"invalid SHA-256 fingerprint {text!r}", key="fingerprint", value=text)
    return value


def server_message(err: ExternalServiceError, field: str) -> str:
    """What the server said in an error answer: its JSON ``field`` (NetBox ``detail``, phpIPAM
    ``message``), else the start of the body, else the error itself (no HTTP answer)."""
    if err.status is None:
        return str(err)
    try:
        data = json.loads(err.body)
    except ValueError:
        data = None
    said = data.get(field) if isinstance(data, dict) else None
    if isinstance(said, str) and said:
        return f"HTTP {err.status}: {said}"
    return f"HTTP {err.status}: {err.body[:_EXCERPT].strip() or '(empty answer)'}"


def _hex(digest: bytes) -> str:
    return ":".join(f"{b:02X}" for b in digest)


class _FingerprintMismatchError(ssl.SSLError):
    pass


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS that accepts exactly one leaf certificate, checked before anything is sent."""

    def __init__(self, host: str, port: int | None, *, timeout: float, pin: bytes) -> None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        super().__init__(host, port, timeout=timeout, context=context)
        self._pin = pin

    def connect(self) -> None:
        super().connect()
        assert isinstance(self.sock, ssl.SSLSocket)
        der = self.sock.getpeercert(binary_form=True)
        got = hashlib.sha256(der).digest() if der else b""
        if got != self._pin:
            self.sock.close()
            seen = _hex(got) or "none"
            raise _FingerprintMismatchError(
                f"certificate fingerprint {seen} does not match the configured {_hex(self._pin)}"
            )


class HttpClient:
    def __init__(self, settings: HttpSettings) -> None:
        parts = urlsplit(settings.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            msg = f"{settings.service}: invalid URL {settings.url!r}"
            raise ConfigError(msg, key="url", value=settings.url)
        self.settings = settings
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._base = parts.path.rstrip("/")
        self._pin = parse_fingerprint(settings.fingerprint) if settings.fingerprint else None
        # a cafile is read even for an http URL: a wrong path is found when the IPAM is saved
        tls = parts.scheme == "https" or bool(settings.cafile)
        self._context = self._tls_context() if tls and self._pin is None else None

    def _tls_context(self) -> ssl.SSLContext:
        """The system trust store plus ``cafile``, loaded once."""
        context = ssl.create_default_context()
        cafile = self.settings.cafile
        if cafile:
            try:
                context.load_verify_locations(cafile)
            except (OSError, ssl.SSLError) as err:
                reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
                msg = f"{self.settings.service}: cannot load the CA file {cafile!r}: {reason}"
                raise ConfigError(msg, key="cafile", value=cafile) from None
        return context

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        body: Any = None,
        query: Mapping[str, str] | None = None,
        accept: Collection[int] = (),
    ) -> HttpResponse:
        """Send one request; 2xx and ``accept`` statuses return, anything else raises."""
        target = self._base + path + (f"?{urlencode(query)}" if query else "")
        payload = None if body is None else json.dumps(body).encode()
        call = f"{self.settings.service}: {what}: {method} {target}"
        try:
            status, raw = self._send(method, target, payload)
        except _FingerprintMismatchError as err:
            raise ExternalServiceError(f"{call}: {err}", key="fingerprint") from None
        except ssl.SSLCertVerificationError as err:
            reason = err.verify_message or str(err)
            msg = f"{call}: TLS certificate of {self._host} not trusted: {reason}"
            raise ExternalServiceError(msg, key="cafile") from None
        except TimeoutError:
            msg = f"{call}: no answer within {self.settings.timeout:g} s"
            raise ExternalServiceError(msg, key="url") from None
        except (OSError, http.client.HTTPException) as err:
            raise ExternalServiceError(f"{call}: {type(err).__name__}: {err}", key="url") from None
        text = raw.decode("utf-8", "replace")
        if not (200 <= status < 300 or status in accept):
            excerpt = text[:_EXCERPT].strip() or "(empty answer)"
            raise ExternalServiceError(f"{call} answered HTTP {status}: {excerpt}", status=status, body=text)
        try:
            data = json.loads(text) if text.strip() else None
        except ValueError:
            msg = f"{call}: HTTP {status} answer is not JSON: {text[:_EXCERPT].strip()}"
            raise ExternalServiceError(msg, status=status, body=text) from None
        return HttpResponse(status, data)

    def _send(self, method: str, target: str, payload: bytes | None) -> tuple[int, bytes]:
        conn = self._connection()
        headers = {"Accept": "application/json", "User-Agent": "sdnkit", **self.settings.headers}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        try:
            conn.connect()
            # headers and body leave in separate writes: without this, Nagle's algorithm and the
            # server's delayed ACK stall every request with a body by up to 40 ms
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.request(method, target, body=payload, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def _connection(self) -> http.client.HTTPConnection:
        timeout = self.settings.timeout
        if self._scheme == "http":
            return http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        if self._pin is not None:
            return _PinnedHTTPSConnection(self._host, self._port, timeout=timeout, pin=self._pin)
        return http.client.HTTPSConnection(self._host, self._port, timeout=timeout, context=self._context)
