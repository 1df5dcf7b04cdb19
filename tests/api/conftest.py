"""A real ``sdn serve`` process per test module: HTTPS on 127.0.0.1, an ephemeral port, a temp config dir.

``start_server(dir, store=URL)`` serves an etcd store instead (``dir`` then holds only the
server's node-local state: its certificate).

``server`` starts one; ``Server.token(...)`` makes API tokens with ACLs (through the same access
store the ``sdn token``/``sdn acl`` commands use) and ``Server.call(...)`` sends requests verified
against the server's own self-signed certificate.
"""

from __future__ import annotations

import itertools
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from sdnkit.api.access import AccessStore

SDN = str(Path(sys.executable).with_name("sdn"))
START_TIMEOUT = 30.0
_counter = itertools.count()


def unique(prefix: str) -> str:
    """A short unique ID (zone and vnet IDs are at most 8 characters)."""
    return f"{prefix}{next(_counter)}"


@dataclass
class Server:
    url: str  # https://127.0.0.1:<port>/api2/json
    host: str
    port: int
    config_dir: Path  # the store directory, or the node-local state directory with an etcd store
    process: subprocess.Popen[str]
    root_token: str  # Authorization header value of root@pam!admin (no privilege separation)
    store: str = ""  # the --store the server runs on ("" : config_dir)

    @property
    def store_spec(self) -> str:
        return self.store or str(self.config_dir)

    @property
    def cafile(self) -> str:
        return str(self.config_dir / "tls" / "sdn-ssl.pem")

    @property
    def access(self) -> AccessStore:
        return AccessStore(self.store_spec)

    def token(
        self,
        grants: Mapping[str, str] | None = None,
        *,
        user: str | None = None,
        user_grants: Mapping[str, str] | None = None,
        privsep: bool = True,
        propagate: bool = True,
    ) -> str:
        """A new token (and user) with ``grants`` {ACL path: role}; returns the header value.

        The user gets ``user_grants``, by default the same as the token (a privilege-separated
        token has only what both hold).
        """
        store = self.access
        userid = user or f"{unique('u')}@pve"
        if userid not in store.load().users:
            store.add_user(userid)
        for path, role in ((grants if user_grants is None else user_grants) or {}).items():
            store.set_acl(path, role, userid, propagate=propagate)
        name = unique("t")
        secret = store.add_token(userid, name, privsep=privsep)
        for path, role in (grants or {}).items():
            store.set_acl(path, role, f"{userid}!{name}", propagate=propagate)
        return f"PVEAPIToken={userid}!{name}={secret}"

    def call(self, method: str, path: str, auth: str | None = None, **kw: Any) -> requests.Response:
        headers = dict(kw.pop("headers", {}))
        if auth is not None:
            headers["Authorization"] = auth
        return requests.request(
            method, f"{self.url}{path}", headers=headers, verify=self.cafile, timeout=30, **kw
        )

    def root(self, method: str, path: str, **kw: Any) -> Any:
        """A call as root that must succeed; returns ``data``."""
        resp = self.call(method, path, self.root_token, **kw)
        assert resp.status_code == 200, f"{method} {path}: {resp.status_code} {resp.text}"
        return resp.json()["data"]


def _read_url(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if sel.select(timeout=0.2):
            line = proc.stdout.readline()
            if line.startswith("listening on "):
                return line.split()[2]
            if not line and proc.poll() is not None:
                break
    raise RuntimeError(f"sdn serve did not start (exit {proc.poll()})")


def start_server(config_dir: Path, store: str = "") -> Server:
    access = AccessStore(store or config_dir)
    if "root@pam!admin" in access.load().tokens:  # a restart on the same store: a new secret
        access.delete_token("root@pam", "admin")
    secret = access.add_token("root@pam", "admin", privsep=False)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    where = (
        ["--store", store, "serve", "--state-dir", str(config_dir)]
        if store
        else ["--config-dir", str(config_dir), "serve"]
    )
    with open(config_dir / "serve.log", "a") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [SDN, *where, "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=env,
        )
    try:
        url = _read_url(proc)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    port = int(url.split(":")[2].split("/")[0])
    return Server(url, "127.0.0.1", port, config_dir, proc, f"PVEAPIToken=root@pam!admin={secret}", store)


def stop_server(server: Server) -> None:
    # uvicorn waits for idle TLS keep-alive connections (up to 5 s); a SIGINT after that ends the wait
    proc = server.process
    steps = ((proc.terminate, 1), (lambda: proc.send_signal(signal.SIGINT), 5), (proc.kill, 5))
    for signal_it, timeout in steps:
        signal_it()
        try:
            server.process.wait(timeout=timeout)
            break
        except subprocess.TimeoutExpired:
            continue
    if server.process.stdout:
        server.process.stdout.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("sdn-api"))
    try:
        yield srv
    finally:
        stop_server(srv)


@dataclass(frozen=True)
class ServeTools:
    start: Any = start_server
    stop: Any = stop_server
    read_url: Any = _read_url


@pytest.fixture(scope="session")
def serve_tools() -> ServeTools:
    """The server helpers, for tests that start and stop servers themselves."""
    return ServeTools()
