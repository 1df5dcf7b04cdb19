"""Per-zone-type validation rules, registered by type name (one module per type)."""

from __future__ import annotations

from sdnkit.config.model import ZoneType
from sdnkit.config.zones.base import IfaceName, TagPolicy, TagScope, ZoneRules
from sdnkit.config.zones.evpn import EvpnRules
from sdnkit.config.zones.qinq import QinqRules
from sdnkit.config.zones.simple import SimpleRules
from sdnkit.config.zones.vlan import VlanRules
from sdnkit.config.zones.vxlan import VxlanRules

__all__ = ["ZONE_RULES", "IfaceName", "TagPolicy", "TagScope", "ZoneRules"]

ZONE_RULES: dict[ZoneType, ZoneRules] = {
    ZoneType.SIMPLE: SimpleRules(),
    ZoneType.VLAN: VlanRules(),
    ZoneType.QINQ: QinqRules(),
    ZoneType.VXLAN: VxlanRules(),
    ZoneType.EVPN: EvpnRules(),
}
