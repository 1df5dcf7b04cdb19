"""Zone types, registered by type name: each module plans the links of one vnet.

A zone type is one module with ``node_inputs(ctx, zone) -> (ZoneInputs, Endpoint)`` (the node
facts its vnets depend on, see ``zones/base.py``) and ``plan_vnet(env, zone, vnet) -> VnetPlan``;
adding a type is one module plus one line here. Links that several vnets share (the zone's VRF,
QinQ bridge, uplink bridge settings) are returned by every vnet and merged by ``plan/links.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sdnkit.config.model import Vnet, Zone, ZoneType
from sdnkit.plan.context import PlanContext
from sdnkit.plan.zones import evpn, qinq, simple, vlan, vxlan
from sdnkit.plan.zones.base import Endpoint, VnetPlan, ZoneEnv, ZoneInputs

NodeInputs = Callable[[PlanContext, Zone], tuple[ZoneInputs, Endpoint]]
VnetPlanner = Callable[[ZoneEnv, Zone, Vnet], VnetPlan]


@dataclass(frozen=True, slots=True)
class ZoneKind:
    node_inputs: NodeInputs
    plan_vnet: VnetPlanner


ZONE_TYPES: dict[ZoneType, ZoneKind] = {
    ZoneType.SIMPLE: ZoneKind(simple.node_inputs, simple.plan_vnet),
    ZoneType.VLAN: ZoneKind(vlan.node_inputs, vlan.plan_vnet),
    ZoneType.QINQ: ZoneKind(qinq.node_inputs, qinq.plan_vnet),
    ZoneType.VXLAN: ZoneKind(vxlan.node_inputs, vxlan.plan_vnet),
    ZoneType.EVPN: ZoneKind(evpn.node_inputs, evpn.plan_vnet),
}

__all__ = ["ZONE_TYPES", "NodeInputs", "VnetPlan", "VnetPlanner", "ZoneKind"]
