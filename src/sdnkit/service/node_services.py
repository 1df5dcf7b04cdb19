"""A node's guest services: its DHCP servers and firewall IP sets, from its plan and IPAM state.

The node agent calls this after realizing the kernel part of a plan, and again whenever the IPAM
state may have changed (its resync pass), so mappings made on another node reach this node's
dnsmasq::

    result = apply_node_services(store, plan, NodeServices(dhcp=DhcpSettings(netns=ns), netns=ns))

The planner sees only configuration; here the zones' IPAM allocations are folded in
(``plan.firewall.with_ipam_state``), then ``realize.dhcp.apply_dhcp`` starts, reloads or restarts
only the instances whose files changed and ``realize.ipsets.apply_ipsets`` updates only the sets
that differ.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field

from sdnkit.dhcp.base import DhcpSettings
from sdnkit.ipam.base import Allocation
from sdnkit.plan.desired import NodePlan
from sdnkit.plan.firewall import with_ipam_state
from sdnkit.realize.dhcp import DhcpChange, apply_dhcp
from sdnkit.realize.ipsets import IpsetResult, apply_ipsets
from sdnkit.service import ipam as ipam_service
from sdnkit.service.port_addresses import builtin_zone, zone_allocations
from sdnkit.store.base import Store

__all__ = ["NodeServices", "NodeServicesResult", "apply_node_services", "ipam_allocations"]


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeServices:
    dhcp: DhcpSettings = field(default_factory=DhcpSettings)
    netns: str | None = None  # where the node's nftables live (lab nodes)
    firewall: bool = field(default_factory=lambda: shutil.which("nft") is not None)


@dataclass(frozen=True, slots=True)
class NodeServicesResult:
    dhcp: tuple[DhcpChange, ...]
    ipsets: IpsetResult | None


def ipam_allocations(store: Store, plan: NodePlan) -> list[Allocation]:
    """The allocations the plan's services need: its DHCP zones' and the built-in IPAMs' guests."""
    ictx = ipam_service.running_context(store)
    dhcp_zones = {inst.zone for inst in plan.dhcp}
    out: list[Allocation] = []
    for zone in ictx.config.zones.values():
        if zone.id in dhcp_zones or builtin_zone(ictx, zone):
            out += zone_allocations(ictx, zone)
    return out


def apply_node_services(store: Store, plan: NodePlan, node: NodeServices) -> NodeServicesResult:
    plan = with_ipam_state(plan, ipam_allocations(store, plan))
    dhcp = apply_dhcp(plan.dhcp, node.dhcp)
    ipsets = apply_ipsets(plan.ipsets, netns=node.netns) if node.firewall else None
    return NodeServicesResult(dhcp, ipsets)
