"""Plan the DHCP instances of a node: one per zone with ``dhcp`` that has something to serve here.

Rules (spec §3.9, with §10.5/§10.6 fixed):

* only zones deployed on the node (``nodes``) and only **running** subnets;
* every zone type, as long as the node holds the vnet's gateway: a subnet is served when its
  gateway is an address of the vnet bridge in this node's plan (simple zones, and evpn zones
  where the anycast gateway is on the vnet). Without the plan's links, the zone type decides;
* IPv6 subnets shorter than /64 are left out with a warning (dnsmasq refuses them);
* a subnet needs a gateway (IPv4 for the router option, IPv6 for the router advertisements):
  without one it is left out with a warning, as upstream's "IPv6 subnet without gateway" error;
* MTU (DHCP option 26 and RA): the vnet bridge's planned MTU, else the zone's ``mtu``, else 1500;
* VRF: when the vnet bridges are enslaved to a VRF (evpn), the server runs inside it: a DHCP
  socket outside the VRF never sees requests arriving on its bridges (measured in UML).

Static mappings are not configuration but IPAM state: :func:`with_hosts` folds them in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from sdnkit.config.model import IPAddress, SdnConfig, Subnet, Zone, ZoneType
from sdnkit.ipam.base import Allocation
from sdnkit.plan.context import PlanContext
from sdnkit.plan.desired import (
    AnyLink,
    Bridge,
    DhcpHost,
    DhcpInstance,
    DhcpRangePlan,
    DhcpSubnet,
    NodePlan,
)

__all__ = ["DhcpPlan", "contribute_dhcp", "hosts_for", "plan_dhcp", "with_hosts"]

DEFAULT_MTU = 1500
MIN_PREFIX_V6 = 64  # dnsmasq refuses shorter DHCPv6 ranges ("prefix length must be at least 64")
# zone types whose vnet bridges carry the subnet gateway (used when no links are given)
GATEWAY_ZONES = frozenset({ZoneType.SIMPLE, ZoneType.EVPN})
# zone types whose vnet is one node-local segment
LOCAL_SEGMENT_ZONES = frozenset({ZoneType.SIMPLE})


@dataclass(frozen=True, slots=True)
class DhcpPlan:
    instances: tuple[DhcpInstance, ...]
    warnings: tuple[str, ...] = ()


def _bridges(links: Sequence[AnyLink]) -> dict[str, Bridge]:
    return {link.name: link for link in links if isinstance(link, Bridge)}


def _holds_gateway(zone: Zone, sub: Subnet, bridges: dict[str, Bridge] | None) -> bool:
    if bridges is None:
        return zone.type in GATEWAY_ZONES
    bridge = bridges.get(sub.vnet)
    return bridge is not None and any(a.ip == sub.gateway for a in bridge.addresses)


def _dhcp_subnet(sub: Subnet) -> DhcpSubnet:
    return DhcpSubnet(
        subnet=sub.id,
        vnet=sub.vnet,
        network=sub.network,
        gateway=sub.gateway,
        dns_server=sub.dhcp_dns_server,
        ranges=tuple(DhcpRangePlan(start=r.start, end=r.end) for r in sub.dhcp_ranges),
    )


def _mtu(zone: Zone, vnets: Iterable[str], bridges: dict[str, Bridge] | None) -> int:
    for vnet in vnets:
        bridge = (bridges or {}).get(vnet)
        if bridge is not None and bridge.mtu:
            return bridge.mtu
    return zone.mtu or DEFAULT_MTU


def _vrf(vnets: Iterable[str], bridges: dict[str, Bridge] | None) -> str | None:
    """The VRF of the zone's vnet bridges: a DHCP socket outside it would never see a request."""
    vrfs = {b.vrf for v in vnets if (b := (bridges or {}).get(v)) is not None and b.vrf}
    return min(vrfs) if vrfs else None


def _zone_instance(
    config: SdnConfig, zone: Zone, bridges: dict[str, Bridge] | None, warnings: list[str]
) -> DhcpInstance | None:
    subnets: list[DhcpSubnet] = []
    for vnet in config.vnets_of(zone.id):
        for sub in config.subnets_of(vnet.id):
            if sub.gateway is None:
                warnings.append(
                    f'subnet "{sub.id}": no gateway, so DHCP does not serve it (zone "{zone.id}")'
                )
            elif sub.version == 6 and sub.prefixlen < MIN_PREFIX_V6:
                warnings.append(
                    f'subnet "{sub.id}": DHCPv6 needs a prefix of /{MIN_PREFIX_V6} or longer, not served'
                )
            elif _holds_gateway(zone, sub, bridges):
                subnets.append(_dhcp_subnet(sub))
    if not subnets:
        return None
    vnets = sorted({s.vnet for s in subnets})
    return DhcpInstance(
        zone=zone.id,
        mtu=_mtu(zone, vnets, bridges),
        subnets=tuple(subnets),
        plugin=zone.dhcp or "dnsmasq",
        shared_segment=zone.type not in LOCAL_SEGMENT_ZONES,
        vrf=_vrf(vnets, bridges),
    )


def plan_dhcp(config: SdnConfig, node: str, links: Sequence[AnyLink] | None = None) -> DhcpPlan:
    """The DHCP instances of ``node`` for the running ``config`` (``links``: the node's planned links)."""
    zones = [zone for zone in config.zones.values() if zone.dhcp and zone.on_node(node)]
    bridges = _bridges(links) if links is not None and zones else None
    warnings: list[str] = []
    instances = []
    for zone in zones:
        inst = _zone_instance(config, zone, bridges, warnings)
        if inst is not None:
            instances.append(inst)
    return DhcpPlan(tuple(instances), tuple(warnings))


def _sort_key(ip: IPAddress) -> tuple[int, int]:
    return ip.version, int(ip)


def hosts_for(inst: DhcpInstance, entries: Iterable[Allocation]) -> tuple[DhcpHost, ...]:
    """The static mappings of ``inst``: addresses with a MAC in the instance's subnets."""
    nets = [s.network for s in inst.subnets]
    by_mac: dict[str, set[IPAddress]] = defaultdict(set)
    for alloc in entries:
        mac = alloc.entry.mac
        if alloc.zone != inst.zone or alloc.entry.gateway or not mac:
            continue
        if any(alloc.ip in net for net in nets):
            by_mac[mac.lower()].add(alloc.ip)
    return tuple(
        DhcpHost(mac=mac, ips=tuple(sorted(ips, key=_sort_key))) for mac, ips in sorted(by_mac.items())
    )


def with_hosts(instances: Iterable[DhcpInstance], entries: Iterable[Allocation]) -> tuple[DhcpInstance, ...]:
    """``instances`` with their static mappings taken from IPAM ``entries``."""
    entries = list(entries)
    return tuple(replace(inst, hosts=hosts_for(inst, entries)) for inst in instances)


def contribute_dhcp(ctx: PlanContext, plan: NodePlan) -> NodePlan:
    """Planner contributor: the DHCP instances, from the bridges planned so far."""
    result = plan_dhcp(ctx.config, ctx.node, plan.links)
    for warning in result.warnings:
        ctx.warn(warning)
    return replace(plan, dhcp=result.instances)
