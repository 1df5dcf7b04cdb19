"""``plan_node``: the pure function from (running config, node facts) to a ``NodePlan``.

The plan is assembled by a list of contributors, each adding its part to the plan made so far
(later contributors can read earlier parts, e.g. DHCP reads the planned bridges). Adding a part
is one function and one entry in ``CONTRIBUTORS``. Nothing here reads the live system, a clock
or randomness: same inputs, same plan.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

from sdnkit.config.running import RunningConfig
from sdnkit.errors import PlanError
from sdnkit.plan.context import PlanContext
from sdnkit.plan.desired import AnyLink, Bridge, Existing, NodePlan, SnatRule, Vlan
from sdnkit.plan.dhcp import contribute_dhcp
from sdnkit.plan.fabrics import fabric_links
from sdnkit.plan.facts import NodeFacts
from sdnkit.plan.firewall import contribute_ipsets
from sdnkit.plan.frr import plan_frr
from sdnkit.plan.links import merge_links
from sdnkit.plan.zones import ZONE_TYPES

Contributor = Callable[[PlanContext, NodePlan], NodePlan]


def _creates(link: AnyLink) -> bool:
    """Whether applying the link creates a device (rather than configuring one the node has)."""
    return link.owned and not (isinstance(link, Vlan) and link.implicit)


class _Ownership:
    """Refuses vnets that would take over the node's own interfaces or another bridge's ports."""

    def __init__(self, ctx: PlanContext) -> None:
        ifaces = ctx.facts.interfaces
        self.node_names = set(ifaces) | {port for info in ifaces.values() for port in info.ports}
        self.port_of: dict[str, str] = {}  # port -> bridge
        self.ports_of: dict[str, tuple[str, ...]] = {}  # bridge -> ports
        self.checked: set[int] = set()  # shared zone links come again with every vnet of the zone

    def check(self, links: tuple[AnyLink, ...]) -> None:
        links = tuple(link for link in links if id(link) not in self.checked)
        for link in links:
            if _creates(link) and link.name in self.node_names:
                raise PlanError(f'interface "{link.name}" already exists on the node and is not ours')
            if isinstance(link, Bridge):
                self._check_ports(link)
        for link in links:
            self.checked.add(id(link))
            if isinstance(link, Bridge):
                self.port_of.update(dict.fromkeys(link.ports, link.name))
                self.ports_of.setdefault(link.name, link.ports)

    def _check_ports(self, bridge: Bridge) -> None:
        for port in bridge.ports:
            owner = self.port_of.get(port, bridge.name)
            if owner != bridge.name:
                raise PlanError(f'port "{port}" of "{bridge.name}" already belongs to bridge "{owner}"')
        known = self.ports_of.get(bridge.name, bridge.ports)
        if known != bridge.ports:  # e.g. two VLAN zones' vnets on one "<bridge>v<tag>" bridge
            raise PlanError(f'bridge "{bridge.name}" is already planned with other ports ({" ".join(known)})')


def _vnet_parts(ctx: PlanContext) -> Iterator[tuple[tuple[AnyLink, ...], tuple[SnatRule, ...]]]:
    """Each vnet deployed here, in vnet ID order (PVE skips, with a warning, what fails)."""
    zones = {z.id: z for z in ctx.zones_here()}
    ownership = _Ownership(ctx)
    for vnet in ctx.vnets():
        zone = zones.get(vnet.zone)
        if zone is None:
            if vnet.zone not in ctx.config.zones:
                ctx.warn(f'vnet "{vnet.id}": zone "{vnet.zone}" does not exist')
            continue
        try:
            part = ZONE_TYPES[zone.type](ctx, zone, vnet)
            ownership.check(part.links)
        except PlanError as err:
            ctx.warn(f'zone "{zone.id}": vnet "{vnet.id}": {err}')
            continue
        yield part.links, part.snat


def _not_ours(ctx: PlanContext, link: AnyLink) -> AnyLink:
    """A VLAN device the node already has (``eth0.100`` in its own config) is used, not owned:
    removing the vnet later must not remove the node's device."""
    if isinstance(link, Vlan) and link.implicit and link.name in ctx.facts.interfaces:
        return Existing(name=link.name, role=link.role)
    return link


def contribute_links(ctx: PlanContext, plan: NodePlan) -> NodePlan:
    links: list[AnyLink] = []
    snat: list[SnatRule] = []
    for vnet_links, vnet_snat in _vnet_parts(ctx):
        links.extend(_not_ours(ctx, link) for link in vnet_links)
        snat.extend(vnet_snat)
    links.extend(fabric_links(ctx))
    return replace(plan, links=merge_links(links), snat=tuple(snat))


def contribute_frr(ctx: PlanContext, plan: NodePlan) -> NodePlan:
    frr = plan_frr(ctx)
    return replace(plan, frr=frr.config, frr_daemons=frr.daemons)


# in order; DHCP instances (plan/dhcp.py) and firewall IP sets (plan/firewall.py) add theirs here
CONTRIBUTORS: tuple[Contributor, ...] = (
    contribute_links,
    contribute_frr,
    contribute_dhcp,
    contribute_ipsets,
)


def plan_node(running: RunningConfig, facts: NodeFacts) -> NodePlan:
    ctx = PlanContext(running, facts)
    plan = NodePlan(node=facts.node, version=running.version)
    for contribute in CONTRIBUTORS:
        plan = contribute(ctx, plan)
    return replace(plan, warnings=plan.warnings + tuple(ctx.warnings))
