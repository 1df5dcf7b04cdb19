"""A mutable accumulator for the FRR tree while the controllers, zones and fabrics add to it.

PVE builds its FRR hash in several passes (controllers, then zones, then vnets, then the local
file), each appending to what the others made: "first one creates the router", route-map entries
prepended per exit zone, and so on. The builder keeps that ordering logic in one place and
``build()`` freezes the result into :class:`~sdnkit.plan.frr.model.FrrConfig`.

Each ``*Draft`` is the mutable twin of one frozen model type and has exactly its fields, under the
same names (lists where the model has tuples), so :func:`_frozen` can copy them over by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from sdnkit.plan.frr.model import (
    DEFAULT_VRF,
    PVE_FRR_VERSION,
    AccessList,
    AfNeighbor,
    BgpRouter,
    EvpnFamily,
    FrrConfig,
    IpRoute,
    IsisInterface,
    IsisRouter,
    NeighborGroup,
    OpenFabricInterface,
    OpenFabricRouter,
    OspfInterface,
    OspfRouter,
    PrefixList,
    PrefixListEntry,
    ProtocolRouteMap,
    Redistribute,
    RouteMap,
    RouteMapEntry,
    UnicastFamily,
    Vrf,
)

Frozen = TypeVar("Frozen")


def _frozen(draft: Any, kind: type[Frozen]) -> Frozen:
    """``kind`` made from the same-named fields of ``draft``: lists become tuples, drafts freeze."""
    values: dict[str, Any] = {}
    for f in fields(draft):
        value = getattr(draft, f.name)
        if isinstance(value, list):
            value = tuple(value)
        elif isinstance(value, UnicastDraft | EvpnDraft):
            value = value.freeze()
        values[f.name] = value
    return kind(**values)


@dataclass(slots=True)
class UnicastDraft:
    networks: list[str] = field(default_factory=list)
    import_vrf: list[str] = field(default_factory=list)
    neighbors: list[AfNeighbor] = field(default_factory=list)
    redistribute: list[Redistribute] = field(default_factory=list)
    custom: list[str] = field(default_factory=list)

    def freeze(self) -> UnicastFamily:
        return _frozen(self, UnicastFamily)


@dataclass(slots=True)
class EvpnDraft:
    neighbors: list[AfNeighbor] = field(default_factory=list)
    advertise_all_vni: bool = False
    autort_as: int | None = None
    default_originate: list[str] = field(default_factory=list)
    advertise_ipv4_unicast: bool = False
    advertise_ipv6_unicast: bool = False
    rt_import: list[str] = field(default_factory=list)
    rt_export: list[str] = field(default_factory=list)
    custom: list[str] = field(default_factory=list)

    def freeze(self) -> EvpnFamily:
        return _frozen(self, EvpnFamily)


@dataclass(slots=True)
class RouterDraft:
    vrf: str
    asn: int
    router_id: str
    hard_administrative_reset: bool | None = None
    default_ipv4_unicast: bool | None = None
    coalesce_time: int | None = None
    graceful_restart_notification: bool | None = None
    disable_ebgp_connected_route_check: bool = False
    bestpath_as_path_multipath_relax: bool = False
    neighbor_groups: list[NeighborGroup] = field(default_factory=list)
    custom: list[str] = field(default_factory=list)
    ipv4_unicast: UnicastDraft | None = None
    ipv6_unicast: UnicastDraft | None = None
    l2vpn_evpn: EvpnDraft | None = None

    def unicast(self, family: str) -> UnicastDraft:
        """The ``ipv4`` or ``ipv6`` unicast family, created on first use."""
        if family == "ipv4":
            self.ipv4_unicast = self.ipv4_unicast or UnicastDraft()
            return self.ipv4_unicast
        self.ipv6_unicast = self.ipv6_unicast or UnicastDraft()
        return self.ipv6_unicast

    def evpn(self) -> EvpnDraft:
        """The ``l2vpn evpn`` family, created on first use."""
        self.l2vpn_evpn = self.l2vpn_evpn or EvpnDraft()
        return self.l2vpn_evpn

    def freeze(self) -> BgpRouter:
        return _frozen(self, BgpRouter)


@dataclass(slots=True)
class VrfDraft:
    name: str
    vni: int | None = None
    ip_routes: list[IpRoute] = field(default_factory=list)
    custom: list[str] = field(default_factory=list)

    def freeze(self) -> Vrf:
        return _frozen(self, Vrf)


@dataclass(frozen=True, slots=True)
class PendingEntry:
    """A route-map entry; ``seq=None`` is numbered by position, as PVE's generated entries are."""

    action: str
    matches: tuple[str, ...] = ()
    sets: tuple[str, ...] = ()
    seq: int | None = None


@dataclass(slots=True)
class FrrBuilder:
    hostname: str
    version: str = PVE_FRR_VERSION
    vrfs: dict[str, VrfDraft] = field(default_factory=dict)
    routers: dict[str, RouterDraft] = field(default_factory=dict)
    isis_routers: dict[str, IsisRouter] = field(default_factory=dict)
    isis_interfaces: dict[str, IsisInterface] = field(default_factory=dict)
    prefix_lists: dict[str, dict[int, PrefixListEntry]] = field(default_factory=dict)
    prefix_list_v6: set[str] = field(default_factory=set)
    custom: list[str] = field(default_factory=list)
    openfabric_routers: dict[str, OpenFabricRouter] = field(default_factory=dict)
    openfabric_interfaces: dict[str, OpenFabricInterface] = field(default_factory=dict)
    ospf_router: OspfRouter | None = None
    ospf_interfaces: dict[str, OspfInterface] = field(default_factory=dict)
    access_lists: dict[str, AccessList] = field(default_factory=dict)
    route_maps: dict[str, list[PendingEntry]] = field(default_factory=dict)
    ip_routes: list[IpRoute] = field(default_factory=list)
    protocol_route_maps: dict[str, ProtocolRouteMap] = field(default_factory=dict)

    def vrf(self, name: str) -> VrfDraft:
        return self.vrfs.setdefault(name, VrfDraft(name))

    def router(self, vrf: str = DEFAULT_VRF) -> RouterDraft | None:
        return self.routers.get(vrf)

    def add_router(self, router: RouterDraft) -> RouterDraft:
        """Add ``router`` unless its VRF has one already (PVE: the first controller creates it)."""
        return self.routers.setdefault(router.vrf, router)

    def set_prefix(self, name: str, entry: PrefixListEntry, *, ipv6: bool = False) -> None:
        self.prefix_lists.setdefault(name, {})[entry.seq] = entry
        if ipv6:
            self.prefix_list_v6.add(name)

    def append_route_map(self, name: str, entry: PendingEntry) -> None:
        self.route_maps.setdefault(name, []).append(entry)

    def prepend_route_map(self, name: str, entry: PendingEntry) -> None:
        self.route_maps.setdefault(name, []).insert(0, entry)

    def numbered_entries(self, name: str) -> int:
        """How many entries of route map ``name`` are numbered by position."""
        return sum(1 for e in self.route_maps.get(name, ()) if e.seq is None)

    def set_protocol_route_map(self, protocol: str, *, v4: str | None = None, v6: str | None = None) -> None:
        old = self.protocol_route_maps.get(protocol, ProtocolRouteMap(protocol=protocol))
        self.protocol_route_maps[protocol] = ProtocolRouteMap(
            protocol=protocol, v4=v4 or old.v4, v6=v6 or old.v6
        )

    def build(self) -> FrrConfig:
        default = [self.routers[DEFAULT_VRF]] if DEFAULT_VRF in self.routers else []
        others = [self.routers[v] for v in sorted(self.routers) if v != DEFAULT_VRF]
        return FrrConfig(
            hostname=self.hostname,
            version=self.version,
            vrfs=tuple(self.vrfs[n].freeze() for n in sorted(self.vrfs)),
            bgp_routers=tuple(r.freeze() for r in default + others),
            isis_routers=tuple(self.isis_routers[n] for n in sorted(self.isis_routers)),
            isis_interfaces=tuple(self.isis_interfaces[n] for n in sorted(self.isis_interfaces)),
            prefix_lists=tuple(self._prefix_list(n) for n in sorted(self.prefix_lists)),
            custom=tuple(self.custom),
            openfabric_routers=tuple(self.openfabric_routers[n] for n in sorted(self.openfabric_routers)),
            openfabric_interfaces=tuple(
                self.openfabric_interfaces[n] for n in sorted(self.openfabric_interfaces)
            ),
            ospf_router=self.ospf_router,
            ospf_interfaces=tuple(self.ospf_interfaces[n] for n in sorted(self.ospf_interfaces)),
            access_lists=tuple(self.access_lists[n] for n in sorted(self.access_lists)),
            route_maps=tuple(self._route_map(n) for n in sorted(self.route_maps)),
            ip_routes=tuple(self.ip_routes),
            protocol_route_maps=tuple(self.protocol_route_maps[p] for p in sorted(self.protocol_route_maps)),
        )

    def _prefix_list(self, name: str) -> PrefixList:
        entries = self.prefix_lists[name]
        return PrefixList(
            name=name, is_ipv6=name in self.prefix_list_v6, entries=tuple(entries[s] for s in sorted(entries))
        )

    def _route_map(self, name: str) -> RouteMap:
        out: list[RouteMapEntry] = []
        position = 0
        for entry in self.route_maps[name]:
            if entry.seq is None:
                position += 1
            seq = position if entry.seq is None else entry.seq
            out.append(RouteMapEntry(action=entry.action, seq=seq, matches=entry.matches, sets=entry.sets))
        return RouteMap(name=name, entries=tuple(out))
