"""What one ``plan_node`` call reads: the running config, the node facts, and lookups made once.

Zone modules and FRR planners share it so that per-zone work (underlay, bridge facts, MTU) is
done once per zone, not once per vnet. Lookups that do not depend on the node (subnets by vnet,
parsed networks) live in :class:`ConfigIndex`, built once per configuration and shared by every
node's plan. The context itself is created and dropped inside ``plan_node``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sdnkit.config.model import (
    Controller,
    ControllerType,
    IPAddress,
    IPInterface,
    IPNetwork,
    SdnConfig,
    Subnet,
    Vnet,
    Zone,
)
from sdnkit.config.running import RunningConfig
from sdnkit.errors import PlanError
from sdnkit.plan.facts import NodeFacts
from sdnkit.plan.underlay import Underlay, fabric_underlay, local_controller, peer_underlay

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ConfigIndex:
    """Node-independent lookups of one configuration (``SdnConfig.derived``: built once)."""

    vnets: tuple[Vnet, ...]  # sorted by ID
    position: Mapping[str, int]  # vnet ID -> its place in ``vnets``
    subnets_by_vnet: Mapping[str, tuple[Subnet, ...]]  # each sorted by ID
    networks: Mapping[str, IPNetwork]  # subnet ID -> ``subnet.network``, parsed once
    gateways: dict[str, IPInterface] = field(default_factory=dict, compare=False, repr=False)  # memo

    def subnets(self, vnet: str) -> tuple[Subnet, ...]:
        return self.subnets_by_vnet.get(vnet, ())

    def network(self, subnet: Subnet) -> IPNetwork:
        return self.networks[subnet.id]

    def gateway(self, subnet: Subnet, gateway: IPAddress) -> IPInterface:
        """The subnet's ``gateway`` with the subnet's prefix length (what a vnet bridge carries)."""
        found = self.gateways.get(subnet.id)
        if found is None:
            make = ipaddress.IPv4Interface if gateway.version == 4 else ipaddress.IPv6Interface
            found = self.gateways.setdefault(subnet.id, make((int(gateway), self.network(subnet).prefixlen)))
        return found


def _build_index(config: SdnConfig) -> ConfigIndex:
    vnets = tuple(config.vnets.values())
    by_vnet: dict[str, list[Subnet]] = {}
    for sub in config.subnets.values():  # sorted by ID
        by_vnet.setdefault(sub.vnet, []).append(sub)
    return ConfigIndex(
        vnets=vnets,
        position={v.id: i for i, v in enumerate(vnets)},
        subnets_by_vnet={vnet: tuple(subs) for vnet, subs in by_vnet.items()},
        networks={sub.id: sub.network for sub in config.subnets.values()},
    )


def config_index(config: SdnConfig) -> ConfigIndex:
    return config.derived((__name__, "index"), lambda: _build_index(config))


class PlanContext:
    def __init__(self, running: RunningConfig, facts: NodeFacts) -> None:
        self.running = running
        self.config: SdnConfig = running.config
        self.index = config_index(self.config)
        self.facts = facts
        self.node = facts.node
        self.warnings: list[str] = []
        self._memo: dict[Any, Any] = {}

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def memo(self, key: Any, compute: Callable[[], T]) -> T:
        """``compute()`` once per key and call (a failure is cached and raised again)."""
        if key not in self._memo:
            try:
                self._memo[key] = compute()
            except PlanError as err:
                self._memo[key] = err
        value = self._memo[key]
        if isinstance(value, PlanError):
            raise value
        return value  # type: ignore[no-any-return]

    def subnets(self, vnet: str) -> tuple[Subnet, ...]:
        return self.index.subnets(vnet)

    def network(self, subnet: Subnet) -> IPNetwork:
        """``subnet.network``, parsed once per configuration."""
        return self.index.network(subnet)

    def vnets(self) -> tuple[Vnet, ...]:
        return self.index.vnets

    def zones_here(self) -> list[Zone]:
        """Zones deployed on this node, sorted by ID."""
        return [z for z in self.config.zones.values() if z.on_node(self.node)]

    def local_controller(self, type_: ControllerType) -> Controller | None:
        return self.memo(("controller", type_), lambda: local_controller(self.config, self.node, type_))

    def loopback(self) -> str | None:
        """The underlay loopback: this node's BGP controller's, else its IS-IS controller's."""
        bgp = self.local_controller(ControllerType.BGP)
        isis = self.local_controller(ControllerType.ISIS)
        return (bgp.loopback if bgp else None) or (isis.loopback if isis else None)

    def peer_underlay(self, peers: tuple[str, ...], loopback: str | None) -> Underlay:
        return self.memo(("peers", peers, loopback), lambda: peer_underlay(self.facts, peers, loopback))

    def fabric_underlay(self, fabric: str) -> Underlay:
        return self.memo(("fabric", fabric), lambda: fabric_underlay(self.config, self.node, fabric))

    def evpn_underlay(self, controller: Controller) -> Underlay:
        """Underlay of an EVPN controller: its fabric, or its peers with the node's loopback."""
        if controller.fabric:
            return self.fabric_underlay(controller.fabric)
        return self.peer_underlay(controller.peers, self.loopback())
