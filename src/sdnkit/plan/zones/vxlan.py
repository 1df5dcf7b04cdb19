"""VXLAN zone: each vnet is a VXLAN segment flooded to a static list of peers (spec §3.5).

The peers come from the zone's ``peers`` (the node itself is dropped from the flood list) or
from its ``fabric`` (every fabric node's address; then the tunnel is sourced from this node's
fabric address). Both are the zone's :class:`Endpoint`, set on the vnets' links per node.
"""

from __future__ import annotations

from sdnkit.config.model import Vnet, Zone
from sdnkit.errors import PlanError
from sdnkit.plan.context import PlanContext
from sdnkit.plan.desired import Bridge, LinkRole, Vxlan
from sdnkit.plan.mtu import overlay_mtu
from sdnkit.plan.underlay import Underlay
from sdnkit.plan.zones.base import NO_ENDPOINT, Endpoint, VnetPlan, ZoneEnv, ZoneInputs, require_tag, vids


def zone_underlay(ctx: PlanContext, zone: Zone) -> Underlay:
    if zone.fabric:
        return ctx.fabric_underlay(zone.fabric)
    return ctx.peer_underlay(zone.peers, None)


def node_inputs(ctx: PlanContext, zone: Zone) -> tuple[ZoneInputs, Endpoint]:
    try:
        underlay = zone_underlay(ctx, zone)
    except PlanError as err:
        return ZoneInputs(error=str(err)), NO_ENDPOINT
    local_ip = underlay.local_ip if underlay.fabric else None
    return ZoneInputs(mtu=overlay_mtu(zone, ctx.facts, underlay)), Endpoint(local_ip, underlay.remotes)


def plan_vnet(env: ZoneEnv, zone: Zone, vnet: Vnet) -> VnetPlan:
    tag = require_tag(zone, vnet)
    mtu = env.require().mtu
    port = f"vxlan_{vnet.id}"
    vxlan = Vxlan(name=port, role=LinkRole.VNET_PORT, vni=tag, port=zone.vxlan_port, mtu=mtu)
    bridge = Bridge(
        name=vnet.id,
        role=LinkRole.VNET,
        ports=(port,),
        vlan_aware=vnet.vlanaware,
        vids=vids(vnet),
        mtu=mtu,
        alias=vnet.alias,
        isolate_guest_ports=vnet.isolate_ports,
        guest_port_learning=not zone.bridge_disable_mac_learning,
    )
    return VnetPlan(links=(bridge, vxlan))
