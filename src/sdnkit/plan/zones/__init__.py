"""Zone types, registered by type name: each module plans the links of one vnet.

A zone type is one module with ``plan_vnet(ctx, zone, vnet) -> VnetPlan``; adding a type is one
module plus one line here. Links that several vnets share (the zone's VRF, QinQ bridge, uplink
bridge settings) are returned by every vnet and merged by ``plan/links.py``.
"""

from __future__ import annotations

from collections.abc import Callable

from sdnkit.config.model import Vnet, Zone, ZoneType
from sdnkit.plan.context import PlanContext
from sdnkit.plan.zones import evpn, qinq, simple, vlan, vxlan
from sdnkit.plan.zones.base import VnetPlan

VnetPlanner = Callable[[PlanContext, Zone, Vnet], VnetPlan]

ZONE_TYPES: dict[ZoneType, VnetPlanner] = {
    ZoneType.SIMPLE: simple.plan_vnet,
    ZoneType.VLAN: vlan.plan_vnet,
    ZoneType.QINQ: qinq.plan_vnet,
    ZoneType.VXLAN: vxlan.plan_vnet,
    ZoneType.EVPN: evpn.plan_vnet,
}

__all__ = ["ZONE_TYPES", "VnetPlan", "VnetPlanner"]
