"""MTU rules per zone type (spec §2.10); an explicit zone ``mtu`` always wins.

* simple, vlan, qinq: the zone ``mtu`` or nothing (the kernel default);
* vxlan, evpn: the zone ``mtu``, else the underlay interface's MTU minus the VXLAN overhead when
  the interfaces file gives one, else 1450; in fabric mode 1450;
* the exit-node xvrf veths carry the overlay MTU plus the overhead.
"""

from __future__ import annotations

from sdnkit.config.model import Zone
from sdnkit.plan.facts import NodeFacts
from sdnkit.plan.underlay import Underlay

VXLAN_OVERHEAD = 50
DEFAULT_OVERLAY_MTU = 1500 - VXLAN_OVERHEAD


def bridged_mtu(zone: Zone) -> int | None:
    return zone.mtu


def overlay_mtu(zone: Zone, facts: NodeFacts, underlay: Underlay) -> int:
    if zone.mtu:
        return zone.mtu
    if underlay.fabric is None and underlay.iface:
        info = facts.iface(underlay.iface)
        if info is not None and info.mtu:
            return info.mtu - VXLAN_OVERHEAD
    return DEFAULT_OVERLAY_MTU


def xvrf_mtu(overlay: int) -> int:
    return overlay + VXLAN_OVERHEAD
