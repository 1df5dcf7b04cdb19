"""What zone modules read and return, and helpers every zone type shares.

A zone type plans one vnet from the configuration and :class:`ZoneInputs`, the few node facts the
zone depends on (its uplink bridge, overlay MTU, exit-node role), never from the node facts
themselves. Equal inputs thus give equal links, and the planner plans each zone once per
configuration and inputs for all nodes (``plan/blocks.py``). Two node-specific parts are left
out on purpose and filled in per node: the VXLAN tunnel endpoints (:class:`Endpoint`) and the
SNAT rules (the vnet names its subnets to SNAT; the rules need the node's egress).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sdnkit.config.model import IPAddress, IPNetwork, SdnConfig, Subnet, Vnet, Zone
from sdnkit.errors import PlanError
from sdnkit.plan.context import ConfigIndex
from sdnkit.plan.desired import AnyLink

VLAN_AWARE_VIDS = "2-4094"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Uplink:
    """What VLAN and QinQ zones use of the node's uplink bridge."""

    name: str
    is_ovs: bool
    vlan_aware: bool
    ports: tuple[str, ...]  # physical ports of a plain Linux bridge, in order (else empty)


@dataclass(frozen=True, slots=True)
class ZoneInputs:
    """The node facts one zone's vnets are planned from (hashable: the key of the zone's block)."""

    error: str | None = None  # the zone cannot be planned on this node: each vnet fails with it
    uplink: Uplink | None = None  # vlan, qinq
    mtu: int | None = None  # vxlan, evpn: the overlay MTU
    exit_node: bool = False  # evpn


@dataclass(frozen=True, slots=True)
class Endpoint:
    """The node's VXLAN tunnel endpoints in one zone: set on every ``Vxlan`` link of the zone."""

    local_ip: IPAddress | None = None
    remote_ips: tuple[IPAddress, ...] = ()


NO_INPUTS = ZoneInputs()
NO_ENDPOINT = Endpoint()


@dataclass(frozen=True, slots=True)
class VnetPlan:
    """The links one vnet needs (shared links may repeat across vnets) and its subnets to SNAT.

    ``Vxlan`` links carry no endpoints here (``local_ip`` None, no ``remote_ips``).
    """

    links: tuple[AnyLink, ...] = ()
    snat: tuple[Subnet, ...] = ()


class ZoneEnv:
    """What the vnets of one zone are planned from: the configuration and the zone's inputs."""

    def __init__(self, config: SdnConfig, index: ConfigIndex, inputs: ZoneInputs) -> None:
        self.config = config
        self.index = index
        self.inputs = inputs
        self._shared: Any = None

    def require(self) -> ZoneInputs:
        """The inputs; raises the zone's error when it cannot be planned on this node."""
        if self.inputs.error is not None:
            raise PlanError(self.inputs.error)
        return self.inputs

    def shared(self, compute: Callable[[], T]) -> T:
        """The zone's shared links, computed once for all its vnets (a failure is raised again)."""
        if self._shared is None:
            try:
                self._shared = (compute(),)
            except PlanError as err:
                self._shared = err
        if isinstance(self._shared, PlanError):
            raise self._shared
        return self._shared[0]  # type: ignore[no-any-return]

    def subnets(self, vnet: str) -> tuple[Subnet, ...]:
        return self.index.subnets(vnet)

    def network(self, subnet: Subnet) -> IPNetwork:
        return self.index.network(subnet)


def snat_subnets(subnets: tuple[Subnet, ...]) -> tuple[Subnet, ...]:
    return tuple(s for s in subnets if s.snat)


def require_tag(zone: Zone, vnet: Vnet) -> int:
    if vnet.tag is None:
        raise PlanError(
            f'vnet "{vnet.id}": a {zone.type} zone needs a tag', obj=f'vnet "{vnet.id}"', key="tag"
        )
    return vnet.tag


def vids(vnet: Vnet) -> str | None:
    return VLAN_AWARE_VIDS if vnet.vlanaware else None
