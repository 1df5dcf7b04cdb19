"""The long-running ``sdn agent`` on a store: the watch, incremental passes, etcd failures, the heartbeat.

Real agents (the ``sdn agent`` command) realize in a namespace of their own; the store is a real
3-member etcd cluster or, where said, both stores.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .agentproc import Agent, sdn, status, wait_until
from .conftest import netns_unavailable, unique_name

pytestmark = [pytest.mark.kernel, pytest.mark.services, pytest.mark.slow]


@pytest.fixture
def netns() -> Iterator[str]:
    reason = netns_unavailable()
    if reason:
        pytest.fail(reason) if os.environ.get("CI") else pytest.skip(reason)
    name = unique_name("agl")
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def addresses(netns: str, dev: str) -> set[str]:
    argv = ["ip", "-4", "-n", netns, "-j", "addr", "show", "dev", dev]
    out = subprocess.run(argv, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return set()
    return {f"{a['local']}/{a['prefixlen']}" for i in json.loads(out.stdout) for a in i["addr_info"]}


def link_names(netns: str) -> set[str]:
    out = subprocess.run(
        ["ip", "-n", netns, "-j", "link", "show"], capture_output=True, text=True, check=True
    )
    return {i["ifname"] for i in json.loads(out.stdout)}


def versions(agent: Agent) -> list[int]:
    return [p["version"] for p in agent.passes()]


def test_the_agent_follows_the_watch_incrementally_and_a_leader_kill_redoes_nothing(
    make_etcd_cluster, netns: str, tmp_path: Path
) -> None:
    cluster = make_etcd_cluster(("agla", "aglb", "aglc"))
    url = cluster.url("/sdnkit/agloop")
    sdn(url, "zone", "create", "lz", "--type", "simple", "--ipam", "pve")
    sdn(url, "vnet", "create", "lv1", "--zone", "lz")
    sdn(url, "subnet", "create", "lv1", "10.78.1.0/24", "--gateway", "10.78.1.1")
    sdn(url, "apply")
    # resync an hour away: every version below comes through the watch or not at all
    agent = Agent(url, "n1", netns, tmp_path / "n1", ("--resync", "3600", "--heartbeat-ttl", "3")).start()
    try:
        wait_until(lambda: 1 in versions(agent), "the first pass")
        assert addresses(netns, "lv1") == {"10.78.1.1/24"}
        subprocess.run(["ip", "-n", netns, "addr", "flush", "dev", "lv1"], check=True)  # by hand

        sdn(url, "vnet", "create", "lv2", "--zone", "lz")
        sdn(url, "apply")
        wait_until(lambda: 2 in versions(agent), "version 2")
        assert "lv2" in link_names(netns)
        assert addresses(netns, "lv1") == set()  # incremental: the untouched vnet was not looked at

        leader = cluster.leader()
        cluster.kill(leader)
        cluster.start_member(leader)
        sdn(url, "vnet", "create", "lv3", "--zone", "lz")
        sdn(url, "apply")
        wait_until(lambda: 3 in versions(agent), "version 3 after the leader was killed")
        assert "lv3" in link_names(netns)
        assert versions(agent) == [1, 2, 3]  # the leader change made the agent redo nothing

        agent.stop()  # a restart begins with a full pass: the hand-made change is undone
        agent.start()
        wait_until(lambda: len(agent.passes()) == 4, "the pass after the restart")
        assert addresses(netns, "lv1") == {"10.78.1.1/24"}
        assert agent.passes()[-1]["version"] == 3
    finally:
        agent.stop()


def test_the_agent_rides_out_a_lost_quorum(make_etcd_cluster, netns: str, tmp_path: Path) -> None:
    cluster = make_etcd_cluster(("aglq", "aglr", "agls"))
    url = cluster.url("/sdnkit/agquorum")
    sdn(url, "zone", "create", "qz", "--type", "simple")
    sdn(url, "apply")
    agent = Agent(url, "n1", netns, tmp_path / "n1", ("--resync", "3600", "--heartbeat-ttl", "3")).start()
    try:
        wait_until(lambda: 1 in versions(agent), "the first pass")
        for name in ("aglr", "agls"):
            cluster.stop_member(name)
        wait_until(lambda: "error:" in agent.output(), "the agent reporting etcd's trouble")
        assert agent.proc is not None and agent.proc.poll() is None  # it keeps going
        for name in ("aglr", "agls"):
            cluster.start_member(name)
        sdn(url, "vnet", "create", "qv", "--zone", "qz")
        sdn(url, "apply")
        wait_until(lambda: 2 in versions(agent), "version 2 once etcd is back")
        assert "qv" in link_names(netns) and versions(agent) == [1, 2]
    finally:
        agent.stop()


def test_a_killed_agent_is_down_after_its_ttl_and_up_when_it_restarts(
    store_spec: str, netns: str, tmp_path: Path
) -> None:
    sdn(store_spec, "zone", "create", "hz", "--type", "simple")
    sdn(store_spec, "vnet", "create", "hv", "--zone", "hz")
    sdn(store_spec, "apply")
    agent = Agent(store_spec, "n2", netns, tmp_path / "n2", ("--heartbeat-ttl", "2")).start()
    try:
        wait_until(lambda: status(store_spec).get("n2", {}).get("state") == "up", "n2 up")
        wait_until(lambda: 1 in versions(agent), "the first pass")
        agent.kill()
        down = wait_until(lambda: (s := status(store_spec)["n2"])["state"] == "down" and s, "n2 down")
        if store_spec.startswith("etcd"):
            assert down["heartbeat"] is None  # etcd deleted it when the lease expired
        else:
            assert down["heartbeat"] >= 4  # still there, older than twice its TTL
        assert down["applied"] == 1  # what it applied is still known
        agent.start()
        wait_until(lambda: status(store_spec)["n2"]["state"] == "up", "n2 up again")
        wait_until(lambda: len(agent.passes()) == 2, "the pass after the restart")
        assert agent.passes()[-1]["changes"] == 0  # nothing changed meanwhile: nothing redone
        assert "hv" in link_names(netns)
    finally:
        agent.stop()
