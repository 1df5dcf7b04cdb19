"""Node facts: everything node-local the planner needs, gathered once into a value.

The planner never probes the live system. The agent gathers these facts on a real node
(``agent/facts.py``); ``sdn render`` builds them from files (an ``interfaces`` file plus a small
JSON document, see docs/facts.md); tests build them directly.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from sdnkit.config.model import IPAddress, IPInterface


class IfaceKind(StrEnum):
    LINUX_BRIDGE = "bridge"
    OVS_BRIDGE = "ovs_bridge"
    OVS_PORT = "ovs_port"
    OTHER = "other"


@dataclass(frozen=True, slots=True, kw_only=True)
class InterfaceFacts:
    """One interface of the node that is not ours: physical ports, uplink bridges, loopbacks."""

    name: str
    kind: IfaceKind = IfaceKind.OTHER
    addresses: tuple[IPInterface, ...] = ()
    mtu: int | None = None
    vlan_aware: bool = False
    ports: tuple[str, ...] = ()  # physical ports of a bridge, in order
    mac: str | None = None

    @property
    def is_bridge(self) -> bool:
        return self.kind in (IfaceKind.LINUX_BRIDGE, IfaceKind.OVS_BRIDGE)

    @property
    def is_ovs(self) -> bool:
        return self.kind is IfaceKind.OVS_BRIDGE


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """Where the node sends traffic for some destination: ``ip route get`` answered this."""

    iface: str
    src: IPAddress


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeFacts:
    node: str
    mac: str | None = None  # MAC used to derive router IDs (of the underlay interface's master)
    interfaces: Mapping[str, InterfaceFacts] = field(default_factory=dict)
    # the route to the VTEP peers / the default route, per family (PVE: `ip route get <peer>`)
    route4: Route | None = None
    route6: Route | None = None
    frr_local: str | None = None  # content of /etc/frr/frr.conf.local, if any
    frr_version: str | None = None  # installed FRR version for the frr.conf header (None: PVE's)

    def iface(self, name: str) -> InterfaceFacts | None:
        return self.interfaces.get(name)

    def route_for(self, target: IPAddress | str) -> Route | None:
        """The route the node would use to reach ``target`` (underlay lookups, SNAT egress)."""
        version = ipaddress.ip_address(target).version
        return self.route4 if version == 4 else self.route6

    def iface_with_address(self, ip: IPAddress) -> InterfaceFacts | None:
        """The local interface that carries ``ip`` (sorted by name for determinism)."""
        for name in sorted(self.interfaces):
            if any(a.ip == ip for a in self.interfaces[name].addresses):
                return self.interfaces[name]
        return None
