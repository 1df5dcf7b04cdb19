"""Guest addresses in the zones' IPAMs: PVE's semantics (spec §5.1, ``Vnets.pm``), with its bugs fixed.

* ``allocate`` (``add_next_free_cidr``): one address per IP family that the vnet has subnets of,
  from the first subnet (by ID) with a free address, inside its DHCP ranges when it has some;
  all families or none (§10.11: upstream keeps the first family when a plugin fails). It is
  idempotent per MAC: an address already registered for the MAC in the vnet and held by no port
  (``held``) is taken again instead of a new one. An external IPAM may finish an allocation after
  its client gave up (``research/external-ipam-apis.md``); the retry then gets that address
  instead of a second one, and no orphan is left to block deleting the subnet;
* ``ensure`` (``add_dhcp_mapping``): keeps the MAC's addresses and allocates only the missing
  families;
* ``release`` (``del_ips_from_mac``), ``add_ip``/``update_ip``/``del_ip`` (the subnet is the vnet
  subnet that contains the address), ``find_mac``, ``find_guest``, ``list_ips``.

Names are resolved in ``ctx.config`` (``ipam_context.running_context``). Zones without ``ipam``
have no IPAM: guest operations are no-ops there (as upstream), except those on one given address,
which refuse.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from sdnkit.config.model import IPAddress, Subnet
from sdnkit.errors import IpamExhaustedError
from sdnkit.ipam.base import Allocation, IpamPlugin, IpEntry, Undo, undo_on_error
from sdnkit.ipam.ranges import network
from sdnkit.service.ipam_context import IpamContext, need_plugin, resolve_vnet, subnet_of
from sdnkit.service.ipam_values import guest_entry, parse_ip, parse_mac, parse_vmid

__all__ = [
    "add_ip",
    "allocate",
    "allocation_order",
    "del_ip",
    "ensure",
    "find_guest",
    "find_mac",
    "list_ips",
    "release",
    "update_ip",
]


def allocate(
    ctx: IpamContext,
    vnet: str,
    *,
    mac: str,
    hostname: str | None = None,
    vmid: str | int | None = None,
    versions: Iterable[int] = (4, 6),
    held: Collection[IPAddress] = (),
) -> list[Allocation]:
    """One address per family (of ``versions``) the vnet has subnets of; all or none.

    An address the IPAM already has for the MAC in the vnet, and that is not in ``held`` (the
    addresses the vnet's ports hold), is reused, with the new hostname and guest ID.
    """
    scope = resolve_vnet(ctx, vnet)
    if scope.plugin is None:
        return []
    plugin, entry, out = scope.plugin, guest_entry(mac, hostname, vmid), []
    wanted = sorted(set(versions))
    loose = _loose(plugin, scope.subnets, entry, held) if wanted else []
    with undo_on_error() as undo:
        for version in wanted:
            subnets = [s for s in scope.subnets if network(s.cidr).version == version]
            if not subnets:
                continue
            again = next((a for a in loose if a.ip.version == version), None)
            if again is not None:
                out.append(_reuse(plugin, again, entry, undo))
                continue
            found = _first_free(plugin, subnets, entry)
            if found is None:
                where = f'the IPv{version} subnets of vnet "{vnet}"'
                raise IpamExhaustedError(
                    f'zone "{scope.zone.id}": no free IP left in {where}', obj=f'vnet "{vnet}"'
                )
            undo.push(f"release {found.ip}", lambda a=found: plugin.del_ip(a.subnet, a.ip))
            out.append(found)
    return out


def _loose(
    plugin: IpamPlugin, subnets: Sequence[Subnet], entry: IpEntry, held: Collection[IPAddress]
) -> list[Allocation]:
    """The MAC's registered addresses that no port holds, lowest first."""
    if not entry.mac or not subnets:
        return []
    found = plugin.find_mac(subnets, entry.mac)
    return sorted((a for a in found if a.ip not in held), key=_by_address)


def _reuse(plugin: IpamPlugin, alloc: Allocation, entry: IpEntry, undo: Undo) -> Allocation:
    """Take ``alloc`` for ``entry``; if the operation fails, it is left as it was, not deleted."""
    if alloc.entry != entry:
        plugin.update_ip(alloc.subnet, alloc.ip, entry)
        undo.push(f"restore {alloc.ip}", lambda: plugin.update_ip(alloc.subnet, alloc.ip, alloc.entry))
    return Allocation(alloc.subnet, alloc.ip, entry)


def _first_free(plugin: IpamPlugin, subnets: Sequence[Subnet], entry: IpEntry) -> Allocation | None:
    for subnet in subnets:
        version = network(subnet.cidr).version
        pools = [r for r in subnet.dhcp_ranges if r.start.version == version] or [None]
        for pool in pools:
            try:
                return Allocation(subnet, plugin.next_free_ip(subnet, entry, pool), entry)
            except IpamExhaustedError:
                continue
    return None


def ensure(
    ctx: IpamContext, vnet: str, *, mac: str, hostname: str | None = None, vmid: str | int | None = None
) -> list[Allocation]:
    """The MAC's addresses in the vnet, allocating only the families it has none of yet."""
    have = find_mac(ctx, vnet, mac)
    missing = {4, 6} - {a.ip.version for a in have}
    new = allocate(ctx, vnet, mac=mac, hostname=hostname, vmid=vmid, versions=missing)
    return sorted(have + new, key=_by_address)


def _located(ctx: IpamContext, vnet: str, ip: object) -> tuple[IpamPlugin, Subnet, IPAddress]:
    """The IPAM of the vnet's zone, the vnet subnet that contains ``ip``, and ``ip`` itself."""
    scope = resolve_vnet(ctx, vnet)
    plugin, addr = need_plugin(scope), parse_ip(ip)
    return plugin, subnet_of(scope, addr), addr


def add_ip(
    ctx: IpamContext,
    vnet: str,
    ip: object,
    *,
    mac: str | None = None,
    hostname: str | None = None,
    vmid: str | int | None = None,
) -> Allocation:
    """Register exactly ``ip`` (in the vnet subnet that contains it)."""
    plugin, subnet, addr = _located(ctx, vnet, ip)
    entry = guest_entry(mac, hostname, vmid)
    plugin.add_ip(subnet, addr, entry)
    return Allocation(subnet, addr, entry)


def update_ip(
    ctx: IpamContext,
    vnet: str,
    ip: object,
    *,
    mac: str | None = None,
    hostname: str | None = None,
    vmid: str | int | None = None,
) -> Allocation:
    """Replace what is recorded for the registered ``ip``."""
    plugin, subnet, addr = _located(ctx, vnet, ip)
    entry = guest_entry(mac, hostname, vmid)
    plugin.update_ip(subnet, addr, entry)
    return Allocation(subnet, addr, entry)


def del_ip(ctx: IpamContext, vnet: str, ip: object) -> None:
    plugin, subnet, addr = _located(ctx, vnet, ip)
    plugin.del_ip(subnet, addr)


def release(ctx: IpamContext, vnet: str, mac: str) -> list[Allocation]:
    """Delete every address of the MAC in the vnet (all or none); returns them."""
    scope = resolve_vnet(ctx, vnet)
    if scope.plugin is None:
        return []
    plugin = scope.plugin
    found = plugin.find_mac(scope.subnets, parse_mac(mac))
    with undo_on_error() as undo:
        for a in found:
            plugin.del_ip(a.subnet, a.ip)
            undo.push(f"re-register {a.ip}", lambda a=a: plugin.add_ip(a.subnet, a.ip, a.entry))
    return found


def find_mac(ctx: IpamContext, vnet: str, mac: str) -> list[Allocation]:
    scope = resolve_vnet(ctx, vnet)
    if scope.plugin is None:
        return []
    return sorted(scope.plugin.find_mac(scope.subnets, parse_mac(mac)), key=_by_address)


def list_ips(ctx: IpamContext, vnet: str | None = None) -> list[Allocation]:
    """Every registered address of one vnet, or of every vnet whose zone has an IPAM."""
    vnets = [vnet] if vnet is not None else list(ctx.config.vnets)
    out: list[Allocation] = []
    for vid in vnets:
        scope = resolve_vnet(ctx, vid)
        if scope.plugin is not None and scope.subnets:
            out.extend(scope.plugin.allocations(scope.subnets))
    return sorted(out, key=allocation_order)


def find_guest(ctx: IpamContext, vmid: str | int) -> list[Allocation]:
    """Every address registered for a guest, in every vnet (the firewall's ``guest-ipam-<id>``)."""
    want = parse_vmid(vmid)
    return [a for a in list_ips(ctx) if a.entry.vmid == want]


def _by_address(a: Allocation) -> tuple[int, int]:
    return (a.ip.version, int(a.ip))


def allocation_order(a: Allocation) -> tuple[str, str, str, int, int]:
    """Sort key of listings: zone, vnet, subnet, family, address."""
    return (a.zone, a.vnet, a.subnet.id, a.ip.version, int(a.ip))
