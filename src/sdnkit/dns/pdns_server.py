"""A private PowerDNS authoritative server on 127.0.0.1, for tests and the lab.

Debian's ``pdns-server`` + ``pdns-backend-sqlite3``, started by hand (no system service) as
``nobody`` in its own folder, with the HTTP API (``research/real-components.md`` §6)::

    server = PdnsServer()                # a private folder below /tmp, removed by stop()
    server.start()                       # ready when the API answers
    server.create_zone("example.com.")   # forward and reverse zones must exist before use
    server.url, server.key               # for a dns.cfg entry
    server.stop()

``security-poll-suffix=`` is empty so that the server asks nothing outside at start-up.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

from sdnkit.dns.reverse import fqdn
from sdnkit.errors import NotSupportedError, RealizeError
from sdnkit.ipam.http import HttpClient, HttpSettings

__all__ = ["PdnsServer", "free_port"]

SCHEMA = Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql")
READY_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PdnsServer:
    def __init__(
        self, workdir: Path | str | None = None, *, key: str = "sdnkit-test-key", user: str = "nobody"
    ) -> None:
        # the server user must reach its folder: pytest's tmp folders are private to root
        self._own_dir = workdir is None
        self.dir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="sdnkit-pdns-"))
        self.key = key
        self.user = user
        self.dns_port = free_port()
        self.api_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/api/v1/servers/localhost"

    def client(self) -> HttpClient:
        settings = HttpSettings(url=self.url, service="pdns test server", headers={"X-API-Key": self.key})
        return HttpClient(settings)

    def _write_config(self) -> None:
        (self.dir / "run").mkdir(parents=True, exist_ok=True)
        db = self.dir / "pdns.sqlite3"
        with sqlite3.connect(db) as conn:
            conn.executescript(SCHEMA.read_text())
        conf = {
            "launch": "gsqlite3",
            "gsqlite3-database": db,
            "local-address": "127.0.0.1",
            "local-port": self.dns_port,
            "socket-dir": self.dir / "run",
            "api": "yes",
            "api-key": self.key,
            "webserver": "yes",
            "webserver-address": "127.0.0.1",
            "webserver-port": self.api_port,
            "webserver-allow-from": "127.0.0.0/8",
            "daemon": "no",
            "guardian": "no",
            "disable-syslog": "yes",
            "security-poll-suffix": "",
        }
        (self.dir / "pdns.conf").write_text("".join(f"{k}={v}\n" for k, v in conf.items()))
        user = pwd.getpwnam(self.user)
        for path in (self.dir, self.dir / "run", db, self.dir / "pdns.conf"):
            os.chown(path, user.pw_uid, user.pw_gid)

    def start(self) -> None:
        binary = shutil.which("pdns_server")
        if binary is None or not SCHEMA.exists():
            raise NotSupportedError("PowerDNS (pdns-server, pdns-backend-sqlite3) is not installed")
        self._write_config()
        argv = [binary, f"--config-dir={self.dir}"]
        if os.geteuid() == 0:
            argv = [
                "setpriv",
                f"--reuid={self.user}",
                f"--regid={pwd.getpwnam(self.user).pw_gid}",
                "--clear-groups",
                *argv,
            ]
        log = (self.dir / "pdns.log").open("wb")
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        client = self.client()
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            try:
                client.request("GET", "", what="readiness")
                return
            except Exception:
                if self.proc is None or self.proc.poll() is not None or time.monotonic() > deadline:
                    log = (self.dir / "pdns.log").read_text(errors="replace")[-2000:]
                    self.stop()
                    raise RealizeError(f"pdns_server did not come up: {log}") from None
                time.sleep(0.05)

    def create_zone(self, name: str, nameserver: str = "ns1.sdnkit.test.") -> None:
        body = {"name": fqdn(name), "kind": "Native", "nameservers": [nameserver]}
        self.client().request("POST", "/zones", body=body, what=f"create zone {name}")

    def delete_zone(self, name: str) -> None:
        self.client().request("DELETE", f"/zones/{fqdn(name)}", what=f"delete zone {name}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
