"""QinQ zones: a service VLAN per zone, a customer VLAN per vnet; at most one untagged vnet per zone."""

from __future__ import annotations

from collections.abc import Iterator

from sdnkit.config.model import Vnet, Zone
from sdnkit.config.schema import Kind
from sdnkit.config.violation import Violation
from sdnkit.config.zones.base import IfaceName, TagPolicy, TagScope, ZoneRules, zone_iface


class QinqRules(ZoneRules):
    tag_policy = TagPolicy.OPTIONAL
    tag_scope = TagScope.ZONE

    def check_vnets(self, zone: Zone, vnets: list[Vnet]) -> Iterator[Violation]:
        untagged = [v.id for v in vnets if v.tag is None]
        for other in untagged[1:]:
            # the untagged vnet is bridged to the zone's single untagged veth (pr_<zone>)
            yield Violation(
                Kind.VNETS,
                other,
                "tag",
                f'a qinq zone has at most one vnet without a tag, and vnet "{untagged[0]}" of zone '
                f'"{zone.id}" has none already',
            )

    def interface_names(self, zone: Zone, vnets: list[Vnet]) -> Iterator[IfaceName]:
        for prefix in ("z_", "ln_", "pr_", "sv_"):
            yield zone_iface(zone, prefix)
        if zone.bridge and zone.tag is not None:
            yield IfaceName(f"{zone.bridge}.{zone.tag}", "<bridge>.<tag>", Kind.ZONES, zone.id, "bridge")
        for vnet in vnets:
            if vnet.tag is not None:
                name = f"z_{zone.id}.{vnet.tag}"
                yield IfaceName(name, "z_<zone>.<tag>", Kind.VNETS, vnet.id, "tag")
