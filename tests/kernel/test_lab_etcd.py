"""``sdn lab up --etcd``: a lab whose store is its own etcd cluster on node1-3.

Real etcd members in the nodes' namespaces, real agents, and the real host link. What a user
relies on: ``eval "$(sdn lab env)"`` points every ``sdn`` command on the host at the lab's etcd
(the keys are read back with etcdctl, inside a node); the agents reach etcd over the underlay
(their connections, read with ``ss``) and realize what was applied (the bridges, read with
``ip -j``); a stopped member does not stop writes and catches up when started; an isolated node
loses etcd and catches up on reconnect; the host link changes nothing else on the host; and
``sdn lab down`` leaves nothing behind.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .conftest import cli, unique_name

pytestmark = [pytest.mark.kernel, pytest.mark.services, pytest.mark.needs("root", "etcd", "etcdctl", "curl")]

SDN = str(Path(sys.executable).with_name("sdn"))


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll until ``check()`` is truthy (convergence has a deadline; nothing here is timed)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.2)


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check, timeout=120)


@dataclass
class EtcdLabEnv:
    name: str
    guard: Path  # a directory store that must stay untouched: $SDN_STORE before the eval

    def sdn(self, *argv: str) -> tuple[int, str]:
        return cli("--store", self.url, *argv)

    def lab(self, *argv: str) -> Any:
        rc, out = cli("--output", "json", "lab", *argv, "--name", self.name)
        assert rc == 0, out
        return json.loads(out) if out.strip() else None

    @property
    def url(self) -> str:
        return str(self.env()["SDN_STORE"])

    def env(self) -> dict[str, str]:
        rc, out = cli("--output", "json", "lab", "env", "--name", self.name)
        assert rc == 0, out
        return dict(json.loads(out))

    def ns(self, member: str) -> str:
        return f"{self.name}-{member}"

    def shell(self, script: str) -> str:
        """``script`` in bash after ``eval "$(sdn lab env)"``, as a user types it."""
        lines = f'lines=$({SDN} lab env --name {self.name})\neval "$lines"\n{script}'
        env = {**os.environ, "SDN_STORE": str(self.guard)}  # where sdn would go without the eval
        argv = ["bash", "-ec", lines]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def link_names(self, node: str) -> set[str]:
        out = run("ip", "-n", self.ns(node), "-j", "link", "show").stdout
        return {lk["ifname"] for lk in json.loads(out)}

    def etcdctl(self, node: str, *argv: str) -> str:
        """etcdctl inside ``node``'s namespace, against its own member's underlay address."""
        index = int(node[4:])
        endpoint = f"http://192.0.2.{index}:2379"
        return run("ip", "netns", "exec", self.ns(node), "etcdctl", "--endpoints", endpoint, *argv).stdout

    def members(self) -> dict[str, dict[str, Any]]:
        return {row["node"]: row for row in self.lab("etcd", "status")}


def make_etcd_lab(nodes: int, tmp: Path) -> EtcdLabEnv:
    env = EtcdLabEnv(name=unique_name("le"), guard=tmp / "not-the-store")
    env.guard.mkdir()
    rc, out = cli("lab", "up", "--etcd", "--nodes", str(nodes), "--name", env.name)
    assert rc == 0, out
    return env


def take_down(env: EtcdLabEnv, lab_root: Path) -> None:
    if (lab_root / env.name / "state.json").exists():
        cli("lab", "down", "--name", env.name)


@pytest.fixture(scope="module")
def elab(lab_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdLabEnv]:
    env = make_etcd_lab(3, tmp_path_factory.mktemp("elab"))
    try:
        yield env
    finally:
        take_down(env, lab_root)


@pytest.fixture(scope="module")
def vxzone(elab: EtcdLabEnv) -> str:
    """A VXLAN zone over node1-3, applied (created through the host's view of the lab's etcd)."""
    from sdnkit.service import SdnService

    svc = SdnService(elab.url)
    svc.create("zones", {"zone": "lez", "type": "vxlan", "peers": "192.0.2.1,192.0.2.2,192.0.2.3"})
    svc.apply({})
    return "lez"


# --- the store --------------------------------------------------------------------------------


def test_env_points_sdn_at_the_labs_etcd(elab: EtcdLabEnv) -> None:
    env = elab.env()
    assert env["SDN_LAB"] == elab.name
    assert env["SDN_STORE"].startswith("etcd://") and env["SDN_STORE"].endswith(f"/sdnkit/{elab.name}/")
    out = elab.shell(
        "sdn() { " + SDN + ' "$@"; }\n'
        "sdn zone create lee --type vxlan --peers 192.0.2.1,192.0.2.2,192.0.2.3\n"
        "sdn vnet create lev1 --zone lee --tag 4001\n"
        "sdn apply\n"
        "sdn -o json vnet list\n"
    )
    assert "lev1" in out
    # in the lab's etcd, under the lab's prefix, read by etcd's own client inside node2 ...
    value = elab.etcdctl("node2", "get", "--print-value-only", f"/sdnkit/{elab.name}/doc/vnets.cfg")
    assert "vnet: lev1" in value and "zone lee" in value
    # ... and not in the directory sdn would have used without the eval
    assert list(elab.guard.iterdir()) == []


def test_fewer_nodes_get_one_member_and_labs_get_their_own_subnets(
    elab: EtcdLabEnv, lab_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = make_etcd_lab(1, tmp_path)
    try:
        assert sorted(other.members()) == ["node1"]
        assert other.members()["node1"]["state"] == "leader"  # a cluster of one
        ours, theirs = (ipaddress.ip_network(e.lab("status")["hostlink"]["address"], strict=False)
                        for e in (elab, other))  # fmt: skip
        assert not ours.overlaps(theirs)
        assert elab.sdn("zone", "list")[0] == 0 and other.sdn("zone", "list")[0] == 0  # both reachable
        rc, _ = cli("lab", "etcd", "stop", "node2", "--name", other.name)
        assert rc != 0 and 'node "node2" runs no etcd member' in capsys.readouterr().err
    finally:
        take_down(other, lab_root)


# --- the agents over the underlay -------------------------------------------------------------


def agent_peers(env: EtcdLabEnv, node: str, pid: int) -> set[str]:
    """The addresses ``pid`` (in ``node``'s namespace) holds etcd connections to."""
    out = run("ip", "netns", "exec", env.ns(node), "ss", "-Htnp", "state", "established",
              "( dport = :2379 )").stdout  # fmt: skip
    return {line.split()[3].rsplit(":", 1)[0] for line in out.splitlines() if f"pid={pid}," in line}


@pytest.fixture(scope="module")
def agents(elab: EtcdLabEnv) -> Iterator[dict[str, int]]:
    rc, out = elab.sdn("--output", "json", "lab", "agents", "start", "--name", elab.name)
    assert rc == 0, out
    try:
        yield {row["node"]: row["pid"] for row in json.loads(out)}
    finally:
        cli("lab", "agents", "stop", "--name", elab.name)


def test_agents_realize_over_the_underlay(elab: EtcdLabEnv, vxzone: str, agents: dict[str, int]) -> None:
    elab.shell(f"{SDN} vnet create leu1 --zone {vxzone} --tag 4101\n{SDN} apply\n")
    for node in ("node1", "node2", "node3"):
        wait_for(lambda n=node: "leu1" in elab.link_names(n), f"vnet leu1 on {node}")
        peers = wait_for(lambda n=node: agent_peers(elab, n, agents[n]), f"{node}'s agent connected to etcd")
        # every etcd connection of the agent goes to a member's underlay address
        assert {ipaddress.ip_address(p) in ipaddress.ip_network("192.0.2.0/24") for p in peers} == {True}
    status = {r["node"]: r for r in json.loads(elab.sdn("-o", "json", "status")[1])}
    assert {n: r["vnets"]["leu1"]["status"] for n, r in status.items()} == dict.fromkeys(agents, "available")
    # and it carries guests: node1 to node3 over the VXLAN zone
    for guest, node, ip in (("lg1", "node1", "10.0.7.1/24"), ("lg3", "node3", "10.0.7.3/24")):
        rc, out = elab.sdn("lab", "guest", "add", guest, "--node", node, "--vnet", "leu1", "--ip", ip,
                           "--name", elab.name)  # fmt: skip
        assert rc == 0, out
    ping = ("ip", "netns", "exec", f"{elab.name}-g-lg1", "ping", "-c1", "-w5")
    assert run(*ping, "10.0.7.3", check=False).returncode == 0
    assert run(*ping, "10.0.7.9", check=False).returncode != 0  # no such guest: the ping can fail


def test_a_write_succeeds_with_a_member_stopped_and_it_catches_up(elab: EtcdLabEnv, vxzone: str) -> None:
    elab.lab("etcd", "stop", "node2")
    try:
        members = elab.members()
        assert members["node2"]["state"] == "stopped" and members["node2"]["pid"] is None
        assert {members["node1"]["state"], members["node3"]["state"]} <= {"leader", "follower"}
        rc, out = elab.sdn("vnet", "create", "lew2", "--zone", vxzone, "--tag", "4002")
        assert rc == 0, out
    finally:
        elab.lab("etcd", "start", "node2")
    assert elab.members()["node2"]["state"] in ("leader", "follower")
    # node2's own copy (a serializable read answers from the member's local data) has the write
    key = f"/sdnkit/{elab.name}/doc/vnets.cfg"
    assert "vnet: lew2" in elab.etcdctl("node2", "get", "--consistency=s", "--print-value-only", key)


def test_an_isolated_node_loses_etcd_and_catches_up_on_reconnect(
    elab: EtcdLabEnv, vxzone: str, agents: dict[str, int]
) -> None:
    health = "http://192.0.2.1:2379/health"
    curl = ("curl", "-sf", "-m", "2", health)
    assert run("ip", "netns", "exec", elab.ns("node3"), *curl, check=False).returncode == 0
    elab.lab("node", "isolate", "node3")
    try:
        assert run("ip", "netns", "exec", elab.ns("node3"), *curl, check=False).returncode != 0
        assert run("ip", "netns", "exec", elab.ns("node2"), *curl, check=False).returncode == 0
        assert elab.members()["node3"]["state"] == "unreachable"
        assert {m["name"]: m["isolated"] for m in elab.lab("status")["members"] if m["role"] == "node"} == {
            "node1": False, "node2": False, "node3": True}  # fmt: skip
        elab.shell(f"{SDN} vnet create leu3 --zone {vxzone} --tag 4103\n{SDN} apply\n")
        wait_for(lambda: "leu3" in elab.link_names("node1"), "vnet leu3 on node1")
    finally:
        elab.lab("node", "reconnect", "node3")
    # back on the switch, node3 resolves its peers again (its failed ARP entries age out first)
    wait_for(lambda: run("ip", "netns", "exec", elab.ns("node3"), *curl, check=False).returncode == 0,
             "node3 reaching node1's member again")  # fmt: skip
    wait_for(lambda: "leu3" in elab.link_names("node3"), "vnet leu3 on node3 after reconnect")
    wait_for(lambda: elab.members()["node3"]["state"] in ("leader", "follower"), "node3's member back")
    assert elab.lab("status")["members"][2]["agent"] == agents["node3"]  # the same agent, still running


@pytest.mark.needs("busybox", "dnsmasq")
def test_a_dhcp_guest_gets_its_address_from_the_ipam_on_etcd(
    elab: EtcdLabEnv, agents: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    elab.shell(
        f"{SDN} zone create led --type simple --ipam pve --dhcp dnsmasq\n{SDN} vnet create ledv --zone led\n"
        f"{SDN} subnet create ledv 10.0.6.0/24 --gateway 10.0.6.1 "
        "--dhcp-range start-address=10.0.6.100,end-address=10.0.6.150\n"
        f"{SDN} apply\n"
    )
    wait_for(lambda: "ledv" in elab.link_names("node2"), "vnet ledv on node2")
    # the zone's DHCP server is started by the agent: the guest retries until it answers
    wait_for(lambda: elab.sdn("lab", "guest", "add", "ld1", "--node", "node2", "--vnet", "ledv", "--dhcp",
                              "--name", elab.name)[0] == 0, "a DHCP lease for ld1")  # fmt: skip
    capsys.readouterr()
    assert elab.sdn("lab", "exec", "--name", elab.name, "ld1", "--", "ping", "-c1", "-w2", "10.0.6.1")[0] == 0
    out = elab.etcdctl("node1", "get", "--prefix", "--keys-only", f"/sdnkit/{elab.name}/doc/ipam/led/")
    assert "10.0.6.100" in out  # the address is the IPAM's, in etcd
    assert elab.sdn("lab", "guest", "del", "ld1", "--name", elab.name)[0] == 0
    out = elab.etcdctl("node1", "get", "--prefix", "--keys-only", f"/sdnkit/{elab.name}/doc/ipam/led/")
    assert "10.0.6.100" not in out  # given back


# --- the host ---------------------------------------------------------------------------------


def host_routes() -> list[str]:
    out = run("ip", "-j", "route", "show", "table", "all").stdout
    return sorted(json.dumps(r, sort_keys=True) for r in json.loads(out))


def host_sysctls() -> dict[str, str]:
    names = ("ipv4/ip_forward", "ipv4/conf/all/forwarding", "ipv4/conf/default/forwarding",
             "ipv6/conf/all/forwarding", "ipv4/conf/all/arp_ignore", "ipv4/conf/all/rp_filter")  # fmt: skip
    return {n: Path("/proc/sys/net", n).read_text().strip() for n in names}


def host_address() -> str:
    """This host's own address towards the world (or its first global one)."""
    done = run("ip", "-j", "route", "get", "1.1.1.1", check=False)
    if done.returncode == 0 and json.loads(done.stdout)[0].get("prefsrc"):
        return str(json.loads(done.stdout)[0]["prefsrc"])
    for link in json.loads(run("ip", "-j", "-4", "addr", "show", "scope", "global").stdout):
        for info in link.get("addr_info", ()):
            return str(info["local"])
    pytest.skip("this host has no global IPv4 address to check ARP with")


def neighbour_mac(env: EtcdLabEnv, node: str, address: str) -> str | None:
    out = run("ip", "-n", env.ns(node), "-j", "neigh", "show", address).stdout
    entries = json.loads(out or "[]")
    return entries[0].get("lladdr") if entries else None


def test_the_host_link_changes_nothing_else_on_the_host(lab_root: Path, tmp_path: Path) -> None:
    routes, sysctls = host_routes(), host_sysctls()
    env = make_etcd_lab(3, tmp_path)
    try:
        link = env.lab("status")["hostlink"]
        ifname, own = link["ifname"], link["address"].split("/")[0]
        new = [json.loads(r) for r in set(host_routes()) - set(routes)]
        assert new and {r["dev"] for r in new} == {ifname}  # only the link's own routes
        assert set(routes) <= set(host_routes()) and host_sysctls() == sysctls
        assert Path(f"/proc/sys/net/ipv4/conf/{ifname}/forwarding").read_text().strip() == "0"
        _check_arp(env, ifname, own)
    finally:
        take_down(env, lab_root)
    assert host_routes() == routes and host_sysctls() == sysctls


def _check_arp(env: EtcdLabEnv, ifname: str, own: str) -> None:
    """Asked on the lab's switch, the host answers ARP for its link address only, never for its
    other addresses (one of which may be a lab node's 192.0.2.x, as on the machine this was
    written on)."""
    mac = json.loads(run("ip", "-j", "link", "show", "dev", ifname).stdout)[0]["address"]
    assert run("ip", "netns", "exec", env.ns("node1"), "ping", "-c1", "-w2", own, check=False).returncode == 0
    assert neighbour_mac(env, "node1", own) == mac
    theirs = host_address()
    owner = next((f"node{i}" for i in (1, 2, 3) if theirs == f"192.0.2.{i}"), None)
    asker = "node3" if owner == "node1" else "node1"
    if owner:
        env.lab("node", "isolate", owner)  # the lab node with the host's address stays quiet
    if ipaddress.ip_address(theirs) not in ipaddress.ip_network("192.0.2.0/24"):
        run("ip", "-n", env.ns(asker), "route", "add", f"{theirs}/32", "dev", "vmbr0")
    run("ip", "-n", env.ns(asker), "neigh", "flush", "dev", "vmbr0")  # ask again, now
    run("ip", "netns", "exec", env.ns(asker), "ping", "-c1", "-w2", theirs, check=False)
    assert neighbour_mac(env, asker, theirs) != mac


def test_lab_down_leaves_nothing(lab_root: Path, tmp_path: Path) -> None:
    env = make_etcd_lab(3, tmp_path)
    try:
        assert env.sdn("lab", "agents", "start", "--name", env.name)[0] == 0
        status = env.lab("status")
        pids = [m["agent"] for m in status["members"] if m.get("agent")]
        pids += [m["pid"] for m in env.members().values()]
        ifname = status["hostlink"]["ifname"]
        assert len(pids) == 6 and run("ip", "link", "show", "dev", ifname, check=False).returncode == 0
        # as if the command that started node1's member had crashed before recording its pid
        (lab_root / env.name / "node1" / "etcd" / "pid").unlink()
    finally:
        take_down(env, lab_root)
    assert not [ns for ns in run("ip", "netns", "list").stdout.split() if ns.startswith(f"{env.name}-")]
    assert run("ip", "link", "show", "dev", ifname, check=False).returncode != 0
    assert not (lab_root / env.name).exists()  # the members' data was in there
    lab_dir = str(lab_root / env.name).encode()
    for pid in pids:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        assert lab_dir not in cmdline and b"sdnkit.cli.main" not in cmdline, shlex.join(
            cmdline.decode(errors="replace").split("\0")
        )
