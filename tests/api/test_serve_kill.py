"""``sdn serve`` killed with SIGKILL while clients commit: the store stays consistent, on either store.

Clients create, change and delete vnets and apply, as fast as they can; the server is killed at
a random moment, restarted on the same store, and killed again. After every kill every document
must parse strictly, the running configuration must satisfy every rule (only valid configs are
applied), and the restarted server must accept the same token and go on committing.
"""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from sdnkit.config.schema import Kind
from sdnkit.config.validate import check_config
from sdnkit.service import SdnService
from sdnkit.store import open_store
from sdnkit.store.snapshot import load_snapshot

if TYPE_CHECKING:
    from tests.api.conftest import Server

pytestmark = [pytest.mark.api, pytest.mark.slow]

_ids = itertools.count()


@pytest.fixture(params=["local", pytest.param("etcd", marks=pytest.mark.services)])
def store_for_server(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return ""
    cluster = request.getfixturevalue("etcd_single")
    # a killed server may hold the sdn lock: the next one gets it after the lease TTL (2 s here)
    return cluster.url(f"/sdnkit-test/kill-{os.getpid()}-{next(_ids)}?lock-ttl=2")


def _clients(server: Server, stop: threading.Event, done: list[str]) -> list[threading.Thread]:
    def client(n: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = server.root_token
        rng = random.Random(n)
        base = f"{server.url}/cluster/sdn"
        while not stop.is_set():
            vnet = f"k{n}v{rng.randrange(20)}"
            try:
                action = rng.random()
                if action < 0.5:
                    resp = session.post(
                        f"{base}/vnets", data={"vnet": vnet, "zone": "kz"}, verify=server.cafile
                    )
                elif action < 0.8:
                    resp = session.put(
                        f"{base}/vnets/{vnet}", data={"alias": f"a{rng.random()}"}, verify=server.cafile
                    )
                elif action < 0.9:
                    resp = session.delete(f"{base}/vnets/{vnet}", verify=server.cafile)
                else:
                    resp = session.put(base, verify=server.cafile)  # apply
            except requests.RequestException:
                return  # the server is gone
            done.append(f"{resp.status_code}")

    return [threading.Thread(target=client, args=(n,), daemon=True) for n in range(6)]


def _check_consistent(spec: str) -> int:
    snap = load_snapshot(open_store(spec))  # every document parses strictly
    assert check_config(snap.running.config) == [], "the running config breaks a rule"
    assert "kz" in snap.sections(Kind.ZONES)
    return snap.running.version


def test_sigkill_during_commits_leaves_a_consistent_store(
    tmp_path: Path, store_for_server: str, serve_tools: Any
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    spec = store_for_server or str(state)
    svc = SdnService(spec)
    svc.create("zones", {"zone": "kz", "type": "simple"})
    svc.apply({})
    rng = random.Random(99)
    versions = [1]
    for round_ in range(4):
        server = serve_tools.start(state, store_for_server)
        stop, done = threading.Event(), []
        threads = _clients(server, stop, done)
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(done) < 30 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.3))
        server.process.kill()  # SIGKILL, in the middle of commits
        server.process.wait()
        stop.set()
        for t in threads:
            t.join(30)
        assert "200" in done, f"round {round_}: no request succeeded before the kill ({set(done)})"
        versions.append(_check_consistent(spec))
        if server.process.stdout:
            server.process.stdout.close()
    assert versions == sorted(versions)  # nothing applied went back
    # a server on the store after all that: same credentials, commits go through
    server = serve_tools.start(state, store_for_server)
    try:
        server.root("POST", "/cluster/sdn/vnets", data={"vnet": "kfinal", "zone": "kz"})
        server.root("PUT", "/cluster/sdn")
        assert "kfinal" in {v["vnet"] for v in server.root("GET", "/cluster/sdn/vnets")}
    finally:
        serve_tools.stop(server)
    _check_consistent(spec)
