"""Safety checks on the links of each vnet, in vnet order: a vnet may not take over the node's
own interfaces or another bridge's ports (PVE would silently reconfigure them)."""

from __future__ import annotations

from sdnkit.errors import PlanError
from sdnkit.plan.desired import AnyLink, Bridge, Vlan
from sdnkit.plan.facts import NodeFacts


def node_names(facts: NodeFacts) -> frozenset[str]:
    """The node's own interfaces and their ports: names a vnet may not create."""
    ifaces = facts.interfaces
    return frozenset(ifaces) | {port for info in ifaces.values() for port in info.ports}


def creates(link: AnyLink) -> bool:
    """Whether applying the link creates a device (rather than configuring one the node has)."""
    return link.owned and not (isinstance(link, Vlan) and link.implicit)


class Ownership:
    """Refuses vnets that would take over the node's own interfaces or another bridge's ports."""

    def __init__(self, node_names: frozenset[str]) -> None:
        self.node_names = node_names
        self.port_of: dict[str, str] = {}  # port -> bridge
        self.ports_of: dict[str, tuple[str, ...]] = {}  # bridge -> ports
        self.checked: set[int] = set()  # shared zone links come again with every vnet of the zone

    def check(self, links: tuple[AnyLink, ...]) -> None:
        checked, node_names = self.checked, self.node_names
        fresh = [link for link in links if id(link) not in checked]
        bridges = [link for link in fresh if isinstance(link, Bridge)]
        for link in fresh:
            if link.name in node_names and creates(link):
                raise PlanError(f'interface "{link.name}" already exists on the node and is not ours')
            if isinstance(link, Bridge):
                self._check_ports(link)
        checked.update(map(id, fresh))
        for bridge in bridges:
            self.port_of.update(dict.fromkeys(bridge.ports, bridge.name))
            self.ports_of.setdefault(bridge.name, bridge.ports)

    def _check_ports(self, bridge: Bridge) -> None:
        for port in bridge.ports:
            owner = self.port_of.get(port, bridge.name)
            if owner != bridge.name:
                raise PlanError(f'port "{port}" of "{bridge.name}" already belongs to bridge "{owner}"')
        known = self.ports_of.get(bridge.name, bridge.ports)
        if known != bridge.ports:  # e.g. two VLAN zones' vnets on one "<bridge>v<tag>" bridge
            raise PlanError(f'bridge "{bridge.name}" is already planned with other ports ({" ".join(known)})')
