"""Fabrics for real: an OpenFabric and an OSPF fabric over three lab nodes, and the zones that
use them, each with its FRR started and loaded by the nodes' agents.

The nodes are chained by links of their own, one chain per fabric (node1 - node2 - node3; the
lab's shared switch would be one multi-access segment, and OpenFabric only runs point-to-point):
``o12``/``o21`` and ``o23``/``o32`` for OpenFabric ``of1`` (10.255.1.0/24), ``p12``... for OSPF
``os1`` (10.255.3.0/24, area 0). node1 and node3 have no link in common, so their routes go
through node2. Over the fabrics: a VXLAN zone each (``vxof``, ``vxos``), and an EVPN controller
(``evof``, peers = the OpenFabric's nodes) with a zone of two routed vnets.

Marked ``uml``: a fabric's loopback is a dummy device and EVPN routes in a VRF; this host's
kernel has neither. One lab for the module; the tests only read it, except the one that cuts a
link (and restores it).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.uml, pytest.mark.services, pytest.mark.slow]

NODES = ("node1", "node2", "node3")
FABRICS = {  # fabric: (protocol, link prefix, address prefix, the protocol's own options)
    "of1": ("openfabric", "o", "10.255.1", ("-hello_interval", "1")),
    "os1": ("ospf", "p", "10.255.3", ("-area", "0")),
}
# name, node, vnet, address, gateway
GUESTS = (
    ("a1", "node1", "vxofn", "10.0.7.1", None),
    ("a3", "node3", "vxofn", "10.0.7.3", None),
    ("b1", "node1", "vxosn", "10.0.17.1", None),
    ("b3", "node3", "vxosn", "10.0.17.3", None),
    ("e1", "node1", "evn1", "10.0.8.11", "10.0.8.1"),
    ("e3", "node3", "evn2", "10.0.18.13", "10.0.18.1"),
)
CONVERGE = 120.0  # OpenFabric's first full synchronisation takes ~30 s in UML


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


def pvesh(lab, *argv: str) -> None:
    rc, out = lab.sdn("pvesh", *argv)
    assert rc == 0, out


def chain(lab, prefix: str) -> dict[str, list[str]]:
    """Links ``<prefix>12``/``<prefix>21`` and ``<prefix>23``/``<prefix>32``; each node's ends."""
    ends: dict[str, list[str]] = {n: [] for n in NODES}
    for a, b in ((1, 2), (2, 3)):
        near, far = f"{prefix}{a}{b}", f"{prefix}{b}{a}"
        lab.run(f"node{a}", "ip", "link", "add", near, "type", "veth", "peer", "name", far,
                "netns", lab.netns(f"node{b}"))  # fmt: skip
        lab.run(f"node{a}", "ip", "link", "set", near, "up")
        lab.run(f"node{b}", "ip", "link", "set", far, "up")
        ends[f"node{a}"].append(near)
        ends[f"node{b}"].append(far)
    return ends


@pytest.fixture(scope="module")
def fab(make_lab):
    from sdnkit.lab.probe import missing

    if shutil.which("vtysh") is None or not Path("/usr/lib/frr/zebra").exists():
        unavailable("FRR is not installed (apt install frr frr-pythontools)")
    if refused := missing(["vrf", "dummy"]):
        unavailable(f"this kernel lacks {', '.join(sorted(refused))}; run it inside UML (make test-uml)")
    lab = make_lab(nodes=3)
    for fabric, (proto, prefix, net, extra) in FABRICS.items():
        ends = chain(lab, prefix)
        pvesh(lab, "create", "/cluster/sdn/fabrics/fabric", "-id", fabric, "-protocol", proto,
              "-ip_prefix", f"{net}.0/24", *extra)  # fmt: skip
        for i, node in enumerate(NODES, start=1):
            ifaces = [x for name in ends[node] for x in ("-interfaces", f"name={name}")]
            pvesh(lab, "create", f"/cluster/sdn/fabrics/node/{fabric}", "-node_id", node,
                  "-protocol", proto, "-ip", f"{net}.{i}", *ifaces)  # fmt: skip
    for zone, fabric, vnet, tag in (("vxof", "of1", "vxofn", "201"), ("vxos", "os1", "vxosn", "202")):
        pvesh(lab, "create", "/cluster/sdn/zones", "-zone", zone, "-type", "vxlan", "-fabric", fabric,
              "-mtu", "1450")  # fmt: skip
        pvesh(lab, "create", "/cluster/sdn/vnets", "-vnet", vnet, "-zone", zone, "-tag", tag)
    pvesh(lab, "create", "/cluster/sdn/controllers", "-controller", "evof", "-type", "evpn", "-asn", "65000",
          "-fabric", "of1")  # fmt: skip
    pvesh(lab, "create", "/cluster/sdn/zones", "-zone", "evof", "-type", "evpn", "-controller", "evof",
          "-vrf-vxlan", "10000", "-mtu", "1450")  # fmt: skip
    for vnet, tag, net in (("evn1", "11000", "10.0.8"), ("evn2", "12000", "10.0.18")):
        pvesh(lab, "create", "/cluster/sdn/vnets", "-vnet", vnet, "-zone", "evof", "-tag", tag)
        pvesh(lab, "create", f"/cluster/sdn/vnets/{vnet}/subnets", "-subnet", f"{net}.0/24",
              "-type", "subnet", "-gateway", f"{net}.1")  # fmt: skip
    pvesh(lab, "set", "/cluster/sdn")
    lab.apply()
    for name, node, vnet, ip, gw in GUESTS:
        lab.guest(name, node=node, vnet=vnet, ip=f"{ip}/24", mtu=1450, **({"gw": gw} if gw else {}))
    return lab


def routes(lab, node: str, proto: str) -> dict[str, dict[str, Any]]:
    out = lab.run(node, "ip", "-j", "route", "show", "proto", proto).stdout
    return {r["dst"]: r for r in json.loads(out or "[]")}


def converged(lab, fabric: str) -> bool:
    """Every node has a route, by the fabric's protocol, to every other node's loopback."""
    proto, _, net, _ = FABRICS[fabric]
    for i, node in enumerate(NODES, start=1):
        others = {f"{net}.{j}" for j in range(1, len(NODES) + 1) if j != i}
        if not others <= set(routes(lab, node, proto)):
            return False
    return True


@pytest.mark.parametrize("fabric", sorted(FABRICS))
def test_the_fabric_converges_over_three_nodes(fab, fabric):
    proto, prefix, net, _ = FABRICS[fabric]
    eventually(lambda: converged(fab, fabric), f"{fabric}: every node routes to every loopback")
    # node1 and node3 share no link: node1 reaches node3's loopback through node2, on the fabric link
    far = routes(fab, "node1", proto)[f"{net}.3"]
    assert far["dev"] == f"{prefix}12" and far["gateway"] == f"{net}.2"
    ping = ("ping", "-n", "-c", "1", "-w", "2", "-I", f"{net}.1", f"{net}.3")
    assert eventually(lambda: fab.run("node1", *ping, check=False).returncode == 0, "node1 -> node3")


def vxlan_local(lab, node: str, port: str) -> str:
    return lab.links(node)[port]["linkinfo"]["info_data"]["local"]


def flood(lab, node: str, port: str) -> set[str]:
    out = lab.run(node, "bridge", "-j", "fdb", "show", "dev", port).stdout
    return {e["dst"] for e in json.loads(out or "[]") if e.get("mac") == "00:00:00:00:00:00" and "dst" in e}


@pytest.mark.parametrize(("fabric", "port", "src", "dst"), [
    ("of1", "vxlan_vxofn", "a1", "10.0.7.3"),
    ("os1", "vxlan_vxosn", "b1", "10.0.17.3"),
])  # fmt: skip
def test_a_vxlan_zone_over_the_fabric_carries_guest_traffic(fab, fabric, port, src, dst):
    net = FABRICS[fabric][2]
    eventually(lambda: converged(fab, fabric), f"{fabric} converged")
    # the tunnel endpoints are the fabric's addresses, reached only over the fabric's links
    assert vxlan_local(fab, "node1", port) == f"{net}.1"
    assert flood(fab, "node1", port) == {f"{net}.2", f"{net}.3"}
    assert eventually(lambda: fab.ping(src, dst), f"{src} (node1) -> {dst} (node3)")


def test_traffic_stops_when_the_fabric_link_goes_and_comes_back_with_it(fab):
    eventually(lambda: converged(fab, "os1"), "os1 converged")
    assert eventually(lambda: fab.ping("b1", "10.0.17.3"), "b1 -> b3")
    fab.run("node2", "ip", "link", "set", "p23", "down")
    try:
        eventually(lambda: "10.255.3.3" not in routes(fab, "node1", "ospf"), "node1 drops node3's loopback")
        assert not fab.ping("b1", "10.0.17.3")  # no other way: the switch does not carry the fabric
        assert eventually(lambda: fab.ping("a1", "10.0.7.3"), "the OpenFabric zone is not affected")
    finally:
        fab.run("node2", "ip", "link", "set", "p23", "up")
    eventually(lambda: converged(fab, "os1"), "os1 converged again")
    assert eventually(lambda: fab.ping("b1", "10.0.17.3"), "b1 -> b3 again")


def evpn_peers(lab, node: str) -> dict[str, str]:
    out = lab.run(node, "vtysh", "--vty_socket", frr_dir(lab, node), "-c", "show bgp l2vpn evpn summary json")
    peers = json.loads(out.stdout or "{}").get("peers", {})
    return {ip: p.get("state") for ip, p in peers.items()}


def frr_dir(lab, member: str) -> str:
    return str(Path(os.environ["SDN_LAB_DIR"]) / lab.name / member / "frr")


def test_the_evpn_controller_over_the_fabric_routes_guest_traffic(fab):
    eventually(lambda: converged(fab, "of1"), "of1 converged")
    for i, node in enumerate(NODES, start=1):  # the sessions run between the fabric's loopbacks
        others = {f"10.255.1.{j}": "Established" for j in (1, 2, 3) if j != i}
        eventually(lambda node=node, others=others: evpn_peers(fab, node) == others, f"{node}'s EVPN peers")
    assert vxlan_local(fab, "node1", "vxlan_evn1") == "10.255.1.1"
    assert eventually(lambda: fab.ping("e1", "10.0.18.13"), "e1 (node1, evn1) -> e3 (node3, evn2)")
    out = fab.run("node1", "ip", "-j", "route", "show", "vrf", "vrf_evof").stdout
    host = {r["dst"]: r for r in json.loads(out)}.get("10.0.18.13")
    assert host is not None and host["gateway"] == "10.255.1.3"
