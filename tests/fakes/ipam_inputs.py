"""What the external-IPAM plugin tests send the doubles: subnets of zone z1 / vnet v1, and guests."""

from __future__ import annotations

import ipaddress

from sdnkit.config.model import DhcpRange, Subnet
from sdnkit.ipam.base import IpamPlugin, IpEntry

ip = ipaddress.ip_address
VM = IpEntry(mac="da:65:8f:18:9b:6f", hostname="myhost", vmid="100")


def subnet(cidr: str, gateway: str | None = None, ranges: tuple[tuple[str, str], ...] = ()) -> Subnet:
    """The subnet ``z1-<cidr>`` of vnet v1, with its gateway and DHCP ranges (``(start, end)``)."""
    return Subnet(
        id=f"z1-{cidr.replace('/', '-')}",
        vnet="v1",
        zone="z1",
        cidr=cidr,
        gateway=ip(gateway) if gateway else None,
        dhcp_ranges=tuple(DhcpRange(ip(a), ip(b)) for a, b in ranges),
    )


def with_gateway(plugin: IpamPlugin, ranges: tuple[tuple[str, str], ...] = ()) -> Subnet:
    """10.0.0.0/24 registered in ``plugin``, then its gateway 10.0.0.1 (the order of the subnet hook)."""
    sub = subnet("10.0.0.0/24", "10.0.0.1", ranges)
    plugin.add_subnet(sub)
    plugin.add_ip(sub, ip("10.0.0.1"), IpEntry(gateway=True))
    return sub


def dual_stack_guest(plugin: IpamPlugin) -> tuple[Subnet, Subnet]:
    """10.0.0.0/24 and 2001:db8::/64 registered, VM given the first free address of each, and another
    MAC the next one of 10.0.0.0/24."""
    v4, v6 = subnet("10.0.0.0/24"), subnet("2001:db8::/64")
    for sub in (v4, v6):
        plugin.add_subnet(sub)
        plugin.next_free_ip(sub, VM)
    plugin.next_free_ip(v4, IpEntry(mac="02:00:00:00:00:99"))
    return v4, v6
