"""``sdn apply --wait`` and the API's apply task across a 3-node lab whose agents run on etcd.

The lab is ``sdn --store etcd://... lab up --nodes 3`` on this kernel; each node's agent is the
real long-running ``sdn agent`` (in this namespace, realizing in its node's with ``--netns``, so
that it reaches the test etcd on loopback). A VXLAN zone with peers 192.0.2.1-3 carries guests on
node1 and node3. Every test makes its own objects and removes them, so they run in any order.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from .agentproc import Agent, sdn, status, wait_until
from .conftest import netns_unavailable, unique_name

pytestmark = [pytest.mark.kernel, pytest.mark.services, pytest.mark.slow]

NODES = ("node1", "node2", "node3")


@dataclass
class Cluster:
    url: str
    lab: str
    agents: dict[str, Agent]

    def ns(self, member: str) -> str:
        return f"{self.lab}-{member}" if member in NODES else f"{self.lab}-g-{member}"

    def ping(self, member: str, target: str) -> bool:
        argv = ["ip", "netns", "exec", self.ns(member), "ping", "-n", "-q", "-c", "1", "-w", "3", target]
        return subprocess.run(argv, capture_output=True, check=False).returncode == 0

    def links(self, node: str) -> set[str]:
        argv = ["ip", "-n", self.ns(node), "-j", "link", "show"]
        out = subprocess.run(argv, capture_output=True, text=True, check=False)
        return {i["ifname"] for i in json.loads(out.stdout or "[]")}

    def apply(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return sdn(self.url, "apply", *argv, check=False)

    def converged(self) -> bool:
        """Every node up and at the running version (what the next test starts from)."""
        found = status(self.url)
        return all(found[n]["state"] == "up" and found[n]["applied"] == found[n]["running"] for n in NODES)


@pytest.fixture(scope="module")
def cluster(etcd_single: Any, lab_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if reason := netns_unavailable():
        pytest.fail(reason) if os.environ.get("CI") else pytest.skip(reason)
    url = etcd_single.url(f"/sdnkit-test/cluster-{os.getpid()}-{unique_name('c')}")
    lab = unique_name("agc")
    home = tmp_path_factory.mktemp("agents")
    sdn(url, "lab", "up", "--nodes", "3", "--name", lab)
    agents = {n: Agent(url, n, f"{lab}-{n}", home / n, ("--heartbeat-ttl", "3")) for n in NODES}
    try:
        for agent in agents.values():
            agent.start()
        sdn(url, "zone", "create", "cvx", "--type", "vxlan", "--peers", "192.0.2.1,192.0.2.2,192.0.2.3")
        sdn(url, "vnet", "create", "cvnet", "--zone", "cvx", "--tag", "4100")
        sdn(url, "subnet", "create", "cvnet", "10.79.0.0/24", "--gateway", "10.79.0.1")
        env = Cluster(url, lab, agents)
        wait_until(
            lambda: all(s["state"] == "up" for s in status(url).values()) and len(status(url)) == 3, "agents"
        )
        done = env.apply("--wait")
        assert done.returncode == 0, done.stdout + done.stderr
        sdn(
            url,
            "lab",
            "guest",
            "add",
            "g1",
            "--node",
            "node1",
            "--vnet",
            "cvnet",
            "--ip",
            "10.79.0.11/24",
            "--name",
            lab,
        )
        sdn(
            url,
            "lab",
            "guest",
            "add",
            "g3",
            "--node",
            "node3",
            "--vnet",
            "cvnet",
            "--ip",
            "10.79.0.13/24",
            "--name",
            lab,
        )
        yield env
    finally:
        for agent in agents.values():
            agent.stop()
        sdn(url, "lab", "down", "--name", lab, check=False)


def node_lines(output: str) -> dict[str, str]:
    """The ``<node>: <event>`` lines of an apply's output, by node (the last one of each)."""
    found = {}
    for line in output.splitlines():
        node, sep, event = line.partition(": ")
        if sep and node in NODES:
            found[node] = event
    return found


def test_apply_wait_reports_every_node_and_the_guests_ping_across_nodes(cluster: Cluster) -> None:
    assert cluster.ping("g1", "10.79.0.13")  # node1 to node3 over the VXLAN zone
    sdn(cluster.url, "vnet", "create", "cwok", "--zone", "cvx", "--tag", "4101")
    try:
        done = cluster.apply("--wait")
        assert done.returncode == 0, done.stdout + done.stderr
        running = int(done.stdout.split()[2])  # "running version N committed"
        assert node_lines(done.stdout) == dict.fromkeys(NODES, f"applied version {running}")
        assert all("cwok" in cluster.links(n) for n in NODES)  # what the kernel has, not what they said
        found = status(cluster.url)
        assert {n: (s["state"], s["applied"], s["running"]) for n, s in found.items()} == dict.fromkeys(
            NODES, ("up", running, running)
        )
        assert cluster.ping("g1", "10.79.0.13")
    finally:
        sdn(cluster.url, "vnet", "delete", "cwok")
        assert cluster.apply("--wait").returncode == 0
    assert not any("cwok" in cluster.links(n) for n in NODES)


def test_a_node_that_fails_is_named_with_its_error(cluster: Cluster) -> None:
    # node2 already has an interface of the vnet's name that sdnkit did not make: it must refuse
    subprocess.run(
        ["ip", "-n", cluster.ns("node2"), "link", "add", "cerrv", "type", "veth", "peer", "name", "cerrp"],
        check=True,
    )
    sdn(cluster.url, "zone", "create", "cez", "--type", "simple")
    sdn(cluster.url, "vnet", "create", "cerrv", "--zone", "cez")
    try:
        done = cluster.apply("--wait")
        assert done.returncode == 1
        events = node_lines(done.stdout)
        assert events["node1"].startswith("applied") and events["node3"].startswith("applied")
        assert events["node2"].startswith("error: ") and "already exists" in events["node2"]
        assert "node2" in done.stderr and "already exists" in done.stderr  # the summary names it
        assert "cerrv" in cluster.links("node1")
    finally:
        subprocess.run(["ip", "-n", cluster.ns("node2"), "link", "del", "cerrv"], check=False)
        sdn(cluster.url, "vnet", "delete", "cerrv")
        sdn(cluster.url, "zone", "delete", "cez")
        done = cluster.apply("--wait")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_down_node_is_named_as_not_answering_and_catches_up(cluster: Cluster) -> None:
    agent = cluster.agents["node3"]
    agent.kill()
    try:
        wait_until(lambda: status(cluster.url)["node3"]["state"] == "down", "node3 down")
        sdn(cluster.url, "vnet", "create", "cdown", "--zone", "cvx", "--tag", "4102")
        done = cluster.apply("--wait", "--timeout", "60")
        assert done.returncode == 1
        events = node_lines(done.stdout)
        assert events["node1"].startswith("applied") and events["node2"].startswith("applied")
        assert events["node3"].startswith("no answer: node down")
        assert "cdown" not in cluster.links("node3")
    finally:
        agent.start()
    wait_until(cluster.converged, "node3 catching up")
    assert "cdown" in cluster.links("node3")
    sdn(cluster.url, "vnet", "delete", "cdown")
    assert cluster.apply("--wait").returncode == 0


@pytest.fixture(scope="module")
def api(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    from sdnkit.api.access import AccessStore

    secret = AccessStore(cluster.url).add_token("root@pam", unique_name("ct"), privsep=False)
    token = next(k for k in AccessStore(cluster.url).load().tokens if k.startswith("root@pam!ct"))
    state = tmp_path_factory.mktemp("serve")
    argv = [str(Path(sys.executable).with_name("sdn")), "--store", cluster.url, "serve",
            "--state-dir", str(state), "--listen", "127.0.0.1:0", "--insecure-http"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().split()[2]  # "listening on http://127.0.0.1:P/api2/json"
        yield base, {"Authorization": f"PVEAPIToken={token}={secret}"}
    finally:
        proc.terminate()
        proc.communicate(timeout=30)  # also closes its stdout (else a ResourceWarning in a later test)


def _task(api: tuple[str, dict[str, str]], upid: str, what: str, **params: Any) -> Any:
    base, headers = api
    node = upid.split(":")[1]
    answer = httpx.get(f"{base}/nodes/{node}/tasks/{upid}/{what}", headers=headers, params=params, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def _finished(api: tuple[str, dict[str, str]], upid: str) -> dict[str, Any]:
    return wait_until(
        lambda: (s := _task(api, upid, "status"))["status"] == "stopped" and s, "the task's end"
    )


def test_the_api_task_follows_the_nodes(cluster: Cluster, api: tuple[str, dict[str, str]]) -> None:
    base, headers = api
    sdn(cluster.url, "vnet", "create", "capi", "--zone", "cvx", "--tag", "4103")
    try:
        answer = httpx.put(f"{base}/cluster/sdn", headers=headers, timeout=30)
        assert answer.status_code == 200, answer.text
        upid = answer.json()["data"]
        first = _task(api, upid, "status")
        assert {"status", "type", "id", "node", "upid", "starttime", "pid", "pstart", "user"} <= set(first)
        status_ = _finished(api, upid)
        assert status_["exitstatus"] == "OK" and status_["type"] == "reloadnetworkall"
        log = _task(api, upid, "log", limit=500)
        assert [line["n"] for line in log] == list(range(1, len(log) + 1))
        version = int(status_["id"])
        assert node_lines("\n".join(line["t"] for line in log)) == dict.fromkeys(
            NODES, f"applied version {version}"
        )
        assert log[-1]["t"] == "TASK OK"
        assert _task(api, upid, "log", start=1, limit=1) == log[1:2]
    finally:
        sdn(cluster.url, "vnet", "delete", "capi")
        assert cluster.apply("--wait").returncode == 0


def test_the_api_task_names_a_down_node(cluster: Cluster, api: tuple[str, dict[str, str]]) -> None:
    base, headers = api
    agent = cluster.agents["node2"]
    agent.kill()
    sdn(cluster.url, "vnet", "create", "capid", "--zone", "cvx", "--tag", "4104")
    try:
        wait_until(lambda: status(cluster.url)["node2"]["state"] == "down", "node2 down")
        upid = httpx.put(f"{base}/cluster/sdn", headers=headers, data={"timeout": 60}, timeout=30).json()[
            "data"
        ]
        status_ = _finished(api, upid)
        assert status_["exitstatus"] != "OK" and "node2: no answer" in status_["exitstatus"]
        lines = [line["t"] for line in _task(api, upid, "log", limit=500)]
        events = node_lines("\n".join(lines))
        assert events["node2"].startswith("no answer") and events["node1"].startswith("applied")
        assert lines[-1].startswith("TASK ERROR: ")
    finally:
        agent.start()
        wait_until(cluster.converged, "node2 catching up")
        sdn(cluster.url, "vnet", "delete", "capid")
        assert cluster.apply("--wait").returncode == 0


# --- commit confirmed -------------------------------------------------------------------------


def running(cluster: Cluster) -> Any:
    from sdnkit.store import open_store
    from sdnkit.store.snapshot import read_running

    return read_running(open_store(cluster.url))


class Pinger:
    """``ping -i 0.1`` from a guest for as long as a block runs; its own count of what came back."""

    def __init__(self, cluster: Cluster, guest: str, target: str) -> None:
        argv = ["ip", "netns", "exec", cluster.ns(guest), "ping", "-n", "-q", "-i", "0.1", target]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def stop(self) -> tuple[int, int]:
        """(sent, received), from ping's own summary."""
        self.proc.send_signal(signal.SIGINT)
        out, _ = self.proc.communicate(timeout=30)
        line = next(x for x in out.splitlines() if "packets transmitted" in x)
        sent, received = (int(part.split()[0]) for part in line.split(", ")[:2])
        return sent, received


def _df_ping(cluster: Cluster, node: str, target: str, size: int) -> bool:
    argv = ["ip", "netns", "exec", cluster.ns(node), "ping", "-n", "-q", "-M", "do", "-c", "1", "-w", "2"]
    return (
        subprocess.run([*argv, "-s", str(size - 28), target], capture_output=True, check=False).returncode
        == 0
    )


def test_an_mtu_the_underlay_cannot_carry_is_reverted_while_the_guests_keep_pinging(cluster: Cluster) -> None:
    # the referee: the lab's underlay carries 1500-byte packets, not the 1650 a zone MTU of 1600 needs
    assert _df_ping(cluster, "node1", "192.0.2.3", 1500) and not _df_ping(cluster, "node1", "192.0.2.3", 1650)
    before = running(cluster)
    sdn(cluster.url, "zone", "set", "cvx", "--mtu", "1600")
    pinger = Pinger(cluster, "g1", "10.79.0.13")
    try:
        wait_until(lambda: cluster.ping("g3", "10.79.0.11"), "the guests pinging")
        done = cluster.apply("--confirm", "30")
        wait_until(cluster.converged, "every node back at the running version")
    finally:
        sent, received = pinger.stop()
    try:
        assert done.returncode == 1
        events = node_lines(done.stdout)
        assert set(events) == set(NODES)
        assert all(e.startswith("applied version") for e in events.values())  # the revert, applied
        assert done.stdout.count("needs 1650-byte packets") == 3  # each node's own check said why
        assert "not confirmed: going back to the content of version" in done.stdout
        after = running(cluster)
        assert after.version == before.version + 2 and after.config == before.config
        pending = json.loads(sdn(cluster.url, "-o", "json", "pending").stdout)
        assert [(c["id"], c["changes"]["mtu"]["new"]) for c in pending] == [("cvx", 1600)]  # still pending
        found = status(cluster.url)
        for node in NODES:  # each node says why, after the revert too
            went = found[node]["went-back"]
            assert went["version"] == before.version + 1 and "1650-byte" in went["zones"]["cvx"]
        mtus = {json.loads(subprocess.run(["ip", "-n", cluster.ns(n), "-j", "link", "show", "cvnet"],
                capture_output=True, text=True, check=True).stdout)[0]["mtu"] for n in NODES}  # fmt: skip
        assert mtus == {1450}  # the kernel: the old MTU everywhere
        assert sent >= 10 and sent - received <= 5, (sent, received)  # at most a few lost
        assert cluster.ping("g1", "10.79.0.13")
    finally:
        sdn(cluster.url, "rollback")


def test_a_confirmed_apply_whose_process_died_is_reverted_by_the_agents(cluster: Cluster) -> None:
    before = running(cluster)
    sdn(cluster.url, "vnet", "create", "cconf", "--zone", "cvx", "--tag", "4105")
    argv = [str(Path(sys.executable).with_name("sdn")), "--store", cluster.url, "apply", "--confirm", "3"]
    applier = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: running(cluster).version == before.version + 1, "the commit")
        applier.kill()  # gone before any confirmation
        applier.wait(timeout=30)
        wait_until(lambda: all("cconf" in cluster.links(n) for n in NODES), "the nodes applying it")
        back = wait_until(lambda: (r := running(cluster)).version == before.version + 2 and r, "the revert")
        assert back.config == before.config
        wait_until(cluster.converged, "every node at the reverted version")
        assert not any("cconf" in cluster.links(n) for n in NODES)
        header = sdn(cluster.url, "status").stdout.splitlines()
        assert any(
            f"version {before.version + 1} was reverted" in x and "the agent of node" in x for x in header
        )
        pending = json.loads(sdn(cluster.url, "-o", "json", "pending").stdout)
        assert [(c["id"], c["state"]) for c in pending] == [("cconf", "new")]
        assert cluster.ping("g1", "10.79.0.13")
    finally:
        applier.kill()
        sdn(cluster.url, "rollback")
