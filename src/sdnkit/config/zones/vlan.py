"""VLAN zones: each vnet is a VLAN (tag 1-4094, unique in the zone) on the zone's existing bridge."""

from __future__ import annotations

from collections.abc import Iterator

from sdnkit.config.model import Vnet, Zone
from sdnkit.config.schema import Kind
from sdnkit.config.zones.base import IfaceName, TagPolicy, TagScope, ZoneRules, vnet_iface


class VlanRules(ZoneRules):
    tag_policy = TagPolicy.REQUIRED
    tag_scope = TagScope.ZONE

    def interface_names(self, zone: Zone, vnets: list[Vnet]) -> Iterator[IfaceName]:
        for vnet in vnets:
            yield vnet_iface(vnet, "ln_")
            yield vnet_iface(vnet, "pr_")
            if zone.bridge and vnet.tag is not None:
                # plain Linux bridge: legacy <bridge>v<tag> bridge; VLAN-aware bridge: <bridge>.<tag> port
                yield IfaceName(f"{zone.bridge}v{vnet.tag}", "<bridge>v<tag>", Kind.VNETS, vnet.id, "tag")
                yield IfaceName(f"{zone.bridge}.{vnet.tag}", "<bridge>.<tag>", Kind.VNETS, vnet.id, "tag")
