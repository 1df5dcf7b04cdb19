"""What a zone module returns for one vnet, and helpers every zone type shares."""

from __future__ import annotations

from dataclasses import dataclass

from sdnkit.config.model import Vnet, Zone
from sdnkit.errors import PlanError
from sdnkit.plan.desired import AnyLink, SnatRule

VLAN_AWARE_VIDS = "2-4094"


@dataclass(frozen=True, slots=True)
class VnetPlan:
    """The links (and SNAT rules) one vnet needs; shared links may repeat across vnets."""

    links: tuple[AnyLink, ...] = ()
    snat: tuple[SnatRule, ...] = ()


def require_tag(zone: Zone, vnet: Vnet) -> int:
    if vnet.tag is None:
        raise PlanError(
            f'vnet "{vnet.id}": a {zone.type} zone needs a tag', obj=f'vnet "{vnet.id}"', key="tag"
        )
    return vnet.tag


def vids(vnet: Vnet) -> str | None:
    return VLAN_AWARE_VIDS if vnet.vlanaware else None
