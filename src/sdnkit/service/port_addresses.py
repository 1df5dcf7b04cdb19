"""A port's addresses in its zone's IPAM, through the IPAM service (``sdnkit.service.ipam``).

One address per family the vnet has subnets of (upstream's ``Vnets::add_next_free_cidr``, spec
§5.1): the requested address of a family is reserved exactly, the other families get the next
free address (the IPAM service's policy: subnets by ID, inside their dhcp-ranges when they have
some). All families or none (§10.11 fixed).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from sdnkit.config.model import IPAddress, Zone
from sdnkit.errors import NotFoundError
from sdnkit.ipam.base import Allocation, undo_on_error
from sdnkit.service import ipam as ipam_service
from sdnkit.service.ipam import IpamContext

__all__ = ["builtin_zone", "give_back", "take", "zone_allocations"]


def take(
    ictx: IpamContext, vnet: str, *, mac: str, hostname: str | None, guest: str, wanted: Sequence[IPAddress]
) -> list[Allocation]:
    """Register the port's addresses; all or nothing."""
    out: list[Allocation] = []
    with undo_on_error() as undo:
        for ip in wanted:
            alloc = ipam_service.add_ip(ictx, vnet, ip, mac=mac, hostname=hostname, vmid=guest)
            undo.push(f"release {ip}", lambda a=alloc: give_back(ictx, a))
            out.append(alloc)
        missing = {4, 6} - {ip.version for ip in wanted}
        out += ipam_service.allocate(ictx, vnet, mac=mac, hostname=hostname, vmid=guest, versions=missing)
    return sorted(out, key=lambda a: (a.ip.version, int(a.ip)))


def give_back(ictx: IpamContext, alloc: Allocation) -> None:
    """Unregister one address; already gone is fine (releasing is idempotent)."""
    with contextlib.suppress(NotFoundError):
        ictx.plugin(_ipam_of(ictx, alloc)).del_ip(alloc.subnet, alloc.ip)


def _ipam_of(ictx: IpamContext, alloc: Allocation) -> str:
    zone = ictx.config.zones[alloc.zone]
    assert zone.ipam is not None
    return zone.ipam


def zone_allocations(ictx: IpamContext, zone: Zone) -> list[Allocation]:
    """Every address registered in the zone's subnets."""
    if not zone.ipam:
        return []
    subnets = [s for s in ictx.config.subnets.values() if s.zone == zone.id]
    return ictx.plugin(zone.ipam).allocations(subnets) if subnets else []


def builtin_zone(ictx: IpamContext, zone: Zone) -> bool:
    """Whether the zone uses a built-in IPAM (the ``guest-ipam-*`` sets come from those, spec §6)."""
    return bool(zone.ipam) and ictx.ipam(zone.ipam or "").type == "pve"
