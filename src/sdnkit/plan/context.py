"""What one ``plan_node`` call reads: the running config, the node facts, and lookups made once.

Zone modules and FRR planners share it so that per-zone work (underlay, bridge facts, MTU) is
done once per zone, not once per vnet, and so that indexes (subnets by vnet) are built once.
It is created and dropped inside ``plan_node``; nothing in it outlives the call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sdnkit.config.model import Controller, ControllerType, IPNetwork, SdnConfig, Subnet, Vnet, Zone
from sdnkit.config.running import RunningConfig
from sdnkit.errors import PlanError
from sdnkit.plan.facts import NodeFacts
from sdnkit.plan.underlay import Underlay, fabric_underlay, local_controller, peer_underlay

T = TypeVar("T")


class PlanContext:
    def __init__(self, running: RunningConfig, facts: NodeFacts) -> None:
        self.running = running
        self.config: SdnConfig = running.config
        self.facts = facts
        self.node = facts.node
        self.warnings: list[str] = []
        self._memo: dict[Any, Any] = {}
        self._networks: dict[str, IPNetwork] = {}
        self.subnets_by_vnet: dict[str, list[Subnet]] = {}
        for sub in self.config.subnets.values():  # sorted by ID
            self.subnets_by_vnet.setdefault(sub.vnet, []).append(sub)

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

    def subnets(self, vnet: str) -> list[Subnet]:
        return self.subnets_by_vnet.get(vnet, [])

    def network(self, subnet: Subnet) -> IPNetwork:
        """``subnet.network``, parsed once per call (it is asked for several times per subnet)."""
        net = self._networks.get(subnet.id)
        if net is None:
            net = self._networks[subnet.id] = subnet.network
        return net

    def vnets(self) -> list[Vnet]:
        return list(self.config.vnets.values())

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
