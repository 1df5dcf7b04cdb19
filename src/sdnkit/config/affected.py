"""What a change of the running configuration concerns: the zones it changes, and their nodes.

A zone's *definition* is its section, its vnets' and subnets' sections, and, for an EVPN zone,
its controller's section: a change of any of them changes what a node realizes for the zone.
The node agent uses :func:`changed_zones` to tell which zones a new version touches (only those
can be sent back to their previous definition when a check fails); ``sdn apply --wait`` uses
:func:`affected` to know which nodes must report the new version.

Changes that belong to no zone (BGP and IS-IS controllers, fabrics) concern every node.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sdnkit.config.model import SdnConfig, ZoneType
from sdnkit.config.schema import Kind

__all__ = ["Affected", "affected", "changed_zones", "zone_definition"]


def zone_definition(config: SdnConfig, zone: str) -> tuple[Any, ...] | None:
    """Everything that defines ``zone`` in ``config`` (None: the zone does not exist)."""
    section = config.of(Kind.ZONES).get(zone)
    if section is None:
        return None
    vnets = {i: s for i, s in config.of(Kind.VNETS).items() if s.get("zone") == zone}
    subnets = {i: s for i, s in config.of(Kind.SUBNETS).items() if s.get("vnet") in vnets}
    controller = None
    if config.zones[zone].type is ZoneType.EVPN:
        controller = config.of(Kind.CONTROLLERS).get(config.zones[zone].controller or "")
    return (section, sorted(vnets.items()), sorted(subnets.items()), controller)


def changed_zones(old: SdnConfig, new: SdnConfig) -> set[str]:
    """Zones created, deleted or changed (with their vnets, subnets, EVPN controller)."""
    ids = set(old.of(Kind.ZONES)) | set(new.of(Kind.ZONES))
    return {z for z in ids if zone_definition(old, z) != zone_definition(new, z)}


def _zone_free_change(old: SdnConfig, new: SdnConfig) -> bool:
    """Whether something that belongs to no zone changed (non-EVPN controllers, fabrics)."""
    if old.of(Kind.FABRICS) != new.of(Kind.FABRICS):
        return True
    ids = set(old.of(Kind.CONTROLLERS)) | set(new.of(Kind.CONTROLLERS))
    for ident in ids:
        before, after = old.of(Kind.CONTROLLERS).get(ident), new.of(Kind.CONTROLLERS).get(ident)
        if before != after and "evpn" not in {s.type for s in (before, after) if s is not None}:
            return True
    return False


@dataclass(frozen=True, slots=True)
class Affected:
    """The zones a new running version changes, and the nodes that must realize it."""

    zones: tuple[str, ...]
    all_nodes: bool  # some changed zone has no ``nodes`` list, or a change belongs to no zone
    nodes: tuple[str, ...]  # the nodes named by the changed zones' ``nodes`` lists

    def members(self, registered: Iterable[str]) -> tuple[str, ...]:
        """The nodes to wait for, given the cluster's registered nodes."""
        found = set(self.nodes) | (set(registered) if self.all_nodes else set())
        return tuple(sorted(found))


def affected(old: SdnConfig, new: SdnConfig) -> Affected:
    """Which zones and nodes the change from ``old`` to ``new`` concerns (both sides' node lists)."""
    zones = sorted(changed_zones(old, new))
    everywhere = _zone_free_change(old, new)
    named: set[str] = set()
    for zone in zones:
        for config in (old, new):
            found = config.zones.get(zone)
            if found is None:
                continue
            if not found.nodes:
                everywhere = True
            named |= found.nodes
    return Affected(zones=tuple(zones), all_nodes=everywhere, nodes=tuple(sorted(named)))
