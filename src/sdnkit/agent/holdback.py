"""Holding back a failed zone: find the zones an error is about, and build the config without them.

When a node cannot realize a zone (its bridge is missing, the kernel refuses a device), the other
zones should still get the new version. The agent then applies a config in which each failed
zone (with its vnets and subnets) is as it was last applied on this node, or absent when it is
new, so that its existing guests keep their network while the error is fixed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from sdnkit.config.model import SdnConfig
from sdnkit.config.running import RunningConfig
from sdnkit.config.schema import Kind
from sdnkit.errors import PlanError, SdnError
from sdnkit.plan.desired import NodePlan
from sdnkit.plan.facts import NodeFacts

Planner = Callable[[RunningConfig, NodeFacts], NodePlan]


def only_zones(config: SdnConfig, keep: Callable[[str], bool]) -> SdnConfig:
    """The config with only the zones ``keep`` accepts, and their vnets and subnets."""
    sections = dict(config.sections)
    zones = {i: s for i, s in config.of(Kind.ZONES).items() if keep(i)}
    vnets = {i: s for i, s in config.of(Kind.VNETS).items() if s.get("zone") in zones}
    subnets = {i: s for i, s in config.of(Kind.SUBNETS).items() if s.get("vnet") in vnets}
    sections.update({Kind.ZONES: zones, Kind.VNETS: vnets, Kind.SUBNETS: subnets})
    return SdnConfig(sections)


def merge_zones(base: SdnConfig, other: SdnConfig, zones: Iterable[str]) -> SdnConfig:
    """``base`` with ``zones`` (and their vnets and subnets) taken from ``other`` instead."""
    zones = set(zones)
    kept = only_zones(base, lambda z: z not in zones)
    taken = only_zones(other, lambda z: z in zones)
    sections = dict(kept.sections)
    for kind in (Kind.ZONES, Kind.VNETS, Kind.SUBNETS):
        sections[kind] = {**kept.of(kind), **taken.of(kind)}
    return SdnConfig(sections)


def zones_of(err: SdnError, running: RunningConfig, facts: NodeFacts, plan: Planner) -> set[str]:
    """The zones an error is about: named directly, through a vnet, as the owner of a link, or
    as the owner of the VRF whose FRR lines FRR refused.

    A link is traced by planning each zone alone (planning is pure and cheap); a zone that cannot
    even be planned alone is a culprit too.
    """
    config = running.config
    obj = err.obj or ""
    if obj == "frr":
        return frr_zones(err, config)
    if obj in config.zones:
        return {obj}
    if obj in config.vnets:
        return {config.vnets[obj].zone}
    found = set()
    for zone in config.zones:
        alone = RunningConfig(running.version, only_zones(config, lambda z, zone=zone: z == zone))
        try:
            link = plan(alone, facts).link(obj) if obj else None
        except PlanError:
            found.add(zone)
            continue
        if link is not None and link.owned:
            found.add(zone)
    return found


def frr_zones(err: SdnError, config: SdnConfig) -> set[str]:
    """The zones whose VRF (``vrf_<zone>``) is in the lines FRR refused (realize/frr.py puts
    them in ``value``); none when FRR refused something no zone owns (e.g. frr.conf.local)."""
    lines = err.value if isinstance(err.value, list) else []
    return {z for z in config.zones if any(re.search(rf"\bvrf_{re.escape(z)}\b", line) for line in lines)}


def held_back(running: RunningConfig, previous: RunningConfig, failed: Iterable[str]) -> RunningConfig:
    """The running version with the failed zones as last applied (or left out when new)."""
    return RunningConfig(running.version, merge_zones(running.config, previous.config, failed))
