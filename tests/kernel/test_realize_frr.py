"""FRR realized for real: two nodes in namespaces run zebra and bgpd (one private directory each),
``apply_frr`` writes frr.conf and reloads them with frr-reload.py, and L2 EVPN comes up on the
VXLAN devices ``apply_plan`` made: zebra installs the remote VTEP's flood entry in the kernel.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from sdnkit.errors import RealizeError
from sdnkit.plan.desired import Bridge, NodePlan, Vxlan
from sdnkit.realize import apply_plan
from sdnkit.realize.frr import FrrInstance, apply_frr

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.services,
    pytest.mark.needs("root", "/usr/lib/frr/zebra", "/usr/lib/frr/bgpd", "vtysh"),
]

_COUNTER = itertools.count()
DAEMONS = ("zebra", "bgpd")


def frr_conf(i: int, peer: int, extra: str = "") -> str:
    return f"""frr defaults datacenter
hostname node{i}
log file {{dir}}/frr.log
!
router bgp 65000
 bgp router-id 192.0.2.{i}
 no bgp default ipv4-unicast
 neighbor 192.0.2.{peer} remote-as 65000
 neighbor 192.0.2.{peer} timers connect 2
 !
 address-family l2vpn evpn
  neighbor 192.0.2.{peer} activate
  advertise-all-vni
 exit-address-family
exit
{extra}!
"""


@dataclass
class Node:
    ns: str
    dir: Path
    index: int

    @property
    def frr(self) -> FrrInstance:
        return FrrInstance(confdir=self.dir, rundir=self.dir, vty_socket=self.dir)

    def vtysh(self, command: str) -> str:
        argv = ["vtysh", "--vty_socket", str(self.dir), "--config_dir", str(self.dir), "-c", command]
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout

    def flood(self) -> set[str]:
        argv = ["bridge", "-n", self.ns, "-j", "fdb", "show"]
        out = subprocess.run(argv, check=False, capture_output=True, text=True)
        return {e["dst"] for e in json.loads(out.stdout or "[]") if e["mac"] == "00:00:00:00:00:00"}


def l2_plan(i: int) -> NodePlan:
    vx = Vxlan(name="vxlan_vnE", vni=100, local_ip=ipaddress.ip_address(f"192.0.2.{i}"), learning=False,
               arp_nd_suppress=True, mtu=1450)  # fmt: skip
    return NodePlan(
        node=f"node{i}", version=1, links=(Bridge(name="vnE", ports=("vxlan_vnE",), mtu=1450), vx)
    )


@pytest.fixture
def frr_dir() -> Iterator[Path]:
    """A directory the frr user can reach (pytest's tmp_path sits below a root-only 0700 folder)."""
    path = Path(tempfile.mkdtemp(prefix="sdnkit-frr-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def nodes(frr_dir: Path) -> Iterator[tuple[Node, Node]]:
    base = f"rf{os.getpid() % 100000}n{next(_COUNTER)}"
    made = (
        Node(ns=f"{base}-1", dir=frr_dir / "node1", index=1),
        Node(ns=f"{base}-2", dir=frr_dir / "node2", index=2),
    )
    try:
        for node in made:
            subprocess.run(["ip", "netns", "add", node.ns], check=True)
        argv = ["ip", "-n", made[0].ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0"]
        subprocess.run([*argv, "netns", made[1].ns], check=True)
        for node in made:
            _start_node(node)
        yield made
    finally:
        for node in made:
            for daemon in reversed(DAEMONS):
                pid = node.dir / f"{daemon}.pid"
                if pid.exists():
                    subprocess.run(["kill", pid.read_text().strip()], check=False)
            subprocess.run(["ip", "netns", "del", node.ns], check=False, capture_output=True)


def _start_node(node: Node) -> None:
    """The node's underlay address, then zebra and bgpd with empty configurations in its folder."""
    frr = pwd.getpwnam("frr")
    subprocess.run(
        ["ip", "-n", node.ns, "address", "add", f"192.0.2.{node.index}/24", "dev", "eth0"], check=True
    )
    subprocess.run(["ip", "-n", node.ns, "link", "set", "eth0", "up"], check=True)
    subprocess.run(["ip", "-n", node.ns, "link", "set", "lo", "up"], check=True)
    d = node.dir
    d.mkdir()
    for daemon in DAEMONS:
        (d / f"{daemon}.conf").write_text(f"hostname node{node.index}\n")
    for path in (d, *d.iterdir()):
        os.chown(path, frr.pw_uid, frr.pw_gid)
    for daemon in DAEMONS:
        argv = [f"/usr/lib/frr/{daemon}", "-d", "-P", "0", "-f", str(d / f"{daemon}.conf"), "-i",
                str(d / f"{daemon}.pid"), "-z", str(d / "zserv.api"), "--vty_socket", str(d)]  # fmt: skip
        subprocess.run(["ip", "netns", "exec", node.ns, *argv], check=True, capture_output=True)
    _wait(lambda: all((d / f"{daemon}.vty").exists() for daemon in DAEMONS), "FRR vty sockets")


def _wait(ready: object, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not ready after {timeout:g} s")
        time.sleep(0.1)


def test_frr_is_reloaded_only_on_change_and_evpn_comes_up(nodes: tuple[Node, Node], tmp_path: Path) -> None:
    for node, peer in ((nodes[0], 2), (nodes[1], 1)):
        # FRR first: its "ip forwarding" rewrites every link's forwarding, which the plan then sets
        assert apply_frr(frr_conf(node.index, peer).replace("{dir}", str(node.dir)), node.frr)
        apply_plan(l2_plan(node.index), netns=node.ns, state_dir=tmp_path / f"realize{node.index}")

    n1, n2 = nodes
    _wait(lambda: n1.flood() == {"192.0.2.2"} and n2.flood() == {"192.0.2.1"}, "EVPN flood entries")
    assert "advertise-all-vni" in n1.vtysh("show running-config")

    # zebra's flood entries are not ours: an apply of the same plan leaves them
    assert apply_plan(l2_plan(1), netns=n1.ns, state_dir=tmp_path / "realize1").changes == ()
    assert n1.flood() == {"192.0.2.2"}

    # the same configuration again: no reload
    stamp = (n1.dir / "frr.conf").stat().st_mtime_ns
    assert not apply_frr(frr_conf(1, 2).replace("{dir}", str(n1.dir)), n1.frr)
    assert (n1.dir / "frr.conf").stat().st_mtime_ns == stamp


def test_a_configuration_frr_refuses_leaves_the_previous_one_running(nodes: tuple[Node, Node]) -> None:
    n1 = nodes[0]
    good = frr_conf(1, 2).replace("{dir}", str(n1.dir))
    assert apply_frr(good, n1.frr)

    with pytest.raises(RealizeError) as err:
        apply_frr(good + "router bgp 65000\n no-such-command here\nexit\n", n1.frr)
    assert err.value.obj == "frr"
    assert (n1.dir / "frr.conf").read_text() == good
    assert "neighbor 192.0.2.2 remote-as 65000" in n1.vtysh("show running-config")


def test_apply_plan_writes_the_planned_frr_configuration(nodes: tuple[Node, Node], frr_dir: Path) -> None:
    """A planned EVPN zone: its FRR part goes through apply_plan(frr=...), its L2 part comes up."""
    from sdnkit.config.running import RunningConfig
    from sdnkit.plan.factsfile import build_facts
    from sdnkit.plan.interfaces_file import parse_interfaces
    from sdnkit.plan.planner import plan_node

    running = RunningConfig.from_json({
        "version": 1,
        "zones": {"ids": {"ze": {"type": "evpn", "controller": "ctl", "vrf-vxlan": 10000}}},
        "vnets": {"ids": {"vnE": {"type": "vnet", "zone": "ze", "tag": 100}}},
        "controllers": {"ids": {"ctl": {"type": "evpn", "asn": 65000, "peers": "192.0.2.1,192.0.2.2"}}},
    })  # fmt: skip
    for node in nodes:
        host = f"auto eth0\niface eth0 inet static\n\taddress 192.0.2.{node.index}/24\n"
        facts = build_facts(
            {"node": f"node{node.index}", "underlay_iface": "eth0"}, parse_interfaces(host), None
        )
        planned = plan_node(running, facts)
        assert planned.frr is not None
        # this kernel has no VRF: keep the plan's FRR part, realize only the zone's L2 part
        plan = replace(planned, links=l2_plan(node.index).links)
        state = frr_dir / f"realize{node.index}"
        result = apply_plan(plan, netns=node.ns, state_dir=state, frr=node.frr)
        assert result.frr_changed and result.changes
        assert not apply_plan(plan, netns=node.ns, state_dir=state, frr=node.frr).changed

    n1, n2 = nodes
    assert "advertise-all-vni" in n1.vtysh("show running-config")
    _wait(lambda: n1.flood() == {"192.0.2.2"} and n2.flood() == {"192.0.2.1"}, "EVPN flood entries")
