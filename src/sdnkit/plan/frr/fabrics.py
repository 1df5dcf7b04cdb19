"""FRR for the fabrics this node belongs to: OpenFabric and OSPF underlays (spec §3.8 Fabrics).

* OpenFabric: ``router openfabric <fabric>`` with a NET derived from the first OpenFabric node
  address, the loopback ``dummy_<fabric>`` as a passive interface, the fabric interfaces with the
  fabric's timers, and a route map that sets the source of fabric routes to the node address
  (``pve_openfabric``/``pve_openfabric6``, matched by an access list of the fabric prefix).
* OSPF: one ``router ospf`` whose router-id is the first OSPF node address, the dummy as a
  passive interface, unnumbered interfaces as point-to-point, and ``pve_ospf`` likewise.

Route-map sequence numbers start at 100 and grow by 10 per entry across fabrics.
"""

from __future__ import annotations

import ipaddress

from sdnkit.config.model import Fabric, FabricNode, FabricProtocol, IPAddress
from sdnkit.plan.context import PlanContext
from sdnkit.plan.fabrics import local_fabric_nodes
from sdnkit.plan.frr.builder import FrrBuilder, PendingEntry
from sdnkit.plan.frr.model import (
    AccessList,
    AccessListEntry,
    OpenFabricInterface,
    OpenFabricRouter,
    OspfInterface,
    OspfRouter,
)

FIRST_SEQ, SEQ_STEP = 100, 10
DAEMONS = {FabricProtocol.OPENFABRIC: "fabricd", FabricProtocol.OSPF: "ospfd"}


def openfabric_net(ip: IPAddress) -> str:
    """ISO NET ``49.0001.<system id>.00``: the IPv4 octets zero-padded to 3 digits and regrouped
    (172.20.3.1 → 1720.2000.3001), or the last three hextets of an IPv6 address."""
    if ip.version == 4:
        digits = "".join(f"{octet:03d}" for octet in ip.packed)
        sysid = ".".join(digits[i : i + 4] for i in range(0, 12, 4))
    else:
        sysid = ".".join(ipaddress.IPv6Address(ip).exploded.split(":")[-3:])
    return f"49.0001.{sysid}.00"


class FabricFrr:
    """Accumulates the fabric part; sequence numbers and the NET/router-id carry across fabrics."""

    def __init__(self, ctx: PlanContext, b: FrrBuilder) -> None:
        self.ctx, self.b = ctx, b
        self.seq = FIRST_SEQ
        self.net: str | None = None

    def source_route_map(self, route_map: str, acl: str, match: str, ip: IPAddress) -> None:
        self.b.append_route_map(
            route_map, PendingEntry("permit", matches=(f"{match} {acl}",), sets=(f"src {ip}",), seq=self.seq)
        )
        self.seq += SEQ_STEP

    def openfabric(self, fabric: Fabric, node: FabricNode) -> None:
        first = node.ip or node.ip6
        if first is None:
            self.ctx.warn(f'fabric "{fabric.id}": node "{node.node}" has no address')
            return
        self.net = self.net or openfabric_net(first)
        b, has4, has6 = self.b, node.ip is not None, node.ip6 is not None
        b.openfabric_routers[fabric.id] = OpenFabricRouter(name=fabric.id, net=self.net)
        dummy = f"dummy_{fabric.id}"
        b.openfabric_interfaces[dummy] = OpenFabricInterface(
            name=dummy, fabric=fabric.id, ipv4=has4, ipv6=has6, passive=True
        )
        for iface in node.interfaces:
            b.openfabric_interfaces.setdefault(
                iface.name,
                OpenFabricInterface(
                    name=iface.name,
                    fabric=fabric.id,
                    ipv4=has4,
                    ipv6=has6,
                    hello_interval=fabric.hello_interval,
                    hello_multiplier=iface.hello_multiplier,
                    csnp_interval=fabric.csnp_interval,
                ),
            )
        self._openfabric_sources(fabric, node)

    def _openfabric_sources(self, fabric: Fabric, node: FabricNode) -> None:
        families = (
            (node.ip, fabric.ip_prefix, f"pve_openfabric_{fabric.id}_ips", "pve_openfabric", "ip address"),
            (
                node.ip6,
                fabric.ip6_prefix,
                f"pve_openfabric_{fabric.id}_ip6s",
                "pve_openfabric6",
                "ipv6 address",
            ),
        )
        for ip, prefix, acl, route_map, match in families:
            if ip is None:
                continue
            if prefix is not None:
                self.b.access_lists[acl] = AccessList(
                    name=acl,
                    is_ipv6=ip.version == 6,
                    entries=(AccessListEntry(action="permit", network=str(prefix)),),
                )
            self.source_route_map(route_map, acl, match, ip)
            if ip.version == 4:
                self.b.set_protocol_route_map("openfabric", v4=route_map)
            else:
                self.b.set_protocol_route_map("openfabric", v6=route_map)

    def ospf(self, fabric: Fabric, node: FabricNode) -> None:
        if node.ip is None:
            self.ctx.warn(f'fabric "{fabric.id}": node "{node.node}" has no IPv4 address (OSPF needs one)')
            return
        b, area = self.b, fabric.area or "0"
        if b.ospf_router is None:
            b.ospf_router = OspfRouter(router_id=str(node.ip))
        dummy = f"dummy_{fabric.id}"
        b.ospf_interfaces[dummy] = OspfInterface(name=dummy, area=area, passive=True)
        for iface in node.interfaces:
            b.ospf_interfaces.setdefault(
                iface.name,
                OspfInterface(
                    name=iface.name, area=area, network_type=None if iface.ip else "point-to-point"
                ),
            )
        acl = f"pve_ospf_{fabric.id}_ips"
        if fabric.ip_prefix is not None:
            b.access_lists[acl] = AccessList(
                name=acl, entries=(AccessListEntry(action="permit", network=str(fabric.ip_prefix)),)
            )
        self.source_route_map("pve_ospf", acl, "ip address", node.ip)
        b.set_protocol_route_map("ospf", v4="pve_ospf")


def plan_fabrics(ctx: PlanContext, b: FrrBuilder) -> tuple[str, ...]:
    """Add the fabrics' FRR config; returns the FRR daemons they need."""
    state = FabricFrr(ctx, b)
    daemons: set[str] = set()
    for node in local_fabric_nodes(ctx):
        fabric = ctx.config.fabrics[node.fabric]
        if fabric.protocol is FabricProtocol.OPENFABRIC:
            state.openfabric(fabric, node)
        else:
            state.ospf(fabric, node)
        daemons.add(DAEMONS[fabric.protocol])
    return tuple(sorted(daemons))
