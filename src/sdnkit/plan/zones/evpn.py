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
from dataclasses import dataclass

from sdnkit.config.model import Controller, ControllerType, Vnet, Zone
from sdnkit.errors import PlanError
from sdnkit.plan.context import PlanContext
from sdnkit.plan.desired import AnyLink, Bridge, LinkRole, Veth, Vrf, Vxlan
from sdnkit.plan.mtu import overlay_mtu, xvrf_mtu
from sdnkit.plan.underlay import Underlay
from sdnkit.plan.zones.base import VnetPlan, require_tag
from sdnkit.plan.zones.gateway import forwarding, gateway_addresses, snat_rules

XVRF_V4 = (ipaddress.ip_interface("10.255.255.1/30"), ipaddress.ip_interface("10.255.255.2/30"))
XVRF_V6 = (ipaddress.ip_interface("fe80::1/126"), ipaddress.ip_interface("fe80::2/126"))


@dataclass(frozen=True, slots=True)
class EvpnZone:
    """What every vnet of one EVPN zone shares on this node."""

    underlay: Underlay
    mtu: int
    is_exit: bool
    links: tuple[AnyLink, ...]


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


def zone_has_ipv6(ctx: PlanContext, zone: Zone) -> bool:
    """Whether any vnet of the zone has an IPv6 subnet (PVE looks at the first vnet only, §10.7)."""
    return any(s.zone == zone.id and s.version == 6 for s in ctx.config.subnets.values())


def _l3vni(zone: Zone, underlay: Underlay, mtu: int) -> list[AnyLink]:
    vrf = f"vrf_{zone.id}"
    if not zone.vrf_vxlan:
        return []
    vx = f"vrfvx_{zone.id}"
    return [
        Vxlan(
            name=vx,
            role=LinkRole.L3VNI,
            vni=zone.vrf_vxlan,
            local_ip=underlay.local_ip,
            port=zone.vxlan_port,
            learning=False,
            arp_nd_suppress=not zone.disable_arp_nd_suppression,
            mtu=mtu,
        ),
        Bridge(name=f"vrfbr_{zone.id}", role=LinkRole.L3VNI, ports=(vx,), mtu=mtu, vrf=vrf),
    ]


def _xvrf(ctx: PlanContext, zone: Zone, mtu: int) -> list[AnyLink]:
    outer, inner = f"xvrf_{zone.id}", f"xvrfp_{zone.id}"
    v6 = zone_has_ipv6(ctx, zone)
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


def evpn_zone(ctx: PlanContext, zone: Zone) -> EvpnZone:
    underlay = ctx.evpn_underlay(zone_controller(ctx, zone))
    mtu = overlay_mtu(zone, ctx.facts, underlay)
    is_exit = is_exit_node(ctx, zone)
    links: list[AnyLink] = [Vrf(name=f"vrf_{zone.id}", role=LinkRole.VRF, unreachable_default=not is_exit)]
    links += _l3vni(zone, underlay, mtu)
    if is_exit and zone.exitnodes_local_routing:
        links += _xvrf(ctx, zone, mtu)
    return EvpnZone(underlay, mtu, is_exit, tuple(links))


def plan_vnet(ctx: PlanContext, zone: Zone, vnet: Vnet) -> VnetPlan:
    tag = require_tag(zone, vnet)
    shared = ctx.memo(("evpn", zone.id), lambda: evpn_zone(ctx, zone))
    subnets = ctx.subnets(vnet.id)
    port = f"vxlan_{vnet.id}"
    vxlan = Vxlan(
        name=port,
        role=LinkRole.VNET_PORT,
        vni=tag,
        local_ip=shared.underlay.local_ip,
        port=zone.vxlan_port,
        learning=False,
        arp_nd_suppress=not zone.disable_arp_nd_suppression,
        mtu=shared.mtu,
    )
    ip_forward, ip6_forward = forwarding(subnets)
    bridge = Bridge(
        name=vnet.id,
        role=LinkRole.VNET,
        addresses=gateway_addresses(ctx, subnets),
        hwaddress=zone.mac,
        ports=(port,),
        mtu=shared.mtu,
        alias=vnet.alias,
        ip_forward=ip_forward,
        ip6_forward=ip6_forward,
        arp_accept=True if subnets else None,
        vrf=f"vrf_{zone.id}",
        isolate_guest_ports=vnet.isolate_ports,
        guest_port_learning=not zone.bridge_disable_mac_learning,
    )
    snat = snat_rules(ctx, vnet.id, subnets) if shared.is_exit else ()
    return VnetPlan(links=(bridge, vxlan, *shared.links), snat=snat)
