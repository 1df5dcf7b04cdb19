"""A small etcd v3 client over etcd's JSON gateway: several members with failover, TLS, auth.

etcd serves its v3 API as JSON over HTTP next to gRPC (``/v3/kv/range``, ``/v3/kv/txn``,
``/v3/lease/*``, ``/v3/watch``, ``/v3/auth/authenticate``; keys and values in base64, 64-bit
numbers as strings). This module speaks it with ``httpx`` (why not a client library:
``docs/cluster.md``). What it adds to a plain HTTP call:

* **failover**: a request goes to the member that answered last; when a member cannot be reached
  or answers "unavailable" (no leader, leader changed, stopped), the next member is tried, round
  after round, for up to ``retry_for`` seconds (a leader election takes about a second);
* **safe retries**: reads, lease keep-alives and compare-and-swap transactions can be sent again.
  A write whose answer was lost (timeout, connection reset, "request timed out") may or may not
  have happened: ``call(..., idempotent=False)`` raises ``Ambiguous`` then, and the caller decides
  (``EtcdStore.commit`` looks for its own nonce);
* **auth**: with a user, a token from ``/v3/auth/authenticate`` per member (simple tokens are
  valid only on the member that issued them), renewed when the member calls it invalid;
* **TLS**: the CA to verify members with, and a client certificate and key.
"""

from __future__ import annotations

import base64
import json
import os
import random
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from sdnkit.errors import ConfigError, StoreError

__all__ = [
    "DEFAULT_PREFIX",
    "Ambiguous",
    "EtcdClient",
    "EtcdSettings",
    "GrpcError",
    "WatchStream",
    "b64",
    "cmp_create",
    "cmp_mod",
    "is_etcd_url",
    "kvs",
    "op_delete",
    "op_put",
    "op_range",
    "parse_url",
    "prefix_end",
    "revision_of",
    "unb64",
]

DEFAULT_PREFIX = "/sdnkit/default/"
SCHEMES = ("etcd", "etcds")

# gRPC status codes etcd answers with (the gateway passes them in the JSON error body)
UNAVAILABLE = 14
CANCELED = 1  # the gateway's own connection to the member closing (the member is stopping)
DEADLINE_EXCEEDED = 4
UNAUTHENTICATED = 16
OUT_OF_RANGE = 11  # "mvcc: required revision has been compacted" (and future revisions)
NOT_FOUND = 5  # "requested lease not found"


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode("ascii")


def unb64(text: str | None) -> bytes:
    return base64.b64decode(text) if text else b""


def prefix_end(prefix: bytes) -> bytes:
    """The ``range_end`` that selects every key starting with ``prefix``."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\x00"  # the whole key space


@dataclass(frozen=True, slots=True, kw_only=True)
class EtcdSettings:
    """Where the store lives in etcd and how to reach it (``parse_url`` builds one)."""

    endpoints: tuple[str, ...]  # http(s)://host:port
    prefix: str = DEFAULT_PREFIX  # every key of this sdnkit cluster starts with it
    cacert: str | None = None
    cert: str | None = None
    key: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 5.0  # one request
    retry_for: float = 30.0  # keep trying the members this long before giving up
    lock_ttl: int = 10  # seconds a killed lock holder keeps its locks
    max_txn_ops: int = 128  # etcd's --max-txn-ops

    @property
    def tls(self) -> bool:
        return self.endpoints[0].startswith("https://")

    def url(self) -> str:
        """The URL without credentials (for messages and logs)."""
        scheme = "etcds" if self.tls else "etcd"
        hosts = ",".join(e.split("://", 1)[1] for e in self.endpoints)
        return f"{scheme}://{hosts}{self.prefix.rstrip('/')}"


def is_etcd_url(spec: str) -> bool:
    return spec.split("://", 1)[0] in SCHEMES and "://" in spec


_QUERY_KEYS = {"cacert", "cert", "key", "user", "password-file", "timeout", "lock-ttl", "max-txn-ops"}


def _host_port(item: str, url: str) -> str:
    host, sep, port = item.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f'store "{url}": endpoint {item!r} is not host:port', key="store", value=url)
    return item


def _prefix(path: str, url: str) -> str:
    path = unquote(path or "")
    if not path.strip("/"):
        return DEFAULT_PREFIX
    if any(p in ("", ".", "..") for p in path.strip("/").split("/")) or "\n" in path:
        raise ConfigError(f'store "{url}": key prefix {path!r} is not a clean path', key="store", value=url)
    return "/" + path.strip("/") + "/"


def parse_url(url: str, env: Mapping[str, str] | None = None) -> EtcdSettings:
    """``etcd[s]://h1:2379,h2:2379[/key/prefix][?cacert=F&cert=F&key=F&user=U&password-file=F&timeout=S]``.

    TLS (``https``) with ``etcds://`` or when a CA or client certificate is given. Options not in
    the URL come from ``SDN_ETCD_CACERT``, ``SDN_ETCD_CERT``, ``SDN_ETCD_KEY``, ``SDN_ETCD_USER``;
    the password only from ``SDN_ETCD_PASSWORD`` or a ``password-file``, never from the URL.
    """
    env = os.environ if env is None else env
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.netloc:
        raise ConfigError(f'store "{url}": expected etcd://host:port[,host:port...][/prefix]', key="store")
    if "@" in parts.netloc:
        raise ConfigError(
            f'store "{parts.scheme}://...": no credentials in the URL (use ?user= and SDN_ETCD_PASSWORD '
            "or ?password-file=)",
            key="store",
        )
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    unknown = sorted(set(query) - _QUERY_KEYS)
    if unknown:
        raise ConfigError(
            f'store "{parts.scheme}://{parts.netloc}": unknown option {unknown[0]!r} '
            f"(known: {', '.join(sorted(_QUERY_KEYS))})",
            key="store",
            value=unknown[0],
        )
    hosts = [_host_port(h.strip(), url) for h in parts.netloc.split(",") if h.strip()]

    def opt(name: str, var: str) -> str | None:
        return query.get(name) or env.get(var) or None

    cacert, cert, key = (
        opt("cacert", "SDN_ETCD_CACERT"),
        opt("cert", "SDN_ETCD_CERT"),
        opt("key", "SDN_ETCD_KEY"),
    )
    if bool(cert) != bool(key):
        raise ConfigError(
            f'store "{settings_name(parts)}": a client cert and its key go together', key="store"
        )
    tls = parts.scheme == "etcds" or bool(cacert or cert)
    settings = EtcdSettings(
        endpoints=tuple(f"{'https' if tls else 'http'}://{h}" for h in hosts),
        prefix=_prefix(parts.path, url),
        cacert=cacert,
        cert=cert,
        key=key,
        user=opt("user", "SDN_ETCD_USER"),
        password=_password(query.get("password-file") or env.get("SDN_ETCD_PASSWORD_FILE"), env),
    )
    return _numbers(settings, query, url)


def settings_name(parts: Any) -> str:
    return f"{parts.scheme}://{parts.netloc}"


def _password(path: str | None, env: Mapping[str, str]) -> str | None:
    if path:
        try:
            with open(path, encoding="utf-8") as fh:
                return fh.read().rstrip("\n")
        except OSError as err:
            raise ConfigError(f"etcd password file {path}: {err.strerror}", key="password-file") from None
    return env.get("SDN_ETCD_PASSWORD") or None


def _numbers(settings: EtcdSettings, query: Mapping[str, str], url: str) -> EtcdSettings:
    out = settings
    for name, attr, kind in (("timeout", "timeout", float), ("lock-ttl", "lock_ttl", int),
                             ("max-txn-ops", "max_txn_ops", int)):  # fmt: skip
        if name in query:
            try:
                value = kind(query[name])
            except ValueError:
                value = 0
            if value <= 0:
                raise ConfigError(f'store "{url}": {name} must be a positive number', key="store", value=name)
            out = replace(out, **{attr: value})
    return out


class GrpcError(StoreError):
    """etcd refused a request (``code`` is the gRPC status code)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message, value=code)
        self.code = code


class Ambiguous(StoreError):
    """A write was sent but its answer was lost: it may or may not have been applied."""


_RETRY_PAUSE = (0.02, 0.5)  # between rounds over all members: first, at most


class EtcdClient:
    """Thread-safe; one per process and settings (``EtcdStore`` shares it)."""

    def __init__(self, settings: EtcdSettings) -> None:
        self.settings = settings
        self._http = self._new_http(settings.timeout)
        self._current = random.randrange(len(settings.endpoints))  # spread clients over the members
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def _new_http(self, timeout: float | None, *, read: float | None = None) -> httpx.Client:
        return httpx.Client(
            verify=self._ssl_context(),
            timeout=httpx.Timeout(timeout, read=read if read is not None else timeout),
            trust_env=False,  # never through an HTTP proxy from the environment
            limits=httpx.Limits(max_keepalive_connections=32, max_connections=64),
        )

    def _ssl_context(self) -> ssl.SSLContext:
        s = self.settings
        try:
            ctx = ssl.create_default_context(cafile=s.cacert)
            if s.cert and s.key:
                ctx.load_cert_chain(s.cert, s.key)
        except (OSError, ssl.SSLError) as err:
            what = f"{s.cacert}, {s.cert}, {s.key}"
            raise ConfigError(f"etcd TLS files ({what}): {err}", key="store") from None
        return ctx

    def close(self) -> None:
        self._http.close()

    # -- requests --------------------------------------------------------------------------------

    def call(self, path: str, body: Mapping[str, Any], *, idempotent: bool = True) -> dict[str, Any]:
        """POST ``body`` to ``/v3/<path>`` on a member that can answer; returns the JSON answer."""
        deadline = time.monotonic() + self.settings.retry_for
        pause, last = _RETRY_PAUSE[0], "no member tried"
        ambiguous = False
        while True:
            for _ in range(len(self.settings.endpoints)):
                endpoint = self._endpoint()
                try:
                    return self._post(endpoint, path, body)
                except _Unreachable as err:
                    last = f"{endpoint}: {err}"
                    self._rotate(endpoint)
                except _Retry as err:
                    last = f"{endpoint}: {err}"
                    ambiguous = ambiguous or err.maybe_applied
                    if ambiguous and not idempotent:
                        raise Ambiguous(f"etcd {self.settings.url()}: {path}: {last}") from None
                    self._rotate(endpoint)
            if time.monotonic() + pause > deadline:
                raise StoreError(f"etcd {self.settings.url()}: no member answers {path} ({last})")
            time.sleep(pause)
            pause = min(pause * 2, _RETRY_PAUSE[1])

    def _endpoint(self) -> str:
        with self._lock:
            return self.settings.endpoints[self._current]

    def _rotate(self, failed: str) -> None:
        with self._lock:
            if self.settings.endpoints[self._current] == failed:
                self._current = (self._current + 1) % len(self.settings.endpoints)

    def _post(
        self, endpoint: str, path: str, body: Mapping[str, Any], *, auth_retry: bool = True
    ) -> dict[str, Any]:
        headers = self._auth_header(endpoint)
        try:
            resp = self._http.post(f"{endpoint}/v3/{path}", json=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as err:
            raise _Unreachable(_reason(err)) from None  # nothing was sent
        except httpx.TransportError as err:  # sent, answer lost
            raise _Retry(_reason(err), maybe_applied=True) from None
        if resp.status_code == 200:
            data: dict[str, Any] = resp.json()
            return data
        code, message = _error_of(resp)
        if code == UNAUTHENTICATED and self.settings.user and auth_retry:
            self._tokens.pop(endpoint, None)  # expired or issued by another member: log in again
            return self._post(endpoint, path, body, auth_retry=False)
        if code in (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELED) or resp.status_code in (502, 503, 504):
            # "no leader" and "not capable" come before the write; "leader changed" and "timed out" may not
            raise _Retry(message, maybe_applied="no leader" not in message)
        raise GrpcError(f"etcd {endpoint}: {message}", code)

    def _auth_header(self, endpoint: str) -> dict[str, str]:
        s = self.settings
        if not s.user:
            return {}
        token = self._tokens.get(endpoint)
        if token is None:
            try:
                resp = self._http.post(
                    f"{endpoint}/v3/auth/authenticate", json={"name": s.user, "password": s.password or ""}
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as err:
                raise _Unreachable(_reason(err)) from None
            except httpx.TransportError as err:
                raise _Retry(_reason(err), maybe_applied=False) from None
            if resp.status_code != 200:
                code, message = _error_of(resp)
                if code == UNAVAILABLE:
                    raise _Retry(message, maybe_applied=False)
                raise GrpcError(f'etcd {endpoint}: user "{s.user}": {message}', code)
            token = self._tokens[endpoint] = str(resp.json()["token"])
        return {"Authorization": token}

    # -- watch ---------------------------------------------------------------------------------

    def watch_stream(self, body: Mapping[str, Any], read_timeout: float) -> WatchStream:
        """Open ``/v3/watch`` with one create request on the current member (no failover here)."""
        return WatchStream(self, self._endpoint(), body, read_timeout)

    def current_endpoint(self) -> str:
        return self._endpoint()

    def rotate_from(self, endpoint: str) -> None:
        self._rotate(endpoint)


class WatchStream:
    """One open watch: iterate its responses; ``abort()`` from another thread ends the iteration."""

    def __init__(
        self, client: EtcdClient, endpoint: str, body: Mapping[str, Any], read_timeout: float
    ) -> None:
        self.endpoint = endpoint
        self._http = client._new_http(client.settings.timeout, read=read_timeout)
        headers = client._auth_header(endpoint)
        # the member ends the watch when it loses the leader, instead of going silent in a minority
        headers["Grpc-Metadata-hasleader"] = "true"
        request = self._http.build_request("POST", f"{endpoint}/v3/watch", json=body, headers=headers)
        try:
            self._resp = self._http.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as err:
            self._http.close()
            raise _Unreachable(_reason(err)) from None
        except httpx.TransportError as err:
            self._http.close()
            raise _Unreachable(_reason(err)) from None
        if self._resp.status_code != 200:
            self._resp.read()
            code, message = _error_of(self._resp)
            self.close()
            raise GrpcError(f"etcd {endpoint}: watch: {message}", code)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for line in self._resp.iter_lines():
            if line.strip():
                yield json.loads(line)

    def abort(self) -> None:
        """Wake a reader blocked in the socket (closing alone would wait for the read)."""
        stream = self._resp.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        try:
            self._resp.close()
        finally:
            self._http.close()


class _Unreachable(Exception):
    """Nothing was sent: try another member."""


class _Retry(Exception):
    def __init__(self, message: str, *, maybe_applied: bool) -> None:
        super().__init__(message)
        self.maybe_applied = maybe_applied


def _reason(err: Exception) -> str:
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def _error_of(resp: httpx.Response) -> tuple[int, str]:
    try:
        body = resp.json()
        return int(body.get("code") or 0), str(body.get("message") or body.get("error") or resp.text)
    except (ValueError, AttributeError):
        return 0, f"HTTP {resp.status_code}: {resp.text[:200]}"


# -- request pieces (the gateway's JSON for etcdserverpb messages) ----------------------------------


def op_range(
    key: bytes, *, end: bytes | None = None, revision: int = 0, keys_only: bool = False, limit: int = 0,
    sort_create: bool = False,
) -> dict[str, Any]:  # fmt: skip
    req: dict[str, Any] = {"key": b64(key)}
    if end is not None:
        req["range_end"] = b64(end)
    if revision:
        req["revision"] = str(revision)
    if keys_only:
        req["keys_only"] = True
    if limit:
        req["limit"] = str(limit)
    if sort_create:
        req["sort_order"] = "ASCEND"
        req["sort_target"] = "CREATE"
    return {"request_range": req}


def op_put(key: bytes, value: bytes, lease: int = 0) -> dict[str, Any]:
    req: dict[str, Any] = {"key": b64(key), "value": b64(value)}
    if lease:
        req["lease"] = str(lease)
    return {"request_put": req}


def op_delete(key: bytes, end: bytes | None = None) -> dict[str, Any]:
    req: dict[str, Any] = {"key": b64(key)}
    if end is not None:
        req["range_end"] = b64(end)
    return {"request_delete_range": req}


def cmp_mod(key: bytes, revision: int, result: str = "EQUAL", end: bytes | None = None) -> dict[str, Any]:
    """Compare a key's mod_revision (0: the key does not exist); with ``end``, every key of the range."""
    cmp: dict[str, Any] = {"key": b64(key), "target": "MOD", "result": result, "mod_revision": str(revision)}
    if end is not None:
        cmp["range_end"] = b64(end)
    return cmp


def cmp_create(key: bytes, revision: int) -> dict[str, Any]:
    return {"key": b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": str(revision)}


def kvs(response: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The key-values of one ``response_range`` of a transaction (or of a plain range answer)."""
    inner = response.get("response_range", response)
    found: list[dict[str, Any]] = inner.get("kvs") or []
    return found


def revision_of(answer: Mapping[str, Any]) -> int:
    return int(answer["header"]["revision"])
