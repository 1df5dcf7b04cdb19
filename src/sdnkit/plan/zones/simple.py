"""Simple zone: an isolated bridge per vnet, routed by this node (spec §3.2).

The vnet bridge has no ports; it carries the subnets' gateways, forwards, and SNATs subnets
marked ``snat`` towards the node's egress. An IPv4 /32 subnet (a "pointopoint" setup such as
Hetzner's, gateway outside the subnet) gets a device route to the bridge.
"""

from __future__ import annotations

from sdnkit.config.model import Vnet, Zone
from sdnkit.plan.context import PlanContext
from sdnkit.plan.desired import Bridge, LinkRole
from sdnkit.plan.mtu import bridged_mtu
from sdnkit.plan.zones.base import (
    NO_ENDPOINT,
    NO_INPUTS,
    Endpoint,
    VnetPlan,
    ZoneEnv,
    ZoneInputs,
    snat_subnets,
    vids,
)
from sdnkit.plan.zones.gateway import forwarding, gateway_addresses

HOST_ROUTE_PREFIX = 32


def node_inputs(ctx: PlanContext, zone: Zone) -> tuple[ZoneInputs, Endpoint]:
    return NO_INPUTS, NO_ENDPOINT  # nothing node-specific but SNAT


def plan_vnet(env: ZoneEnv, zone: Zone, vnet: Vnet) -> VnetPlan:
    subnets = env.subnets(vnet.id)
    ip_forward, ip6_forward = forwarding(subnets)
    bridge = Bridge(
        name=vnet.id,
        role=LinkRole.VNET,
        addresses=gateway_addresses(env, subnets),
        routes=tuple(
            n for n in map(env.network, subnets) if n.version == 4 and n.prefixlen == HOST_ROUTE_PREFIX
        ),
        vlan_aware=vnet.vlanaware,
        vids=vids(vnet),
        mtu=bridged_mtu(zone),
        alias=vnet.alias,
        ip_forward=ip_forward,
        ip6_forward=ip6_forward,
        isolate_guest_ports=vnet.isolate_ports,
        guest_port_learning=not zone.bridge_disable_mac_learning,
    )
    return VnetPlan(links=(bridge,), snat=snat_subnets(subnets))
