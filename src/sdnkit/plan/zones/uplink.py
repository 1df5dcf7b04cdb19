"""The node's uplink bridge of a VLAN or QinQ zone, from the node facts."""

from __future__ import annotations

from sdnkit.config.model import Zone
from sdnkit.errors import PlanError
from sdnkit.plan.context import PlanContext
from sdnkit.plan.facts import InterfaceFacts


def uplink_bridge(ctx: PlanContext, zone: Zone) -> InterfaceFacts:
    """The zone's ``bridge`` on this node; a missing or non-bridge interface is an error (PVE
    ``find_bridge``), reported per vnet so that other zones still apply."""

    def find() -> InterfaceFacts:
        name = zone.bridge or ""
        info = ctx.facts.iface(name)
        if info is None or not info.is_bridge:
            raise PlanError(
                f'zone "{zone.id}": bridge "{name}" does not exist on node "{ctx.node}"',
                obj=f'zone "{zone.id}"',
                key="bridge",
                value=name,
            )
        return info

    return ctx.memo(("uplink", zone.id), find)
