"""What every zone type module provides: its vnet tag policy, its own checks and its interface names."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from sdnkit.config.formats import Value
from sdnkit.config.model import SdnConfig, Vnet, Zone
from sdnkit.config.schema import Kind
from sdnkit.config.violation import Violation

IFNAMSIZ = 15  # the kernel's limit on interface names (IFNAMSIZ - 1)


class TagPolicy(StrEnum):
    FORBIDDEN = "forbidden"
    OPTIONAL = "optional"
    REQUIRED = "required"


class TagScope(StrEnum):
    ZONE = "zone"  # VLAN tags: unique among the vnets of one zone
    VNI = "vni"  # VNIs: unique among the vnets of every vxlan and evpn zone


@dataclass(frozen=True, slots=True)
class IfaceName:
    """An interface sdnkit creates, and the object field that makes its name."""

    name: str
    pattern: str  # how the name is built, for the message (``ln_<vnet>``)
    kind: Kind
    id: str
    key: str


class ZoneRules:
    """Rules of one zone type; subclasses override what differs from these defaults."""

    tag_policy = TagPolicy.FORBIDDEN
    tag_scope = TagScope.ZONE
    tag_max = 4094
    tag_name = "VLAN tag"
    vlanaware = True  # whether vnets of this zone may be VLAN aware

    def fill_defaults(self, zone_id: str, options: dict[str, Value]) -> dict[str, Value]:
        """Options set on create and update when the user leaves them out (they are written)."""
        return options

    def check_zone(self, zone: Zone, cfg: SdnConfig) -> Iterator[Violation]:
        """Checks of the zone itself (options that depend on each other or on other objects)."""
        yield from ()

    def check_vnets(self, zone: Zone, vnets: list[Vnet]) -> Iterator[Violation]:
        """Checks across the vnets of one zone."""
        yield from ()

    def interface_names(self, zone: Zone, vnets: list[Vnet]) -> Iterator[IfaceName]:
        """Every interface name this zone type derives from the zone and its vnets."""
        yield from ()


def zone_iface(zone: Zone, prefix: str, key: str = "zone") -> IfaceName:
    return IfaceName(f"{prefix}{zone.id}", f"{prefix}<zone>", Kind.ZONES, zone.id, key)


def vnet_iface(vnet: Vnet, prefix: str) -> IfaceName:
    return IfaceName(f"{prefix}{vnet.id}", f"{prefix}<vnet>", Kind.VNETS, vnet.id, "vnet")
