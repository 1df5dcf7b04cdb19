"""The node's links: zone blocks checked and merged once per layout, the rest per node.

PVE's rules, applied in vnet ID order: a vnet whose zone is missing, that cannot be planned or
that fails the safety checks (``plan/ownership.py``) is left out with a warning; the links of
the others are merged (``plan/links.py``), then the fabric interfaces. The outcome of the vnet
part depends on the zone blocks and on those of the node's interface names that the blocks'
links could collide with, together the :class:`LayoutKey`: it is computed once per
configuration and key and shared by nodes with equal keys. What stays per node is cheap: the
zones' tunnel endpoints are set on their ``Vxlan`` links (nothing above reads them), the fabric
interfaces are merged in, and the SNAT rules are made from the node's egress.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from itertools import chain, compress, repeat
from operator import attrgetter, itemgetter

from sdnkit.config.model import SdnConfig, Subnet, Vnet
from sdnkit.errors import PlanError
from sdnkit.plan.blocks import ZoneBlock, zone_block
from sdnkit.plan.context import ConfigIndex, PlanContext
from sdnkit.plan.desired import AnyLink, Existing, SnatRule, Vlan, Vxlan
from sdnkit.plan.fabrics import fabric_links
from sdnkit.plan.frozen import copier
from sdnkit.plan.links import LinkMerger
from sdnkit.plan.ownership import Ownership, node_names
from sdnkit.plan.zones import ZONE_TYPES, ZoneKind
from sdnkit.plan.zones.base import NO_ENDPOINT, Endpoint, ZoneInputs
from sdnkit.plan.zones.gateway import snat_rules

with_endpoint = copier(Vxlan, "local_ip", "remote_ips")
_NAME = attrgetter("name")
Tunnels = tuple[tuple[str, tuple[int, ...]], ...]  # zone -> indexes of its Vxlan links


@dataclass(frozen=True, slots=True)
class LayoutKey:
    """Everything the merged vnet links depend on besides the configuration."""

    zones: tuple[tuple[str, ZoneKind, ZoneInputs], ...]  # the zones deployed here, by ID
    node_names: frozenset[str]  # the node's interfaces and ports that vnet links would create
    own_ifaces: frozenset[str]  # the node's interfaces named like implicit VLAN devices of vnets


@dataclass(frozen=True, slots=True)
class SnatSource:
    position: int  # of the vnet in ID order
    vnet: str
    subnets: tuple[Subnet, ...]
    used: bool  # the vnet passed the checks: its rules are planned (the warnings come either way)


@dataclass(frozen=True, slots=True)
class LinkLayout:
    links: tuple[AnyLink, ...]  # merged, sorted by name; Vxlan links without endpoints
    tunnels: Tunnels
    warnings: tuple[tuple[int, str], ...]  # (vnet position, message), in vnet order
    snat: tuple[SnatSource, ...]  # in vnet order
    shared: Mapping[str, int]  # the merge's state, for the fabric links that come after


def _not_ours(own_ifaces: frozenset[str], link: AnyLink) -> AnyLink:
    """A VLAN device the node already has (``eth0.100`` in its own config) is used, not owned:
    removing the vnet later must not remove the node's device."""
    if isinstance(link, Vlan) and link.implicit and link.name in own_ifaces:
        return Existing(name=link.name, role=link.role)
    return link


def _tunnels(links: tuple[AnyLink, ...], blocks: Mapping[str, ZoneBlock]) -> Tunnels:
    zone_of = {key: zone for zone, block in blocks.items() for key in block.tunnels}
    where: dict[str, list[int]] = {}
    for i in compress(range(len(links)), map(isinstance, links, repeat(Vxlan))):
        zone = zone_of.get(id(links[i]))
        if zone is not None:  # every Vxlan link comes from a zone: planned there, it has its endpoint
            where.setdefault(zone, []).append(i)
    return tuple((zone, tuple(indexes)) for zone, indexes in sorted(where.items()))


def _sequential(
    config: SdnConfig,
    index: ConfigIndex,
    blocks: Mapping[str, ZoneBlock],
    vnets: Iterable[tuple[int, Vnet]],
    node_names: frozenset[str],
    own_ifaces: frozenset[str],
) -> LinkLayout:
    """PVE's loop over the vnets (with their positions in ID order), the node taken out."""
    ownership = Ownership(node_names)
    links: list[AnyLink] = []
    warnings: list[tuple[int, str]] = []
    snat: list[SnatSource] = []
    for pos, vnet in vnets:
        block = blocks.get(vnet.zone)
        if block is None:
            if vnet.zone not in config.zones:
                warnings.append((pos, f'vnet "{vnet.id}": zone "{vnet.zone}" does not exist'))
            continue
        planned = block.vnets.get(vnet.id)
        try:
            if planned is None:
                raise PlanError(block.errors[vnet.id])
            ownership.check(planned.links)
        except PlanError as err:
            warnings.append((pos, f'zone "{vnet.zone}": vnet "{vnet.id}": {err}'))
            if planned is not None and planned.snat:
                snat.append(SnatSource(pos, vnet.id, planned.snat, used=False))
            continue
        if planned.snat:
            snat.append(SnatSource(pos, vnet.id, planned.snat, used=True))
        if not own_ifaces or own_ifaces.isdisjoint(map(_NAME, planned.links)):
            links.extend(planned.links)
        else:
            links.extend(_not_ours(own_ifaces, link) for link in planned.links)
    merger = LinkMerger()
    merger.add(links)
    merged = merger.links()
    return LinkLayout(merged, _tunnels(merged, blocks), tuple(warnings), tuple(snat), merger.shared)


def _alone(config: SdnConfig, index: ConfigIndex, block: ZoneBlock) -> LinkLayout:
    """The block's vnets checked and merged by themselves (kept: other layouts reuse it)."""
    vnets = [(index.position[v.id], v) for v in config.vnets_of(block.zone)]
    build = partial(_sequential, config, index, {block.zone: block}, vnets, frozenset(), frozenset())
    return config.derived((__name__, "alone", block.key), build)


def _independent(blocks: Iterable[ZoneBlock]) -> bool:
    """Whether no two blocks have a link name or a bridge port in common: then no vnet's
    checks or merge depend on another zone's vnets."""
    for sets in ([b.names for b in blocks], [b.ports for b in blocks]):
        if len(frozenset().union(*sets)) != sum(map(len, sets)):
            return False
    return True


def _compose(config: SdnConfig, index: ConfigIndex, blocks: Mapping[str, ZoneBlock]) -> LinkLayout:
    """What :func:`_sequential` gives for independent blocks, from each block's own layout."""
    parts = [_alone(config, index, block) for block in blocks.values()]
    missing = [
        (pos, f'vnet "{vnet.id}": zone "{vnet.zone}" does not exist')
        for pos, vnet in enumerate(index.vnets)
        if vnet.zone not in config.zones
    ]
    links = tuple(sorted(chain.from_iterable(p.links for p in parts), key=_NAME))
    shared: dict[str, int] = {}
    for part in parts:
        shared.update(part.shared)
    return LinkLayout(
        links,
        _tunnels(links, blocks),
        tuple(sorted(chain(missing, *(p.warnings for p in parts)), key=itemgetter(0))),
        tuple(sorted(chain.from_iterable(p.snat for p in parts), key=attrgetter("position"))),
        shared,
    )


def _build(
    config: SdnConfig, index: ConfigIndex, blocks: Mapping[str, ZoneBlock], key: LayoutKey
) -> LinkLayout:
    """PVE's loop over every vnet; composed from the zones' own layouts when that is the same."""
    if not key.node_names and not key.own_ifaces and _independent(blocks.values()):
        return _compose(config, index, blocks)
    vnets = enumerate(index.vnets)
    return _sequential(config, index, blocks, vnets, key.node_names, key.own_ifaces)


def _endpoints(layout: LinkLayout, endpoints: Mapping[str, Endpoint]) -> tuple[AnyLink, ...]:
    """The layout's links with each zone's endpoints set on its Vxlan links."""
    out = list(layout.links)
    for zone, indexes in layout.tunnels:
        ep = endpoints[zone]
        if ep == NO_ENDPOINT:
            continue
        for i in indexes:
            out[i] = with_endpoint(out[i], ep.local_ip, ep.remote_ips)
    return tuple(out)


def _snat(ctx: PlanContext, layout: LinkLayout) -> tuple[tuple[SnatRule, ...], list[tuple[int, int, str]]]:
    rules: list[SnatRule] = []
    warnings: list[tuple[int, int, str]] = []  # (position, 0: before the vnet's other warning, message)
    for src in layout.snat:
        made, warned = snat_rules(ctx.facts, ctx.index, src.vnet, src.subnets)
        if src.used:
            rules += made
        warnings += [(src.position, 0, w) for w in warned]
    return tuple(rules), warnings


def _layout(ctx: PlanContext) -> tuple[LinkLayout, dict[str, Endpoint]]:
    zones = {z.id: z for z in ctx.zones_here()}
    inputs = {zid: ZONE_TYPES[z.type].node_inputs(ctx, z) for zid, z in zones.items()}
    kinds = {zid: ZONE_TYPES[z.type] for zid, z in zones.items()}
    blocks = [zone_block(ctx.config, ctx.index, z, kinds[zid], inputs[zid][0]) for zid, z in zones.items()]
    key = LayoutKey(
        zones=tuple((zid, kinds[zid], inputs[zid][0]) for zid in zones),
        node_names=frozenset(n for n in node_names(ctx.facts) if any(n in b.created for b in blocks)),
        own_ifaces=frozenset(n for n in ctx.facts.interfaces if any(n in b.implicit for b in blocks)),
    )
    by_zone = {b.zone: b for b in blocks}
    layout = ctx.config.derived((__name__, key), lambda: _build(ctx.config, ctx.index, by_zone, key))
    return layout, {zid: endpoint for zid, (_, endpoint) in inputs.items()}


def plan_links(ctx: PlanContext) -> tuple[tuple[AnyLink, ...], tuple[SnatRule, ...]]:
    """The node's links and SNAT rules; warnings go to ``ctx``."""
    layout, endpoints = _layout(ctx)
    links = _endpoints(layout, endpoints)
    fabric = fabric_links(ctx)
    if fabric:  # merged after every vnet's links, as PVE
        merger = LinkMerger(links, layout.shared)
        merger.add(fabric)
        links = merger.links()
    rules, snat_warnings = _snat(ctx, layout)
    warnings = [(pos, 1, msg) for pos, msg in layout.warnings] + snat_warnings
    for *_, message in sorted(warnings, key=lambda w: (w[0], w[1])):  # stable: vnet order, as PVE
        ctx.warn(message)
    return links, rules
