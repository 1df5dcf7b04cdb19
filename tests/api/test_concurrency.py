"""Sixteen clients edit at once: no update is lost, and a stale digest is refused.

Read-modify-write with ``digest`` is PVE's optimistic locking: each client appends its marker to
a vnet's alias, sending the digest of what it read, and retries on 409. Whatever the
interleaving, every marker must end up in the alias exactly once. Creating distinct objects
concurrently without a digest must not lose any of them either. Both run against a server on
each store: a directory, and etcd.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest
import requests

if TYPE_CHECKING:
    from tests.api.conftest import Server

pytestmark = pytest.mark.api

CLIENTS = 16
_servers = itertools.count()


@pytest.fixture(scope="module", params=["local", pytest.param("etcd", marks=pytest.mark.services)])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, serve_tools: Any
) -> Iterator[Server]:
    """A server on each store (overrides the directory-only one of conftest)."""
    store = ""
    if request.param == "etcd":
        cluster = request.getfixturevalue("etcd_single")
        store = cluster.url(f"/sdnkit-test/api-{os.getpid()}-{next(_servers)}")
    srv = serve_tools.start(tmp_path_factory.mktemp("sdn-api"), store)
    try:
        yield srv
    finally:
        serve_tools.stop(srv)


def _session(server: Server) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = server.root_token
    return session


def test_concurrent_read_modify_write_loses_nothing(server: Server) -> None:
    server.root("POST", "/cluster/sdn/zones", data={"zone": "ccz", "type": "simple"})
    server.root("POST", "/cluster/sdn/vnets", data={"vnet": "ccv", "zone": "ccz", "alias": "start"})
    url = f"{server.url}/cluster/sdn/vnets/ccv"
    barrier = threading.Barrier(CLIENTS)

    def client(n: int) -> int:
        session = _session(server)
        barrier.wait()
        for conflicts in range(200):
            vnet = session.get(url, verify=server.cafile).json()["data"]
            data = {"alias": f"{vnet['alias']} c{n}", "digest": vnet["digest"]}
            resp = session.put(url, data=data, verify=server.cafile)
            if resp.status_code == 200:
                return conflicts
            assert resp.status_code == 409, resp.text
            assert "digest" in resp.json()["errors"]
        raise AssertionError(f"client {n} never got its update in")

    with ThreadPoolExecutor(CLIENTS) as pool:
        conflicts = list(pool.map(client, range(CLIENTS)))

    markers = server.root("GET", "/cluster/sdn/vnets/ccv")["alias"].split()
    assert markers[0] == "start"
    assert sorted(markers[1:]) == sorted(f"c{n}" for n in range(CLIENTS))
    assert sum(conflicts) > 0  # the clients did collide, and stale digests were refused


def test_concurrent_creates_all_land(server: Server) -> None:
    url = f"{server.url}/cluster/sdn/zones"
    barrier = threading.Barrier(CLIENTS)

    def client(n: int) -> int:
        session = _session(server)
        barrier.wait()
        return session.post(url, data={"zone": f"cc{n}", "type": "simple"}, verify=server.cafile).status_code

    with ThreadPoolExecutor(CLIENTS) as pool:
        codes = list(pool.map(client, range(CLIENTS)))
    assert codes == [200] * CLIENTS
    zones = {z["zone"] for z in server.root("GET", "/cluster/sdn/zones")}
    assert {f"cc{n}" for n in range(CLIENTS)} <= zones
