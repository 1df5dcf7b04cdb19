"""VXLAN zones: a VXLAN device per vnet (VNI unique across vxlan and evpn zones), static peers or a fabric."""

from __future__ import annotations

from collections.abc import Iterator

from sdnkit.config.model import SdnConfig, Vnet, Zone
from sdnkit.config.schema import Kind
from sdnkit.config.violation import Violation
from sdnkit.config.zones.base import IfaceName, TagPolicy, TagScope, ZoneRules, vnet_iface


class VxlanRules(ZoneRules):
    tag_policy = TagPolicy.REQUIRED
    tag_scope = TagScope.VNI
    tag_max = 16777215
    tag_name = "VNI"

    def check_zone(self, zone: Zone, cfg: SdnConfig) -> Iterator[Violation]:
        if bool(zone.peers) == bool(zone.fabric):
            yield Violation(Kind.ZONES, zone.id, "peers", "a vxlan zone needs exactly one of peers or fabric")

    def interface_names(self, zone: Zone, vnets: list[Vnet]) -> Iterator[IfaceName]:
        for vnet in vnets:
            yield vnet_iface(vnet, "vxlan_")
