"""The FRR configuration of one node as a typed, immutable tree (spec §3.8 "Data model").

The shape follows proxmox-frr's ``FrrConfig``: BGP VRFs and routers, IS-IS, OpenFabric and OSPF
routers with their interfaces, prefix lists, access lists, route maps, static routes and
``ip protocol`` route maps, plus the ``custom`` lines merged in from ``frr.conf.local``. Every
collection is a tuple in render order (maps sorted by name, as PVE's BTreeMaps), so equal
configurations render equal text. ``render/frr.py`` turns it into ``frr.conf``.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_VRF = "default"
# the header PVE writes (quirk §10.22: hard-coded, not the installed FRR version)
PVE_FRR_VERSION = "10.4.1"


@dataclass(frozen=True, slots=True, kw_only=True)
class NeighborGroup:
    name: str
    remote_as: str  # an ASN or "external"
    bfd: bool = False
    ebgp_multihop: int | None = None
    update_source: str | None = None
    ips: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AfNeighbor:
    name: str
    soft_reconfiguration_inbound: bool = False
    next_hop_self: bool = False
    route_map_in: str | None = None
    route_map_out: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Redistribute:
    protocol: str
    metric: int | None = None
    route_map: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UnicastFamily:
    """``address-family ipv4 unicast`` / ``ipv6 unicast`` of a BGP router."""

    networks: tuple[str, ...] = ()
    import_vrf: tuple[str, ...] = ()
    neighbors: tuple[AfNeighbor, ...] = ()
    redistribute: tuple[Redistribute, ...] = ()
    custom: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class EvpnFamily:
    """``address-family l2vpn evpn`` of a BGP router."""

    neighbors: tuple[AfNeighbor, ...] = ()
    advertise_all_vni: bool = False
    autort_as: int | None = None
    default_originate: tuple[str, ...] = ()  # "ipv4", "ipv6"
    advertise_ipv4_unicast: bool = False
    advertise_ipv6_unicast: bool = False
    rt_import: tuple[str, ...] = ()
    rt_export: tuple[str, ...] = ()
    custom: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class BgpRouter:
    """``router bgp <asn> [vrf <vrf>]``; ``None`` flags render nothing (PVE leaves them out)."""

    vrf: str = DEFAULT_VRF
    asn: int
    router_id: str
    hard_administrative_reset: bool | None = None
    default_ipv4_unicast: bool | None = None
    coalesce_time: int | None = None
    graceful_restart_notification: bool | None = None
    disable_ebgp_connected_route_check: bool = False
    bestpath_as_path_multipath_relax: bool = False
    neighbor_groups: tuple[NeighborGroup, ...] = ()
    custom: tuple[str, ...] = ()
    ipv4_unicast: UnicastFamily | None = None
    ipv6_unicast: UnicastFamily | None = None
    l2vpn_evpn: EvpnFamily | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class IpRoute:
    """A static route: ``ip[v6] route <prefix> <via> [<dev>]`` (via may be ``null0``)."""

    prefix: str
    via: str
    dev: str | None = None
    is_ipv6: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Vrf:
    name: str
    vni: int | None = None
    ip_routes: tuple[IpRoute, ...] = ()
    custom: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class IsisRouter:
    domain: str
    net: str
    custom: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class IsisInterface:
    name: str
    domain: str
    custom: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenFabricRouter:
    name: str
    net: str
    custom: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenFabricInterface:
    name: str
    fabric: str
    ipv4: bool = False
    ipv6: bool = False
    passive: bool = False
    hello_interval: int | None = None
    hello_multiplier: int | None = None
    csnp_interval: int | None = None
    custom: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class OspfRouter:
    router_id: str
    custom: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class OspfInterface:
    name: str
    area: str
    passive: bool = False
    network_type: str | None = None  # "point-to-point" for unnumbered links
    custom: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PrefixListEntry:
    seq: int
    action: str
    network: str
    le: int | None = None
    ge: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PrefixList:
    name: str
    is_ipv6: bool = False
    entries: tuple[PrefixListEntry, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessListEntry:
    action: str
    network: str
    seq: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessList:
    name: str
    is_ipv6: bool = False
    entries: tuple[AccessListEntry, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteMapEntry:
    """One ``route-map <name> <action> <seq>`` entry; ``matches``/``sets`` are "key value" text."""

    action: str
    seq: int
    matches: tuple[str, ...] = ()
    sets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteMap:
    name: str
    entries: tuple[RouteMapEntry, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolRouteMap:
    """``ip protocol <protocol> route-map <v4>`` and ``ipv6 protocol <protocol> route-map <v6>``."""

    protocol: str
    v4: str | None = None
    v6: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FrrConfig:
    hostname: str
    version: str = PVE_FRR_VERSION
    vrfs: tuple[Vrf, ...] = ()
    bgp_routers: tuple[BgpRouter, ...] = ()  # the default VRF's router first, then by VRF name
    isis_routers: tuple[IsisRouter, ...] = ()
    isis_interfaces: tuple[IsisInterface, ...] = ()
    prefix_lists: tuple[PrefixList, ...] = ()
    custom: tuple[str, ...] = ()  # frr.conf.local blocks that merge into nothing generated
    openfabric_routers: tuple[OpenFabricRouter, ...] = ()
    openfabric_interfaces: tuple[OpenFabricInterface, ...] = ()
    ospf_router: OspfRouter | None = None
    ospf_interfaces: tuple[OspfInterface, ...] = ()
    access_lists: tuple[AccessList, ...] = ()
    route_maps: tuple[RouteMap, ...] = ()
    ip_routes: tuple[IpRoute, ...] = ()
    protocol_route_maps: tuple[ProtocolRouteMap, ...] = ()

    def bgp_router(self, vrf: str = DEFAULT_VRF) -> BgpRouter | None:
        for router in self.bgp_routers:
            if router.vrf == vrf:
                return router
        return None

    def route_map(self, name: str) -> RouteMap | None:
        for route_map in self.route_maps:
            if route_map.name == name:
                return route_map
        return None
