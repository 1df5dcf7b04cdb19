"""Fabric interfaces of this node (spec §3.1, fabric part).

For every fabric the node belongs to: the loopback ``dummy_<fabric>`` with the node's address
(/32, and /128 for an IPv6 node address), and each fabric interface with its own address. An
OpenFabric interface without an address gets the node address "so ARP picks the right source";
an OSPF interface without one (an unnumbered point-to-point link) gets the node's IPv4 address.
Forwarding is enabled on all of them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from sdnkit.config.model import FabricInterface, FabricNode, FabricProtocol, IPInterface
from sdnkit.plan.context import PlanContext
from sdnkit.plan.desired import AnyLink, Dummy, Existing, LinkRole


def local_fabric_nodes(ctx: PlanContext) -> Iterator[FabricNode]:
    """This node's membership in each fabric, by fabric ID."""
    for fabric in ctx.config.fabrics.values():
        node = ctx.config.fabric_nodes.get(f"{fabric.id}_{ctx.node}")
        if node is not None and node.fabric == fabric.id:
            yield node


def _node_addresses(node: FabricNode) -> tuple[IPInterface, ...]:
    out: list[IPInterface] = []
    if node.ip is not None:
        out.append(ipaddress.ip_interface(f"{node.ip}/32"))
    if node.ip6 is not None:
        out.append(ipaddress.ip_interface(f"{node.ip6}/128"))
    return tuple(out)


def _iface_addresses(node: FabricNode, iface: FabricInterface) -> tuple[IPInterface, ...]:
    own = tuple(a for a in (iface.ip, iface.ip6) if a is not None)
    if own:
        return own
    node_addrs = _node_addresses(node)
    if node.protocol is FabricProtocol.OSPF:
        return tuple(a for a in node_addrs if a.version == 4)
    return node_addrs[:1]


def fabric_links(ctx: PlanContext) -> list[AnyLink]:
    links: list[AnyLink] = []
    for node in local_fabric_nodes(ctx):
        links.append(
            Dummy(
                name=f"dummy_{node.fabric}",
                role=LinkRole.FABRIC,
                addresses=_node_addresses(node),
                ip_forward=True,
            )
        )
        links += [
            Existing(name=i.name, role=LinkRole.FABRIC, addresses=_iface_addresses(node, i), ip_forward=True)
            for i in node.interfaces
        ]
    return links
