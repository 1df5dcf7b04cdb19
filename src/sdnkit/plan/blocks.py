"""Zone blocks: every vnet of one zone planned once per configuration and zone inputs.

A zone's vnets depend on the node only through the zone's :class:`ZoneInputs` (see
``zones/base.py``), so nodes with equal inputs share one block: it is kept with the
configuration (``SdnConfig.derived``) under a key holding the zone, its planner and the inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from sdnkit.config.model import SdnConfig, Zone
from sdnkit.errors import PlanError
from sdnkit.plan.context import ConfigIndex
from sdnkit.plan.desired import AnyLink, Bridge, Vlan, Vxlan
from sdnkit.plan.ownership import creates
from sdnkit.plan.zones import ZoneKind
from sdnkit.plan.zones.base import VnetPlan, ZoneEnv, ZoneInputs

_NAME = attrgetter("name")


@dataclass(frozen=True, slots=True)
class ZoneBlock:
    key: tuple[Any, ...]  # under which it is kept with the configuration
    zone: str
    vnets: Mapping[str, VnetPlan]  # by vnet ID
    errors: Mapping[str, str]  # vnet ID -> why it cannot be planned (it is left out with a warning)
    tunnels: frozenset[int]  # id() of the block's Vxlan links (they get the zone's endpoint)
    created: frozenset[str]  # names of the devices its links create (checked against the node's)
    implicit: frozenset[str]  # names of its implicit VLAN devices (the node may have them)
    names: frozenset[str]  # of all its links
    ports: frozenset[str]  # of all its bridges


def _plan(
    key: tuple[Any, ...],
    config: SdnConfig,
    index: ConfigIndex,
    zone: Zone,
    kind: ZoneKind,
    inputs: ZoneInputs,
) -> ZoneBlock:
    env = ZoneEnv(config, index, inputs)
    vnets: dict[str, VnetPlan] = {}
    errors: dict[str, str] = {}
    links: list[AnyLink] = []  # every link of the block (shared ones repeatedly)
    for vnet in config.vnets_of(zone.id):
        try:
            vnets[vnet.id] = part = kind.plan_vnet(env, zone, vnet)
        except PlanError as err:
            errors[vnet.id] = str(err)
            continue
        links += part.links
    return ZoneBlock(
        key,
        zone.id,
        vnets,
        errors,
        tunnels=frozenset(id(link) for link in links if isinstance(link, Vxlan)),
        created=frozenset(link.name for link in links if creates(link)),
        implicit=frozenset(link.name for link in links if isinstance(link, Vlan) and link.implicit),
        names=frozenset(map(_NAME, links)),
        ports=frozenset(port for link in links if isinstance(link, Bridge) for port in link.ports),
    )


def zone_block(
    config: SdnConfig, index: ConfigIndex, zone: Zone, kind: ZoneKind, inputs: ZoneInputs
) -> ZoneBlock:
    key = (__name__, zone.id, kind.plan_vnet, inputs)
    return config.derived(key, lambda: _plan(key, config, index, zone, kind, inputs))
