"""An IS-IS controller on every node, and its loopbacks as the EVPN zone's tunnel endpoints.

Each node has a loopback of its own, as a PVE node has one in /etc/network/interfaces (here a
dummy device ``dummy1`` with 10.255.2.N/32, made by hand before the first apply, like any NIC the
agent finds). Each node's IS-IS controller (domain ``sdn``, on ``vmbr0``, loopback ``dummy1``)
redistributes it; the EVPN controller's peers are the three loopbacks, so BGP runs between them
(``update-source dummy1``) and the VXLAN tunnels start and end there.

Marked ``uml``: dummy devices and the EVPN zone's VRF need the UML kernel. One lab; the tests
only read it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.uml, pytest.mark.services, pytest.mark.slow]

NODES = ("node1", "node2", "node3")
LOOPBACKS = {"node1": "10.255.2.1", "node2": "10.255.2.2", "node3": "10.255.2.3"}
CONVERGE = 120.0


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


def vtysh(lab, node: str, command: str) -> str:
    d = str(Path(os.environ["SDN_LAB_DIR"]) / lab.name / node / "frr")
    return lab.run(node, "vtysh", "--vty_socket", d, "-c", command).stdout


@pytest.fixture(scope="module")
def isis(make_lab):
    from sdnkit.lab.probe import missing

    if shutil.which("vtysh") is None or not Path("/usr/lib/frr/zebra").exists():
        unavailable("FRR is not installed (apt install frr frr-pythontools)")
    if refused := missing(["vrf", "dummy"]):
        unavailable(f"this kernel lacks {', '.join(sorted(refused))}; run it inside UML (make test-uml)")
    lab = make_lab(nodes=3)
    for i, (node, ip) in enumerate(LOOPBACKS.items(), start=1):
        lab.run(node, "ip", "-batch", "-", input=(
            f"link add dummy1 type dummy\naddr add {ip}/32 dev dummy1\nlink set dummy1 up\n"
        ))  # fmt: skip
        pvesh(lab, "create", "/cluster/sdn/controllers", "-controller", f"isis{i}", "-type", "isis",
              "-node", node, "-isis-domain", "sdn", "-isis-ifaces", "vmbr0", "-loopback", "dummy1",
              "-isis-net", f"49.0001.0102.5500.200{i}.00")  # fmt: skip
    pvesh(lab, "create", "/cluster/sdn/controllers", "-controller", "evisis", "-type", "evpn",
          "-asn", "65000", "-peers", ",".join(LOOPBACKS.values()))  # fmt: skip
    pvesh(lab, "create", "/cluster/sdn/zones", "-zone", "evisis", "-type", "evpn", "-controller", "evisis",
          "-vrf-vxlan", "10000", "-mtu", "1450")  # fmt: skip
    for vnet, tag, net in (("ivn1", "11000", "10.0.21"), ("ivn2", "12000", "10.0.22")):
        pvesh(lab, "create", "/cluster/sdn/vnets", "-vnet", vnet, "-zone", "evisis", "-tag", tag)
        pvesh(lab, "create", f"/cluster/sdn/vnets/{vnet}/subnets", "-subnet", f"{net}.0/24",
              "-type", "subnet", "-gateway", f"{net}.1")  # fmt: skip
    pvesh(lab, "set", "/cluster/sdn")
    lab.apply()
    lab.guest("i1", node="node1", vnet="ivn1", ip="10.0.21.11/24", gw="10.0.21.1", mtu=1450)
    lab.guest("i3", node="node3", vnet="ivn2", ip="10.0.22.13/24", gw="10.0.22.1", mtu=1450)
    return lab


def adjacencies(lab, node: str) -> int:
    """The node's IS-IS neighbours in state Up on vmbr0, by their MAC address (``show isis
    neighbor`` lists a LAN neighbour once per level)."""
    rows = re.findall(r"\bvmbr0\s+\d+\s+Up\s+\d+\s+(\S+)", vtysh(lab, node, "show isis neighbor"))
    return len(set(rows))


def isis_routes(lab, node: str) -> set[str]:
    out = lab.run(node, "ip", "-j", "route", "show", "proto", "isis").stdout
    return {r["dst"] for r in json.loads(out or "[]")}


def test_the_isis_controllers_form_adjacencies_and_route_the_loopbacks(isis):
    for node in NODES:
        eventually(lambda node=node: adjacencies(isis, node) == 2, f"{node}: two IS-IS adjacencies")
    for node, own in LOOPBACKS.items():
        others = {ip for ip in LOOPBACKS.values() if ip != own}
        eventually(lambda node=node, others=others: others <= isis_routes(isis, node), f"{node}: loopbacks")
    ping = ("ping", "-n", "-c", "1", "-w", "2", "-I", LOOPBACKS["node1"], LOOPBACKS["node3"])
    assert eventually(lambda: isis.run("node1", *ping, check=False).returncode == 0, "loopback to loopback")


def evpn_peers(lab, node: str) -> dict[str, str]:
    peers = json.loads(vtysh(lab, node, "show bgp l2vpn evpn summary json") or "{}").get("peers", {})
    return {ip: p.get("state") for ip, p in peers.items()}


def test_the_loopbacks_are_the_tunnel_endpoints_of_the_evpn_zone(isis):
    for node, own in LOOPBACKS.items():
        others = {ip: "Established" for ip in LOOPBACKS.values() if ip != own}
        eventually(lambda node=node, others=others: evpn_peers(isis, node) == others, f"{node}'s EVPN peers")
        assert isis.links(node)["vxlan_ivn1"]["linkinfo"]["info_data"]["local"] == own
    assert eventually(lambda: isis.ping("i1", "10.0.22.13"), "i1 (node1) -> i3 (node3), routed")
    out = isis.run("node1", "ip", "-j", "route", "show", "vrf", "vrf_evisis").stdout
    host = {r["dst"]: r for r in json.loads(out)}.get("10.0.22.13")
    assert host is not None and host["gateway"] == LOOPBACKS["node3"]
