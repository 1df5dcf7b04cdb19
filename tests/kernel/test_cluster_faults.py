"""Faults during a cluster apply, on an etcd lab: a member stopped, the leader killed, an agent
killed half-way, a node cut off from the underlay.

One lab for the module: ``sdn lab up --nodes 3 --etcd``, a VXLAN zone over node1-3 made with
``sdn pvesh``, agents started with ``sdn lab agents start``, guests on node1 and node3. Every step
is a command a user runs (``sdn pvesh``, ``sdn apply --wait``, ``sdn status -o json``, ``sdn lab
etcd ...``, ``sdn lab node ...``); what the nodes did is read from the kernel (``ip -j link``,
``bridge -j fdb``, pings between guests). Each test makes its own vnets, puts back what it broke
(a member, an agent, the underlay) and removes its vnets, so the tests run in any order.

"During an apply" is made exact by the realizer's test hook (``SDN_TEST_HOLD_FILE``,
realize/ipbatch.py), given to the agents only: while the test's hold file exists, every agent
stops between the two batches of kernel changes of its pass, with the new vnet's links made and
its flood entries (the VXLAN peers) not yet. The test sees each agent stopped there (the hook's
marker file, and the kernel), makes its fault, and removes the file.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from .agentproc import wait_until
from .etcdlabcli import NODES3, EtcdLabCli, hold_markers, node_lines

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.services,
    pytest.mark.slow,
    pytest.mark.needs("root", "ip", "bridge", "ping", "etcd", "etcdctl"),
]

ZONE = "fz"
PEERS = {"node1": "192.0.2.1", "node2": "192.0.2.2", "node3": "192.0.2.3"}


def others(node: str) -> set[str]:
    """The VTEPs ``node`` floods to: the zone's peers but its own address (independent of sdnkit)."""
    return {a for n, a in PEERS.items() if n != node}


@pytest.fixture(scope="module")
def hold(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hold file of the realizer's test hook; absent (no hold) unless a test makes it."""
    return tmp_path_factory.mktemp("hold") / "hold"


@pytest.fixture(scope="module")
def lab(lab_root: Path, hold: Path) -> Iterator[EtcdLabCli]:
    lab = EtcdLabCli.up(3)
    try:
        lab.sdn("pvesh", "create", "/cluster/sdn/zones", "-zone", ZONE, "-type", "vxlan",
                "-peers", ",".join(PEERS.values()))  # fmt: skip
        lab.sdn("pvesh", "create", "/cluster/sdn/vnets", "-vnet", "fv1", "-zone", ZONE, "-tag", "5100")
        lab.sdn("apply")
        lab.agent_env = {"SDN_TEST_HOLD_FILE": str(hold)}  # every start of an agent gets the hook
        lab.start_agents()
        wait_until(lab.converged, "every node at the running version")
        lab.sdn("lab", "guest", "add", "g1", "--node", "node1", "--vnet", "fv1", "--ip", "10.82.0.11/24")
        lab.sdn("lab", "guest", "add", "g3", "--node", "node3", "--vnet", "fv1", "--ip", "10.82.0.13/24")
        wait_until(lambda: lab.ping("g1", "10.82.0.13"), "g1 pinging g3 across the zone")
        yield lab
    finally:
        hold.unlink(missing_ok=True)
        lab.down()


def add_vnet(lab: EtcdLabCli, vnet: str, tag: int) -> None:
    lab.sdn("pvesh", "create", "/cluster/sdn/vnets", "-vnet", vnet, "-zone", ZONE, "-tag", str(tag))


def remove_vnets(lab: EtcdLabCli, *vnets: str) -> None:
    """Delete the test's vnets and apply; every node then has none of them (the kernel says)."""
    for vnet in vnets:
        lab.sdn("pvesh", "delete", f"/cluster/sdn/vnets/{vnet}", check=False)
    done = lab.sdn("apply", "--wait", "--timeout", "120", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not {v for n in NODES3 for v in vnets if v in lab.links(n)}


def assert_applied_everywhere(lab: EtcdLabCli, vnet: str, version: int) -> None:
    """Every node has the vnet with its flood entries (the kernel), and says it is at ``version``."""
    for node in NODES3:
        links = lab.links(node)
        assert vnet in links and links[vnet]["operstate"] == "UP", node
        assert lab.flood(node, vnet) == others(node), node
    found = lab.status()
    assert {n: (s["state"], s["applied"], s["running"]) for n, s in found.items()} == dict.fromkeys(
        NODES3, ("up", version, version)
    )


@contextlib.contextmanager
def held(lab: EtcdLabCli, hold: Path) -> Iterator[dict[str, int]]:
    """The hold on for the block (also when it fails); yields the agents' pids."""
    for stale in hold.parent.glob(f"{hold.name}.*"):  # a killed agent's marker
        stale.unlink(missing_ok=True)
    hold.touch()
    try:
        yield lab.agent_pids()
    finally:
        hold.unlink(missing_ok=True)


def wait_half_way(lab: EtcdLabCli, hold: Path, pids: dict[str, int], vnet: str) -> None:
    """Each agent at the hook, with ``vnet``'s links made and no flood entry yet (the kernel)."""
    wait_until(lambda: hold_markers(hold) == set(pids.values()), "every agent at the hold")
    for node in NODES3:
        assert vnet in lab.links(node) and lab.flood(node, vnet) == set(), node


@contextlib.contextmanager
def guests_on(lab: EtcdLabCli, vnet: str, net: str) -> Iterator[tuple[str, str]]:
    """Guests on ``vnet`` on node1 and node3 (``<net>.11``, ``<net>.13``), removed after the block;
    yields the first guest's name and the second one's address."""
    names = (f"{vnet}a", f"{vnet}c")
    try:
        for guest, node, host in ((names[0], "node1", 11), (names[1], "node3", 13)):
            lab.sdn("lab", "guest", "add", guest, "--node", node, "--vnet", vnet, "--ip", f"{net}.{host}/24")
        yield names[0], f"{net}.13"
    finally:
        for guest in names:
            lab.sdn("lab", "guest", "del", guest, check=False)


# --- etcd members -----------------------------------------------------------------------------


def member_ids(lab: EtcdLabCli) -> dict[str, str]:
    """The members' ids (hex, as etcdctl takes them), by node, from etcd's own client."""
    listed = json.loads(lab.etcdctl("node2", "-w", "json", "member", "list"))
    return {m["name"]: f"{m['ID']:x}" for m in listed["members"]}


def make_leader(lab: EtcdLabCli, node: str) -> None:
    """Move etcd's leadership to ``node`` (``etcdctl move-leader``) unless it leads already."""
    if lab.members()[node]["state"] != "leader":
        lab.etcdctl("node2", "move-leader", member_ids(lab)[node])
    wait_until(lambda: all(m["leader"] == node for m in lab.members().values()), f"{node} leading")


def test_an_apply_completes_with_a_member_stopped_during_it(lab: EtcdLabCli, hold: Path) -> None:
    # node1's member is the one every client (agents, sdn apply) tries first: a follower, stopped
    make_leader(lab, "node2")
    add_vnet(lab, "fm1", 5101)
    try:
        with contextlib.ExitStack() as plug, lab.background("apply", "--wait", "--timeout", "90") as applying:
            with held(lab, hold) as pids:
                wait_half_way(lab, hold, pids, "fm1")
                guest, across = plug.enter_context(guests_on(lab, "fm1", "10.84.0"))
                assert applying.poll() is None  # still waiting: the apply is under way
                assert not lab.ping(guest, across, wait=2)  # half made: no flood entry yet
                assert lab.members()["node1"]["state"] == "follower"
                lab.sdn("lab", "etcd", "stop", "node1")
                assert lab.members()["node1"]["state"] == "stopped"
            done = lab.finish(applying)
            assert done.returncode == 0, done.stdout + done.stderr
            version = int(done.stdout.split()[2])  # "running version N committed"
            assert node_lines(done.stdout, NODES3) == dict.fromkeys(NODES3, f"applied version {version}")
            assert_applied_everywhere(lab, "fm1", version)
            assert lab.ping(guest, across)  # node1 to node3 on the new vnet
    finally:
        lab.sdn("lab", "etcd", "start", "node1")
        remove_vnets(lab, "fm1")


def test_an_apply_completes_when_the_leader_is_killed_during_it(lab: EtcdLabCli, hold: Path) -> None:
    make_leader(lab, "node1")  # the leader, and the member every client tries first
    add_vnet(lab, "fl1", 5102)
    try:
        with contextlib.ExitStack() as plug, lab.background("apply", "--wait", "--timeout", "90") as applying:
            with held(lab, hold) as pids:
                wait_half_way(lab, hold, pids, "fl1")
                guest, across = plug.enter_context(guests_on(lab, "fl1", "10.85.0"))
                assert not lab.ping(guest, across, wait=2)  # half made: no flood entry yet
                leader = lab.members()["node1"]
                assert leader["state"] == "leader" and applying.poll() is None
                os.kill(leader["pid"], signal.SIGKILL)  # a crash: kill -9 of `sdn lab etcd status`'s pid
                wait_until(lambda: lab.members()["node1"]["state"] == "stopped", "node1's member gone")
            done = lab.finish(applying)
            assert done.returncode == 0, done.stdout + done.stderr
            version = int(done.stdout.split()[2])
            assert node_lines(done.stdout, NODES3) == dict.fromkeys(NODES3, f"applied version {version}")
            assert_applied_everywhere(lab, "fl1", version)
            assert lab.ping(guest, across)  # node1 to node3 on the new vnet
        # the two members left elected one of them
        assert {m["leader"] for n, m in lab.members().items() if n != "node1"} <= {"node2", "node3"}
    finally:
        lab.sdn("lab", "etcd", "start", "node1")
        remove_vnets(lab, "fl1")


# --- an agent killed half-way ----------------------------------------------------------------


def test_an_agent_killed_half_way_finishes_the_apply_when_it_starts_again(
    lab: EtcdLabCli, hold: Path
) -> None:
    add_vnet(lab, "fk1", 5103)
    try:
        with lab.background("apply", "--wait", "--timeout", "120") as applying:
            with held(lab, hold) as pids:
                wait_half_way(lab, hold, pids, "fk1")
                # guests on the half-made vnet: node2 floods nowhere yet, so nothing crosses
                for guest, node, ip in (("k2", "node2", "10.83.0.12/24"), ("k3", "node3", "10.83.0.13/24")):
                    lab.sdn("lab", "guest", "add", guest, "--node", node, "--vnet", "fk1", "--ip", ip)
                assert not lab.ping("k2", "10.83.0.13", wait=2)
                lab.kill_agent("node2")
            # node1 and node3 went on; node2's links are as the killed agent left them
            wait_until(lambda: lab.flood("node3", "fk1") == others("node3"), "node3 done")
            assert lab.flood("node2", "fk1") == set() and "fk1" in lab.links("node2")
            lab.start_agents()
            done = lab.finish(applying)
        assert done.returncode == 0, done.stdout + done.stderr
        version = int(done.stdout.split()[2])
        assert node_lines(done.stdout, NODES3) == dict.fromkeys(NODES3, f"applied version {version}")
        assert_applied_everywhere(lab, "fk1", version)
        assert lab.ping("k2", "10.83.0.13")  # node2 finished: its broadcasts reach node3
    finally:
        lab.start_agents()
        for guest in ("k2", "k3"):
            lab.sdn("lab", "guest", "del", guest, check=False)
        remove_vnets(lab, "fk1")


def test_an_agent_killed_half_way_cleans_up_when_the_change_was_withdrawn(
    lab: EtcdLabCli, hold: Path
) -> None:
    before = lab.running_version()
    add_vnet(lab, "fc1", 5104)
    try:
        with held(lab, hold) as pids:
            lab.sdn("apply")
            wait_half_way(lab, hold, pids, "fc1")
            lab.kill_agent("node2")
        wait_until(lambda: lab.flood("node3", "fc1") == others("node3"), "node3 done")
        # withdrawn while node2's agent is dead: its half-made links must go when it is back
        lab.sdn("pvesh", "delete", "/cluster/sdn/vnets/fc1")
        lab.sdn("apply")
        wait_until(lambda: not any("fc1" in lab.links(n) for n in ("node1", "node3")), "fc1 gone from 1, 3")
        assert {"fc1", "vxlan_fc1"} <= set(lab.links("node2"))
        lab.start_agents()
        wait_until(lab.converged, "node2 at the running version")
        assert lab.status()["node2"]["applied"] == before + 2
        assert not {"fc1", "vxlan_fc1"} & set(lab.links("node2"))
        assert lab.ping("g1", "10.82.0.13")  # the zone's other vnet unharmed
    finally:
        lab.start_agents()
        remove_vnets(lab, "fc1")


# --- a node cut off from the underlay -------------------------------------------------------


def test_an_isolated_node_is_reported_down_and_catches_up_when_it_is_back(lab: EtcdLabCli) -> None:
    assert lab.ping("g1", "10.82.0.13")
    lab.sdn("lab", "node", "isolate", "node3")
    try:
        assert not lab.ping("g1", "10.82.0.13", wait=2)  # the underlay to node3 is cut
        # its heartbeat's lease runs out: etcd deletes it and every reader sees node3 down
        down = wait_until(lambda: (s := lab.status()["node3"])["state"] == "down" and s, "node3 down")
        assert down["heartbeat"] is None
        before = lab.running_version()
        add_vnet(lab, "fi1", 5105)
        done = lab.sdn("apply", "--wait", "--timeout", "60", check=False)
        assert done.returncode == 1, done.stdout + done.stderr
        events = node_lines(done.stdout, NODES3)
        assert events["node1"] == events["node2"] == f"applied version {before + 1}"
        assert events["node3"].startswith("no answer: node down")
        assert "node3: no answer" in done.stderr  # the summary names it
        # node1's underlay check could not reach node3's VTEP: noted with the node it knows is down
        notes = lab.status()["node1"]["warnings"]
        note = "no answer over the underlay (not counted against the zone); node node3 is down"
        assert f'zone "{ZONE}": peer 192.0.2.3: {note}' in notes, notes
        add_vnet(lab, "fi2", 5106)  # a second version node3 misses
        assert lab.sdn("apply", "--wait", "--timeout", "60", check=False).returncode == 1
        assert {"fi1", "fi2"} <= set(lab.links("node1")) and not {"fi1", "fi2"} & set(lab.links("node3"))
    finally:
        lab.sdn("lab", "node", "reconnect", "node3")
    try:
        wait_until(lab.converged, "node3 back at the running version")
        found = lab.status()["node3"]
        assert (found["state"], found["applied"], found["running"]) == ("up", before + 2, before + 2)
        for vnet in ("fi1", "fi2"):  # both versions it missed, in its kernel
            assert vnet in lab.links("node3") and lab.flood("node3", vnet) == others("node3")
        assert lab.ping("g1", "10.82.0.13")
    finally:
        remove_vnets(lab, "fi1", "fi2")
