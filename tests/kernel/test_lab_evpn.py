"""The seed's EVPN example, routed for real: three lab nodes, each with its own FRR started by
its agent, BGP EVPN between them, guests in two vnets on different nodes.

The configuration is the seed's ("EVPN Setup Example"), created with ``sdn pvesh``: controller
ASN 65000 with the three nodes as peers; zone with vrf-vxlan 10000, MTU 1450, the zone MAC, exit
nodes node1 and node2; vnets 11000 and 12000 with 10.0.1.0/24 and 10.0.2.0/24, gateways .1.
(The zone is ``evpnzone``: PVE's zone IDs have at most 8 characters, ``myevpnzone`` is refused.)

Marked ``uml``: EVPN zones route in a VRF, which this host's kernel lacks; ``make test-uml`` runs
the module inside User-Mode-Linux. One lab for the module; the tests only read it, except the
last, which adds (and removes) the reverse route the seed asks for on the outside host.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.uml, pytest.mark.services, pytest.mark.slow]

PEERS = "192.0.2.1,192.0.2.2,192.0.2.3"
# name, node, vnet, address, gateway
GUESTS = (
    ("vm1", "node1", "myvnet1", "10.0.1.100", "10.0.1.1"),
    ("vm2", "node2", "myvnet2", "10.0.2.100", "10.0.2.1"),
    ("vm3", "node2", "myvnet1", "10.0.1.101", "10.0.1.1"),
    ("vm4", "node3", "myvnet2", "10.0.2.101", "10.0.2.1"),
)
CONVERGE = 60.0  # BGP EVPN in UML takes several seconds on its one CPU


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def eventually(check, what: str, timeout: float = CONVERGE):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached after {timeout:g} s")
        time.sleep(0.5)


def vtysh(lab, member: str, command: str) -> str:
    d = str(Path(os.environ["SDN_LAB_DIR"]) / lab.name / member / "frr")
    return lab.run(member, "vtysh", "--vty_socket", d, "--config_dir", d, "-c", command).stdout


def pvesh(lab, *argv: str) -> None:
    rc, out = lab.sdn("pvesh", *argv)
    assert rc == 0, out


@pytest.fixture(scope="module")
def evpn(make_lab):
    from sdnkit.lab.probe import missing

    if shutil.which("vtysh") is None or not Path("/usr/lib/frr/zebra").exists():
        unavailable("FRR is not installed (apt install frr frr-pythontools)")
    if refused := missing(["vrf"]).get("vrf"):
        unavailable(f"this kernel has no VRF ({refused}); run it inside UML (make test-uml)")
    lab = make_lab(nodes=3)
    pvesh(lab, "create", "/cluster/sdn/controllers", "-controller", "myevpnctl", "-type", "evpn",
          "-asn", "65000", "-peers", PEERS)  # fmt: skip
    pvesh(lab, "create", "/cluster/sdn/zones", "-zone", "evpnzone", "-type", "evpn", "-controller",
          "myevpnctl", "-vrf-vxlan", "10000", "-mtu", "1450", "-mac", "32:F4:05:FE:6C:0A",
          "-exitnodes", "node1,node2")  # fmt: skip
    for vnet, tag, net in (("myvnet1", "11000", "10.0.1"), ("myvnet2", "12000", "10.0.2")):
        pvesh(lab, "create", "/cluster/sdn/vnets", "-vnet", vnet, "-zone", "evpnzone", "-tag", tag)
        pvesh(lab, "create", f"/cluster/sdn/vnets/{vnet}/subnets", "-subnet", f"{net}.0/24",
              "-type", "subnet", "-gateway", f"{net}.1")  # fmt: skip
    pvesh(lab, "set", "/cluster/sdn")
    rc, out = lab.sdn("--output", "json", "lab", "apply", "--name", lab.name)
    assert rc == 0, out
    for name, node, vnet, ip, gw in GUESTS:
        lab.guest(name, node=node, vnet=vnet, ip=f"{ip}/24", gw=gw, mtu=1450)
    return lab


def evpn_peers(lab, node: str) -> dict[str, str]:
    out = vtysh(lab, node, "show bgp l2vpn evpn summary json")
    peers = json.loads(out or "{}").get("peers", {})
    return {ip: p.get("state") for ip, p in peers.items()}


def test_every_node_has_its_two_evpn_sessions_established(evpn):
    nodes = {"node1": "192.0.2.1", "node2": "192.0.2.2", "node3": "192.0.2.3"}
    for node, own in nodes.items():
        others = {ip: "Established" for ip in nodes.values() if ip != own}
        eventually(lambda node=node, others=others: evpn_peers(evpn, node) == others, f"{node}'s EVPN peers")


def test_every_guest_pings_its_anycast_gateway_on_its_own_node(evpn):
    for name, _, _, _, gw in GUESTS:
        assert eventually(lambda name=name, gw=gw: evpn.ping(name, gw), f"{name} -> {gw}")


def test_guests_in_the_same_vnet_on_different_nodes_ping(evpn):
    assert eventually(lambda: evpn.ping("vm1", "10.0.1.101"), "vm1 -> vm3 (myvnet1, node1 -> node2)")
    assert eventually(lambda: evpn.ping("vm4", "10.0.2.100"), "vm4 -> vm2 (myvnet2, node3 -> node2)")


def test_guests_in_different_vnets_are_routed_through_the_l3vni(evpn):
    assert eventually(lambda: evpn.ping("vm1", "10.0.2.101"), "vm1 -> vm4 (node1 -> node3)")
    assert eventually(lambda: evpn.ping("vm2", "10.0.1.100"), "vm2 -> vm1 (node2 -> node1)")
    # the route to a guest on node3 is a host route learned over EVPN, through the zone's L3 VNI
    routes = json.loads(evpn.run("node1", "ip", "-j", "route", "show", "vrf", "vrf_evpnzone").stdout)
    host = {r["dst"]: r for r in routes}.get("10.0.2.101")
    assert host is not None and host["dev"] == "vrfbr_evpnzone" and host["gateway"] == "192.0.2.3"


def test_the_outside_host_is_reached_through_an_exit_node_once_it_routes_back(evpn):
    assert eventually(lambda: evpn.ping("vm4", "10.0.1.100"), "vm4 -> vm1: the zone routes")
    # as the seed says: without reverse routes on the external gateway, nothing comes back
    assert not evpn.ping("vm4", "192.0.2.254")
    evpn.run("outside", "ip", "route", "add", "10.0.0.0/16", "via", "192.0.2.1")
    try:
        assert eventually(lambda: evpn.ping("vm4", "192.0.2.254"), "vm4 (node3) -> outside")
        assert eventually(lambda: evpn.ping("vm1", "192.0.2.254"), "vm1 (node1, an exit node) -> outside")
    finally:
        evpn.run("outside", "ip", "route", "del", "10.0.0.0/16", check=False)
