"""The node's uplink bridge of a VLAN or QinQ zone, from the node facts."""

from __future__ import annotations

from sdnkit.config.model import Zone
from sdnkit.plan.context import PlanContext
from sdnkit.plan.zones.base import NO_ENDPOINT, Endpoint, Uplink, ZoneInputs


def uplink_inputs(ctx: PlanContext, zone: Zone) -> tuple[ZoneInputs, Endpoint]:
    """The zone's ``bridge`` on this node; a missing or non-bridge interface is an error (PVE
    ``find_bridge``), reported per vnet so that other zones still apply."""
    name = zone.bridge or ""
    info = ctx.facts.iface(name)
    if info is None or not info.is_bridge:
        error = f'zone "{zone.id}": bridge "{name}" does not exist on node "{ctx.node}"'
        return ZoneInputs(error=error), NO_ENDPOINT
    # the physical ports matter only to plain Linux bridges (VLAN devices on each NIC): leaving
    # them out otherwise lets nodes with other NIC names share the zone's plan
    ports = () if info.is_ovs or info.vlan_aware else info.ports
    uplink = Uplink(name=info.name, is_ovs=info.is_ovs, vlan_aware=info.vlan_aware, ports=ports)
    return ZoneInputs(uplink=uplink), NO_ENDPOINT


def uplink_bridge(inputs: ZoneInputs) -> Uplink:
    """The uplink of inputs made by :func:`uplink_inputs` without an error."""
    assert inputs.uplink is not None  # uplink_inputs sets it whenever there is no error
    return inputs.uplink
