"""A port's addresses in its zone's IPAM, through the IPAM service (``sdnkit.service.ipam``).

One address per family the vnet has subnets of (upstream's ``Vnets::add_next_free_cidr``, spec
§5.1): the requested address of a family is reserved exactly, the other families get the next
free address (the IPAM service's policy: subnets by ID, inside their dhcp-ranges when they have
some; an address the IPAM already has for the MAC and no other port holds is reused). All
families or none (§10.11 fixed).
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sdnkit.config.model import IPAddress, Zone
from sdnkit.errors import NotFoundError
from sdnkit.ipam.base import Allocation, undo_on_error
from sdnkit.service import ipam as ipam_service
from sdnkit.service.ipam import IpamContext

__all__ = ["PortRequest", "builtin_zone", "give_back", "take", "zone_allocations"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PortRequest:
    """What a port asks of the IPAM: its MAC, names, the addresses it wants, and the addresses
    the vnet's other ports hold (never reused for this one)."""

    vnet: str
    mac: str
    hostname: str | None
    guest: str
    wanted: Sequence[IPAddress] = ()
    held: Collection[IPAddress] = ()


def take(ictx: IpamContext, req: PortRequest) -> list[Allocation]:
    """Register the port's addresses; all or nothing."""
    out: list[Allocation] = []
    mac, hostname, guest = req.mac, req.hostname, req.guest
    with undo_on_error() as undo:
        for ip in req.wanted:
            alloc = ipam_service.add_ip(ictx, req.vnet, ip, mac=mac, hostname=hostname, vmid=guest)
            undo.push(f"release {ip}", lambda a=alloc: give_back(ictx, a))
            out.append(alloc)
        missing = {4, 6} - {ip.version for ip in req.wanted}
        out += ipam_service.allocate(
            ictx, req.vnet, mac=mac, hostname=hostname, vmid=guest, versions=missing, held=req.held
        )
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
