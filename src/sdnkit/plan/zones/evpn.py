"""EVPN zone: VXLAN vnets routed in a per-zone VRF, with an anycast gateway (spec §3.6).

Per zone: the VRF ``vrf_<zone>`` and its L3VNI (``vrfvx_<zone>`` in the bridge ``vrfbr_<zone>``);
on exit nodes with ``exitnodes-local-routing`` a veth pair ``xvrf_<zone>``/``xvrfp_<zone>``
between the default VRF and the zone VRF. Per vnet: ``vxlan_<vnet>`` (no MAC learning, ARP/ND
suppression unless disabled) in the vnet bridge, which carries the gateways and the zone's
anycast MAC, is enslaved to the VRF, and SNATs ``snat`` subnets on exit nodes only.
Non-exit nodes install an unreachable default route in the VRF (``unreachable_default``).
"""

from __future__ import annotations

import ipaddress

from sdnkit.config.model import Controller, ControllerType, SdnConfig, Vnet, Zone
from sdnkit.errors import PlanError
from sdnkit.plan.context import PlanContext
from sdnkit.plan.desired import AnyLink, Bridge, LinkRole, Veth, Vrf, Vxlan
from sdnkit.plan.mtu import overlay_mtu, xvrf_mtu
from sdnkit.plan.zones.base import (
    NO_ENDPOINT,
    Endpoint,
    VnetPlan,
    ZoneEnv,
    ZoneInputs,
    require_tag,
    snat_subnets,
)
from sdnkit.plan.zones.gateway import forwarding, gateway_addresses

XVRF_V4 = (ipaddress.ip_interface("10.255.255.1/30"), ipaddress.ip_interface("10.255.255.2/30"))
XVRF_V6 = (ipaddress.ip_interface("fe80::1/126"), ipaddress.ip_interface("fe80::2/126"))


def zone_controller(ctx: PlanContext, zone: Zone) -> Controller:
    ctl = ctx.config.controllers.get(zone.controller or "")
    if ctl is None or ctl.type is not ControllerType.EVPN:
        raise PlanError(
            f'zone "{zone.id}": controller "{zone.controller}" is not an evpn controller',
            obj=f'zone "{zone.id}"',
            key="controller",
            value=zone.controller,
        )
    return ctl


def is_exit_node(ctx: PlanContext, zone: Zone) -> bool:
    return ctx.node in zone.exitnodes


def zone_has_ipv6(config: SdnConfig, zone: Zone) -> bool:
    """Whether any vnet of the zone has an IPv6 subnet (PVE looks at the first vnet only, §10.7)."""
    return any(s.zone == zone.id and s.version == 6 for s in config.subnets.values())


def node_inputs(ctx: PlanContext, zone: Zone) -> tuple[ZoneInputs, Endpoint]:
    try:
        underlay = ctx.evpn_underlay(zone_controller(ctx, zone))
    except PlanError as err:
        return ZoneInputs(error=str(err)), NO_ENDPOINT
    inputs = ZoneInputs(mtu=overlay_mtu(zone, ctx.facts, underlay), exit_node=is_exit_node(ctx, zone))
    return inputs, Endpoint(local_ip=underlay.local_ip)


def _l3vni(zone: Zone, mtu: int | None) -> list[AnyLink]:
    vrf = f"vrf_{zone.id}"
    if not zone.vrf_vxlan:
        return []
    vx = f"vrfvx_{zone.id}"
    return [
        Vxlan(
            name=vx,
            role=LinkRole.L3VNI,
            vni=zone.vrf_vxlan,
            port=zone.vxlan_port,
            learning=False,
            arp_nd_suppress=not zone.disable_arp_nd_suppression,
            mtu=mtu,
        ),
        Bridge(name=f"vrfbr_{zone.id}", role=LinkRole.L3VNI, ports=(vx,), mtu=mtu, vrf=vrf),
    ]


def _xvrf(config: SdnConfig, zone: Zone, mtu: int) -> list[AnyLink]:
    outer, inner = f"xvrf_{zone.id}", f"xvrfp_{zone.id}"
    v6 = zone_has_ipv6(config, zone)
    return [
        Veth(
            name=outer,
            role=LinkRole.XVRF,
            peer=inner,
            addresses=(XVRF_V4[0], *((XVRF_V6[0],) if v6 else ())),
            mtu=xvrf_mtu(mtu),
        ),
        Veth(
            name=inner,
            role=LinkRole.XVRF,
            peer=outer,
            addresses=(XVRF_V4[1], *((XVRF_V6[1],) if v6 else ())),
            vrf=f"vrf_{zone.id}",
            mtu=xvrf_mtu(mtu),
        ),
    ]


def zone_links(env: ZoneEnv, zone: Zone) -> tuple[AnyLink, ...]:
    """The links every vnet of the zone shares on this node: VRF, L3VNI, exit-node veths."""
    inputs = env.require()
    mtu = inputs.mtu or 0  # node_inputs always sets it for evpn zones
    links: list[AnyLink] = [
        Vrf(name=f"vrf_{zone.id}", role=LinkRole.VRF, unreachable_default=not inputs.exit_node)
    ]
    links += _l3vni(zone, mtu)
    if inputs.exit_node and zone.exitnodes_local_routing:
        links += _xvrf(env.config, zone, mtu)
    return tuple(links)


def plan_vnet(env: ZoneEnv, zone: Zone, vnet: Vnet) -> VnetPlan:
    tag = require_tag(zone, vnet)
    inputs = env.require()
    shared = env.shared(lambda: zone_links(env, zone))
    subnets = env.subnets(vnet.id)
    port = f"vxlan_{vnet.id}"
    vxlan = Vxlan(
        name=port,
        role=LinkRole.VNET_PORT,
        vni=tag,
        port=zone.vxlan_port,
        learning=False,
        arp_nd_suppress=not zone.disable_arp_nd_suppression,
        mtu=inputs.mtu,
    )
    ip_forward, ip6_forward = forwarding(subnets)
    bridge = Bridge(
        name=vnet.id,
        role=LinkRole.VNET,
        addresses=gateway_addresses(env, subnets),
        hwaddress=zone.mac,
        ports=(port,),
        mtu=inputs.mtu,
        alias=vnet.alias,
        ip_forward=ip_forward,
        ip6_forward=ip6_forward,
        arp_accept=True if subnets else None,
        vrf=f"vrf_{zone.id}",
        isolate_guest_ports=vnet.isolate_ports,
        guest_port_learning=not zone.bridge_disable_mac_learning,
    )
    snat = snat_subnets(subnets) if inputs.exit_node else ()
    return VnetPlan(links=(bridge, vxlan, *shared), snat=snat)
