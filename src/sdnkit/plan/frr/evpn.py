"""FRR for EVPN: the controller's VTEP peering, each zone's VRF router, exit-node routing.

Spec §3.8. The controller creates the default BGP router unless a BGP controller of this node did
(then the router lacks the hard-reset and graceful-restart lines, as upstream) and adds the
``VTEP`` peer group. Each EVPN zone on this node gets ``vrf vrf_<zone>`` (its L3VNI) and
``router bgp <asn> vrf vrf_<zone>``. On an exit node the zone also gets null routes for the other
zones' subnets, default-route origination, filters against other exit nodes' default routes
(or a lower preference when another node is primary), and either route leaking into the default
VRF or, with ``exitnodes-local-routing``, static routes through the xvrf veth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sdnkit.config.model import Controller, ControllerType, SdnConfig, Vnet, Zone
from sdnkit.plan.context import PlanContext, config_index
from sdnkit.plan.frr.builder import FrrBuilder, PendingEntry, RouterDraft
from sdnkit.plan.frr.model import (
    DEFAULT_VRF,
    PVE_FRR_VERSION,
    AfNeighbor,
    IpRoute,
    NeighborGroup,
    PrefixListEntry,
    Redistribute,
)
from sdnkit.plan.underlay import Underlay, router_id
from sdnkit.plan.zones.evpn import XVRF_V4, XVRF_V6, is_exit_node, zone_controller, zone_has_ipv6

EBGP_VTEP_MULTIHOP = 10
COALESCE_TIME = 1000
MAP_IN, MAP_OUT = "MAP_VTEP_IN", "MAP_VTEP_OUT"
ONLY_DEFAULT, ONLY_DEFAULT_V6 = "only_default", "only_default_v6"
# FRR before 9 (matches_evpn_prefixes): "match evpn default-route" there drops every route, so
# exit nodes drop (and secondaries de-prefer) all type-5 routes: defaults, and subnets they have
EVPN_DEFAULT = "evpn route-type prefix"
MIN_PREFIX_MATCH_MAJOR = 9
# zebra before 10.4 (FRR issue 16340, fixed by PR 18677) drops a VTEP's router MAC when the
# last route of one family through it goes or changes next hops, though the other family still
# uses it: the VTEP's whole L3VNI traffic is then lost. A zone without IPv6 subnets announces
# no IPv6 default there, so its exit nodes send no IPv6 route that could do that.
MIN_RMAC_PER_FAMILY = (10, 4)
SECONDARY_EXIT_METRIC = 200


@dataclass(frozen=True, slots=True)
class EvpnBgp:
    """The BGP identity EVPN runs with on this node."""

    asn: int
    ebgp: bool  # this node's BGP controller has another ASN than the EVPN controller
    autort_as: int | None
    underlay: Underlay
    router_id: str


def evpn_bgp(ctx: PlanContext, ctl: Controller) -> EvpnBgp:
    def compute() -> EvpnBgp:
        bgp = ctx.local_controller(ControllerType.BGP)
        asn = ctl.asn or 0
        ebgp = bgp is not None and bgp.asn != ctl.asn
        if bgp is not None and bgp.asn is not None:
            asn = bgp.asn
        underlay = ctx.evpn_underlay(ctl)
        rid = router_id(ctx.facts, underlay.local_ip, underlay.iface)
        return EvpnBgp(asn, ebgp, ctl.asn if ebgp else None, underlay, rid)

    return ctx.memo(("evpn-bgp", ctl.id), compute)


def plan_controller(ctx: PlanContext, b: FrrBuilder, ctl: Controller) -> None:
    eb = evpn_bgp(ctx, ctl)
    if not eb.asn:
        return
    router = b.add_router(
        RouterDraft(
            vrf=DEFAULT_VRF,
            asn=eb.asn,
            router_id=eb.router_id,
            hard_administrative_reset=False,
            default_ipv4_unicast=False,
            coalesce_time=COALESCE_TIME,
            graceful_restart_notification=False,
        )
    )
    loopback = eb.underlay.loopback
    router.neighbor_groups.append(
        NeighborGroup(
            name="VTEP",
            remote_as="external" if eb.ebgp else str(eb.asn),
            bfd=True,
            ebgp_multihop=EBGP_VTEP_MULTIHOP if eb.ebgp and loopback else None,
            update_source=loopback,
            ips=tuple(str(ip) for ip in eb.underlay.remotes),
        )
    )
    evpn = router.evpn()
    evpn.neighbors.append(AfNeighbor(name="VTEP", route_map_in=MAP_IN, route_map_out=MAP_OUT))
    evpn.advertise_all_vni = True
    evpn.autort_as = eb.autort_as
    b.append_route_map(MAP_IN, PendingEntry("permit"))
    b.append_route_map(MAP_OUT, PendingEntry("permit"))


def _null_routes(config: SdnConfig, zone: Zone) -> tuple[IpRoute, ...]:
    index = config_index(config)
    keys = set()
    for s in config.subnets.values():
        if s.zone != zone.id:
            address = s.address
            keys.add((address.version, int(address), index.network(s).prefixlen, str(address)))
    return tuple(
        IpRoute(prefix=f"{text}/{plen}", via="null0", is_ipv6=version == 6)
        for version, _, plen, text in sorted(keys)
    )


def null_routes(ctx: PlanContext, zone: Zone) -> list[IpRoute]:
    """Blackholes in the zone's VRF for every other zone's subnets (no routing between zones
    through the exit node). The prefixes keep the subnet IDs' addresses, as upstream (§10.5).
    The same on every exit node: computed once per configuration."""
    config = ctx.config
    return list(config.derived((__name__, "null_routes", zone.id), lambda: _null_routes(config, zone)))


def matches_evpn_prefixes(version: str | None) -> bool:
    """Whether FRR ``version`` matches EVPN type-5 routes against prefix lists (FRR 9 and later;
    before, such a match never hits and the exit nodes keep each other's default routes)."""
    major = (version or PVE_FRR_VERSION).split(".")[0]
    return not major.isdigit() or int(major) >= MIN_PREFIX_MATCH_MAJOR


def keeps_rmac_across_families(version: str | None) -> bool:
    """Whether FRR ``version``'s zebra keeps a router MAC while any route of either family uses
    it (10.4 and later; no version fact: PVE's, which does)."""
    numbers = [int(n) for n in re.findall(r"\d+", version or PVE_FRR_VERSION)[:2]]
    return tuple(numbers) >= MIN_RMAC_PER_FAMILY


def _default_matches(ctx: PlanContext, b: FrrBuilder) -> tuple[str, ...]:
    """The route-map matches for the default routes, one entry each (newest first)."""
    if not matches_evpn_prefixes(ctx.facts.frr_version):
        return (EVPN_DEFAULT,)  # older FRR: one match for both families
    b.set_prefix(ONLY_DEFAULT, PrefixListEntry(seq=1, action="permit", network="0.0.0.0/0"))
    b.set_prefix(ONLY_DEFAULT_V6, PrefixListEntry(seq=1, action="permit", network="::/0"), ipv6=True)
    return (f"ipv6 address prefix-list {ONLY_DEFAULT_V6}", f"ip address prefix-list {ONLY_DEFAULT}")


def _exit_filters(ctx: PlanContext, b: FrrBuilder, zone: Zone) -> None:
    """Default-route handling between exit nodes; repeated per exit zone as upstream (§10.7)."""
    matches = _default_matches(ctx, b)
    if not zone.exitnodes_primary or zone.exitnodes_primary == ctx.node:
        # drop the default routes other exit nodes announce
        for match in matches:
            b.prepend_route_map(MAP_IN, PendingEntry("deny", matches=(match,)))
    else:
        # make our default route less preferred than the primary's
        metric = f"metric {SECONDARY_EXIT_METRIC}"
        for match in matches:
            b.prepend_route_map(MAP_OUT, PendingEntry("permit", matches=(match,), sets=(metric,)))


def _redistribute_connected(router: RouterDraft) -> None:
    for family in ("ipv4", "ipv6"):
        af = router.unicast(family)
        if not any(r.protocol == "connected" for r in af.redistribute):
            af.redistribute.append(Redistribute(protocol="connected"))


def _exit_node(ctx: PlanContext, b: FrrBuilder, zone: Zone, router: RouterDraft) -> None:
    _exit_filters(ctx, b, zone)
    if not zone.exitnodes_local_routing:
        default = b.router(DEFAULT_VRF)
        if default is None:
            ctx.warn(f'zone "{zone.id}": no default BGP router to import vrf_{zone.id} into')
        else:
            for family in ("ipv4", "ipv6"):
                default.unicast(family).import_vrf.append(router.vrf)
        _redistribute_connected(router)
    families = ["ipv4", "ipv6"]
    if not keeps_rmac_across_families(ctx.facts.frr_version) and not zone_has_ipv6(ctx.config, zone):
        families.remove("ipv6")
    router.evpn().default_originate.extend(families)


def plan_zone(ctx: PlanContext, b: FrrBuilder, zone: Zone) -> None:
    ctl = zone_controller(ctx, zone)
    eb = evpn_bgp(ctx, ctl)
    if not zone.vrf_vxlan or not eb.asn:
        return
    vrf = b.vrf(f"vrf_{zone.id}")
    vrf.vni = zone.vrf_vxlan
    is_exit = is_exit_node(ctx, zone)
    if is_exit:
        vrf.ip_routes.extend(null_routes(ctx, zone))
    router = b.add_router(
        RouterDraft(
            vrf=vrf.name,
            asn=eb.asn,
            router_id=eb.router_id,
            hard_administrative_reset=False,
            graceful_restart_notification=False,
        )
    )
    if eb.autort_as is not None:
        rt = f"{eb.autort_as}:{zone.vrf_vxlan}"
        router.evpn().rt_import.append(rt)
        router.evpn().rt_export.append(rt)
    if is_exit:
        _exit_node(ctx, b, zone, router)
    if zone.advertise_subnets:  # upstream ignores it on exit nodes (§10.8); we do not
        _redistribute_connected(router)
        router.evpn().advertise_ipv4_unicast = True
        router.evpn().advertise_ipv6_unicast = True
    if zone.rt_import:
        if eb.autort_as is None:
            # a configured import route target replaces FRR's automatic one (asn:vrf-vxlan): without
            # it the zone's VRF would import nothing of its own zone (not upstream's; seen in the lab)
            router.evpn().rt_import.append(f"{eb.asn}:{zone.vrf_vxlan}")
        router.evpn().rt_import.extend(sorted(zone.rt_import))


def routes_vnets(ctx: PlanContext, zone: Zone) -> bool:
    """Whether :func:`plan_vnet` adds anything for the zone's vnets on this node."""
    return zone.exitnodes_local_routing and is_exit_node(ctx, zone)


def plan_vnet(ctx: PlanContext, b: FrrBuilder, zone: Zone, vnet: Vnet) -> None:
    """Exit nodes with local routing reach the vnet's subnets through the xvrf veth."""
    if not routes_vnets(ctx, zone):
        return
    dev = f"xvrf_{zone.id}"
    for sub in ctx.subnets(vnet.id):
        via = XVRF_V4[1].ip if sub.version == 4 else XVRF_V6[1].ip
        b.ip_routes.append(IpRoute(prefix=str(sub.network), via=str(via), dev=dev, is_ipv6=sub.version == 6))
