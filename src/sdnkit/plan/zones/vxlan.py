"""VXLAN zone: each vnet is a VXLAN segment flooded to a static list of peers (spec §3.5).

The peers come from the zone's ``peers`` (the node itself is dropped from the flood list) or
from its ``fabric`` (every fabric node's address; then the tunnel is sourced from this node's
fabric address).
"""

from __future__ import annotations

from dataclasses import dataclass

from sdnkit.config.model import IPAddress, Vnet, Zone
from sdnkit.plan.context import PlanContext
from sdnkit.plan.desired import Bridge, LinkRole, Vxlan
from sdnkit.plan.mtu import overlay_mtu
from sdnkit.plan.underlay import Underlay
from sdnkit.plan.zones.base import VnetPlan, require_tag, vids


def zone_underlay(ctx: PlanContext, zone: Zone) -> Underlay:
    if zone.fabric:
        return ctx.fabric_underlay(zone.fabric)
    return ctx.peer_underlay(zone.peers, None)


@dataclass(frozen=True, slots=True)
class VxlanZone:
    """What every vnet of one VXLAN zone shares on this node."""

    local_ip: IPAddress | None
    remotes: tuple[IPAddress, ...]
    mtu: int


def vxlan_zone(ctx: PlanContext, zone: Zone) -> VxlanZone:
    underlay = zone_underlay(ctx, zone)
    local_ip = underlay.local_ip if underlay.fabric else None
    return VxlanZone(local_ip, underlay.remotes, overlay_mtu(zone, ctx.facts, underlay))


def plan_vnet(ctx: PlanContext, zone: Zone, vnet: Vnet) -> VnetPlan:
    tag = require_tag(zone, vnet)
    shared = ctx.memo(("vxlan", zone.id), lambda: vxlan_zone(ctx, zone))
    port = f"vxlan_{vnet.id}"
    vxlan = Vxlan(
        name=port,
        role=LinkRole.VNET_PORT,
        vni=tag,
        local_ip=shared.local_ip,
        remote_ips=shared.remotes,
        port=zone.vxlan_port,
        mtu=shared.mtu,
    )
    bridge = Bridge(
        name=vnet.id,
        role=LinkRole.VNET,
        ports=(port,),
        vlan_aware=vnet.vlanaware,
        vids=vids(vnet),
        mtu=shared.mtu,
        alias=vnet.alias,
        isolate_guest_ports=vnet.isolate_ports,
        guest_port_learning=not zone.bridge_disable_mac_learning,
    )
    return VnetPlan(links=(bridge, vxlan))
