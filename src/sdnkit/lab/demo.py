"""``sdn demo`` (``make run``): the seed's examples on a 3-node lab, and who reaches whom.

The examples, as the seed states them, with these adaptations: IDs are cut to PVE's 8-character
limit (``myvlanzone`` -> ``vlanzone``, ``myevpnzone`` -> ``evpnzone``), and the guests of different
examples get different addresses (QinQ 10.0.4.x, VXLAN 10.0.5.x), so that a reply in the matrix
can only come from the guest it names. The EVPN example's vnets are ``evpnv1``/``evpnv2`` with
10.0.11.0/24 and 10.0.12.0/24 (the seed's ``myvnet1``/``myvnet2`` with 10.0.1.0/24 and
10.0.2.0/24 are taken by the VLAN and simple examples); everything else is the seed's, and the
outside host gets the reverse routes the seed asks the external gateway for (via node1, an exit
node). The node addresses are the lab's 192.0.2.x instead of the seed's 192.168.0.x.

The lab runs on this kernel when it has 802.1Q, 802.1ad, VLAN filtering and VRF, and inside
User-Mode-Linux otherwise (``--kernel auto``). It stays up afterwards for exploring.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from sdnkit.errors import ConfigError, RealizeError
from sdnkit.lab.pingmatrix import Probe
from sdnkit.lab.state import Kernel, LabState
from sdnkit.lab.topology import outside_address
from sdnkit.store import is_etcd_url

DEMO_MARKER = ".sdnkit-demo"
PEERS = "192.0.2.1,192.0.2.2,192.0.2.3"
EVPN_ZONE = "evpnzone"

# (collection, parameters): the seed's examples, in its order
EXAMPLES: tuple[tuple[str, str, tuple[tuple[str, dict[str, Any]], ...]], ...] = (
    ("Simple zone", "two guests on one node talk over vnet1 (10.0.1.0/24, gateway and SNAT)", (
        ("zones", {"zone": "simple", "type": "simple"}),
        ("vnets", {"vnet": "vnet1", "zone": "simple"}),
        ("subnets", {"vnet": "vnet1", "subnet": "10.0.1.0/24", "gateway": "10.0.1.1", "snat": 1}),
    )),
    ("Source NAT", "subnet 172.16.0.0/24 on vnet1; the node is the guests' NAT gateway", (
        ("subnets", {"vnet": "vnet1", "subnet": "172.16.0.0/24", "gateway": "172.16.0.1", "snat": 1}),
    )),
    ("VLAN", "vnet myvnet1 with tag 10 on vmbr0: vm1 on node1 and vm2 on node2 ping", (
        ("zones", {"zone": "vlanzone", "type": "vlan", "bridge": "vmbr0"}),
        ("vnets", {"vnet": "myvnet1", "zone": "vlanzone", "tag": 10}),
    )),
    ("QinQ", "service VLANs 20 and 30, vnets with tag 100: same zone pings, other zone cannot", (
        ("zones", {"zone": "qinqz1", "type": "qinq", "bridge": "vmbr0", "tag": 20}),
        ("zones", {"zone": "qinqz2", "type": "qinq", "bridge": "vmbr0", "tag": 30}),
        ("vnets", {"vnet": "qinqv1", "zone": "qinqz1", "tag": 100}),
        ("vnets", {"vnet": "qinqv2", "zone": "qinqz2", "tag": 100}),
    )),
    ("VXLAN", "peers node1-3, tag 100000, MTU 1450: vm1 on node1 and vm2 on node3 ping", (
        ("zones", {"zone": "myvxzone", "type": "vxlan", "peers": PEERS}),
        ("vnets", {"vnet": "vxvnet1", "zone": "myvxzone", "tag": 100000}),
    )),
    ("EVPN", "controller ASN 65000, exit nodes node1,node2; vnets 11000 and 12000 routed by BGP EVPN", (
        ("controllers", {"controller": "myevpnctl", "type": "evpn", "asn": 65000, "peers": PEERS}),
        ("zones", {"zone": EVPN_ZONE, "type": "evpn", "controller": "myevpnctl", "vrf-vxlan": 10000,
                   "mtu": 1450, "mac": "32:F4:05:FE:6C:0A", "exitnodes": "node1,node2"}),
        ("vnets", {"vnet": "evpnv1", "zone": EVPN_ZONE, "tag": 11000}),
        ("subnets", {"vnet": "evpnv1", "subnet": "10.0.11.0/24", "gateway": "10.0.11.1"}),
        ("vnets", {"vnet": "evpnv2", "zone": EVPN_ZONE, "tag": 12000}),
        ("subnets", {"vnet": "evpnv2", "subnet": "10.0.12.0/24", "gateway": "10.0.12.1"}),
    )),
)  # fmt: skip
# the seed: "add reverse routes for the 10.0.1.0/24 and 10.0.2.0/24 networks to node1 and node2
# on your external gateway" (here the EVPN example's subnets, via node1)
OUTSIDE_ROUTES = (("10.0.11.0/24", "192.0.2.1"), ("10.0.12.0/24", "192.0.2.1"))
CONVERGE_TIMEOUT = 180.0  # BGP EVPN in UML: sessions, routes, host routes of every guest


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoGuest:
    name: str
    node: str
    vnet: str
    ip: str
    gw: str | None = None
    mtu: int | None = None
    snat: bool = False  # its subnet has SNAT: it reaches `outside`
    routed: str | None = None  # its zone routes between its vnets (EVPN) and `outside` routes back

    @property
    def address(self) -> str:
        return self.ip.split("/")[0]


GUESTS = (
    DemoGuest(name="s1", node="node1", vnet="vnet1", ip="10.0.1.14/24", gw="10.0.1.1", snat=True),
    DemoGuest(name="s2", node="node1", vnet="vnet1", ip="10.0.1.15/24", gw="10.0.1.1", snat=True),
    DemoGuest(name="n1", node="node1", vnet="vnet1", ip="172.16.0.10/24", gw="172.16.0.1", snat=True),
    DemoGuest(name="v1", node="node1", vnet="myvnet1", ip="10.0.3.100/24"),
    DemoGuest(name="v2", node="node2", vnet="myvnet1", ip="10.0.3.101/24"),
    DemoGuest(name="q1", node="node1", vnet="qinqv1", ip="10.0.4.101/24"),
    DemoGuest(name="q2", node="node2", vnet="qinqv1", ip="10.0.4.102/24"),
    DemoGuest(name="q3", node="node1", vnet="qinqv2", ip="10.0.4.103/24"),
    DemoGuest(name="q4", node="node2", vnet="qinqv2", ip="10.0.4.104/24"),
    DemoGuest(name="x1", node="node1", vnet="vxvnet1", ip="10.0.5.100/24", mtu=1450),
    DemoGuest(name="x2", node="node3", vnet="vxvnet1", ip="10.0.5.101/24", mtu=1450),
    # the seed's vm1 (node1, first vnet) and vm2 (node2, second vnet), and one more per vnet
    DemoGuest(name="e1", node="node1", vnet="evpnv1", ip="10.0.11.100/24", gw="10.0.11.1", mtu=1450,
              routed=EVPN_ZONE),
    DemoGuest(name="e2", node="node2", vnet="evpnv1", ip="10.0.11.101/24", gw="10.0.11.1", mtu=1450,
              routed=EVPN_ZONE),
    DemoGuest(name="e3", node="node3", vnet="evpnv2", ip="10.0.12.100/24", gw="10.0.12.1", mtu=1450,
              routed=EVPN_ZONE),
    DemoGuest(name="e4", node="node2", vnet="evpnv2", ip="10.0.12.101/24", gw="10.0.12.1", mtu=1450,
              routed=EVPN_ZONE),
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    src: str
    column: str  # a guest name, "gw" or "out", or a label of an extra check
    probe: Probe
    expected: bool


def reaches(src: DemoGuest, dst: DemoGuest) -> bool:
    """What the seed says: a vnet is one network; an EVPN zone routes between its vnets; zones
    are apart (EVPN exit nodes drop traffic to the other zones' subnets)."""
    return dst.vnet == src.vnet or (src.routed is not None and src.routed == dst.routed)


def checks() -> list[Check]:
    """Every guest to every other guest, its gateway and ``outside``; plus the VXLAN MTU limits."""
    out = []
    for src in GUESTS:
        for dst in GUESTS:
            if dst is not src:
                out.append(Check(src=src.name, column=dst.name, probe=Probe(src=src.name, dst=dst.address),
                                 expected=reaches(src, dst)))  # fmt: skip
        if src.gw:
            out.append(Check(src=src.name, column="gw", probe=Probe(src=src.name, dst=src.gw), expected=True))
        out.append(Check(src=src.name, column="out", probe=Probe(src=src.name, dst=outside_address()),
                         expected=src.snat or src.routed is not None))  # fmt: skip
    for size, ok in ((1422, True), (1423, False)):
        probe = Probe(src="x1", dst="10.0.5.101", size=size, df=True)
        out.append(Check(src="x1", column=f"{size} bytes, don't fragment", probe=probe, expected=ok))
    return out


# --- the matrix -------------------------------------------------------------------------------

LEGEND = (
    "+ reaches (expected)   . no reply (expected)   X+ reaches but should not   X. should reach but does not"
)


def cell(expected: bool, seen: bool) -> str:
    if expected == seen:
        return "+" if seen else "."
    return "X+" if seen else "X."


def render(results: Sequence[tuple[Check, bool]], out: TextIO) -> int:
    """Print the matrix; the number of unexpected results."""
    columns = [g.name for g in GUESTS] + ["gw", "out"]
    seen = {(c.src, c.column): cell(c.expected, ok) for c, ok in results}
    head = f"{'from':<4} {'node':<6} {'vnet':<8} {'address':<15} " + " ".join(f"{c:>3}" for c in columns)
    out.write(head + "\n")
    for g in GUESTS:
        cells = " ".join(f"{seen.get((g.name, c), '' if c != g.name else '-'):>3}" for c in columns)
        out.write(f"{g.name:<4} {g.node:<6} {g.vnet:<8} {g.address:<15} {cells}\n")
    for c, ok in results:
        if c.column not in columns:
            out.write(f"{c.src} -> {c.probe.dst}, {c.column}: {cell(c.expected, ok)}\n")
    out.write(LEGEND + "\n")
    return sum(1 for c, ok in results if c.expected != ok)


# --- running it -------------------------------------------------------------------------------


def prepare_store(path: Path) -> None:
    """A fresh demo store; refuse to wipe a directory the demo did not make."""
    if path.exists() and any(path.iterdir()):
        if not (path / DEMO_MARKER).exists():
            raise ConfigError(f"demo store {path}: exists and is not a demo store; pick another with --store")
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / DEMO_MARKER).write_text("made by sdn demo; removed by the next sdn demo\n")


def choose_kernel(wanted: str, say: Callable[[str], None]) -> Kernel:
    if wanted != "auto":
        return Kernel(wanted)
    from sdnkit.lab.probe import missing

    lacking = missing(["vlan", "qinq", "vlan_filtering", "vrf"])
    if not lacking:
        return Kernel.HOST
    say(f"this kernel lacks {', '.join(sorted(lacking))}: the lab runs inside User-Mode-Linux")
    return Kernel.UML


def run_probes(state: LabState, probes: Sequence[Probe]) -> list[bool]:
    from sdnkit.lab import pingmatrix

    if state.kernel is Kernel.HOST:
        return pingmatrix.run_probes(state.name, probes)
    from sdnkit.lab import umllab

    sink = io.StringIO()
    argv = [sys.executable, "-m", "sdnkit.lab.pingmatrix", "--name", state.name, pingmatrix.to_json(probes)]
    if umllab.run_inside(state, argv, out=sink) != 0:
        raise RealizeError(f"demo: the ping matrix failed inside UML: {sink.getvalue()}")
    return [bool(x) for x in json.loads(sink.getvalue())]


def settle(state: LabState, say: Callable[[str], None], timeout: float = CONVERGE_TIMEOUT) -> None:
    """Wait until BGP EVPN has converged: every routed guest reaches every guest of its zone (the
    sessions come up and the routes arrive seconds after the agents return). The matrix then
    shows the result, not the wait; it still runs when the wait times out, and shows what is off."""
    wanted = [c.probe for c in checks() if c.expected and c.column in {g.name for g in GUESTS}]
    wanted = [p for p in wanted if next(g for g in GUESTS if g.name == p.src).routed is not None]
    started = time.monotonic()
    while True:
        left = sum(1 for ok in run_probes(state, wanted) if not ok)
        if not left or time.monotonic() - started > timeout:
            break
        time.sleep(2.0)
    took = time.monotonic() - started
    if left:
        say(f"BGP EVPN: {left} paths still missing after {took:.0f} s")
    else:
        say(f"BGP EVPN converged ({took:.0f} s after the agents)")


def instructions(name: str, store: str, kernel: Kernel) -> str:
    sdn = (
        "sdn"
        if shutil.which("sdn")
        and os.path.dirname(shutil.which("sdn") or "") in os.environ.get("PATH", "").split(":")
        else ".venv/bin/sdn"
    )
    where = "inside User-Mode-Linux" if kernel is Kernel.UML else "in network namespaces on this machine"
    point = f'eval "$({sdn} lab env --name {name})"' if is_etcd_url(store) else f"export SDN_STORE={store}"
    etcd = (
        f"\n  {sdn} lab etcd status --name {name}            # the etcd members, the leader"
        if is_etcd_url(store)
        else ""
    )
    return f"""
The lab "{name}" stays up ({where}). Explore it:
  {point}
  {sdn} lab status --name {name}                 # nodes, guests, addresses{etcd}
  {sdn} status                                   # what each node's agent applied
  {sdn} zone list; {sdn} vnet list; {sdn} subnet list
  {sdn} lab exec --name {name} v1 -- ping -c1 10.0.3.101
  {sdn} lab exec --name {name} node1 -- ip -d link show
  {sdn} lab exec --name {name} node1 -- vtysh -c 'show bgp l2vpn evpn summary'
  {sdn} lab exec --name {name} e1 -- ping -c1 10.0.12.100        # EVPN: node1 -> node3, routed
  {sdn} vnet create vnet9 --zone myvxzone --tag 100009 && {sdn} apply && {sdn} lab apply --name {name}
Tear it down:
  {sdn} lab down --name {name}
"""
