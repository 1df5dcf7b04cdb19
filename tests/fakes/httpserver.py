"""A threaded JSON HTTP(S) server on 127.0.0.1 with fault injection, the base of the fakes.

A subclass lists its routes in ``ROUTES`` (``(method, regex) → handler method name``); a handler
gets the match, the parsed query and the JSON body and returns ``(status, body)``. Tests can:

* ``inject(Fault(...))``: answer a matching request with an error status, late (a timeout for the
  client), or after doing the real work (the change is made but the client never learns it);
  ``fault.done`` is set once a request it hit is carried out in full, so a test can look at what
  a slow server did after its client gave up;
* read ``requests``: every request received (method, path with query, headers, body);
* start it with TLS (``tls=True``): a self-signed certificate for 127.0.0.1 whose CA file is
  ``cafile`` and whose SHA-256 fingerprint is ``fingerprint``.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

Answer = tuple[int, Any]


@dataclass
class Fault:
    method: str
    path: str  # regex searched in the request path
    status: int | None = 500  # None: the real answer (with ``after``: only late)
    delay: float = 0.0
    after: bool = False  # do the real work first
    times: int = 1
    skip: int = 0  # let this many matching requests through first
    done: threading.Event = field(default_factory=threading.Event)  # set when a hit request is finished


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class TlsFiles:
    cert: Path
    key: Path
    fingerprint: str = ""


def make_certificate(directory: Path, name: str = "127.0.0.1") -> TlsFiles:
    """A self-signed certificate for 127.0.0.1 and localhost (it is its own CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    files = TlsFiles(directory / f"{name}.crt", directory / f"{name}.key")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()
    files.fingerprint = ":".join(f"{b:02X}" for b in digest)
    return files


class FakeServer:
    ROUTES: ClassVar[dict[tuple[str, str], str]] = {}
    PREFIX: ClassVar[str] = ""  # path prefix of the API

    def __init__(self, *, tls: TlsFiles | None = None) -> None:
        self.tls = tls
        self.lock = threading.RLock()
        self.faults: list[Fault] = []
        self.requests: list[Request] = []
        self._routes = [(m, re.compile(p), h) for (m, p), h in self.ROUTES.items()]
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        httpd = _Server(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        if self.tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.tls.cert, self.tls.key)
            httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        serve = {"poll_interval": 0.05}
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs=serve, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        assert self._httpd is not None
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}"

    # -- faults -------------------------------------------------------------------------------

    def inject(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method == method and re.search(fault.path, path):
                    if fault.skip > 0:
                        fault.skip -= 1
                        return None
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    # -- to override --------------------------------------------------------------------------

    def authenticate(self, headers: dict[str, str], path: str) -> Answer | None:
        """An error answer when the request is not allowed, else None."""
        return None

    def server_error(self) -> Any:
        return {"error": "injected failure"}

    def dispatch(self, method: str, path: str, query: dict[str, str], body: Any, host: str) -> Answer:
        if not path.startswith(self.PREFIX):
            return 404, {"detail": "Not found."}
        rest = path[len(self.PREFIX) :]
        for m, pattern, handler in self._routes:
            match = pattern.fullmatch(rest)
            if m == method and match:
                with self.lock:
                    return getattr(self, handler)(match, query, body, host)
        return self.not_found(method, rest)

    def not_found(self, method: str, path: str) -> Answer:
        return 404, {"detail": "Not found."}


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # parallel clients: the default backlog of 5 drops SYNs (1 s retries)


class _Handler(BaseHTTPRequestHandler):
    fake: ClassVar[FakeServer]
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms stalls

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        headers = {k.lower(): v for k, v in self.headers.items()}
        fake = self.fake
        with fake.lock:
            fake.requests.append(Request(self.command, self.path, headers, body))
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        answer = fake.authenticate(headers, parts.path)
        fault = fake.take_fault(self.command, parts.path) if answer is None else None
        if fault is not None and not fault.after:
            time.sleep(fault.delay)
            if fault.status is not None:
                answer = (fault.status, fake.server_error())
        if answer is None:
            answer = fake.dispatch(self.command, parts.path, query, body, headers.get("host", ""))
        if fault is not None and fault.after:
            time.sleep(fault.delay)
            if fault.status is not None:
                answer = (fault.status, fake.server_error())
        self._answer(*answer)
        if fault is not None:
            fault.done.set()

    def _answer(self, status: int, data: Any) -> None:
        payload = b"" if data is None else json.dumps(data).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the client gave up (timeout tests)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve
