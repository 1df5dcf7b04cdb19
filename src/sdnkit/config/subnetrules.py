"""Cross-object rules of subnets (spec §2.4, pve-network ``SubnetPlugin.pm``), tightened where PVE is lax.

* The vnet exists, is not vlan-aware, and belongs to the zone named in the subnet ID.
* The gateway lies inside the subnet, except for an IPv4 /32 ("pointopoint", e.g. a single public
  address routed to the host, where the gateway is the provider's router outside it). An IPv4
  gateway is not the network or broadcast address of a /30 or larger subnet.
* Each DHCP range has start <= end, both of the subnet's family and inside it; ranges of a subnet do
  not overlap.
* Subnets of one zone do not overlap (PVE does not check this; two bridges routing the same
  addresses in one VRF or one node is never what the operator wants).
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterator
from itertools import pairwise

from sdnkit.config.model import DhcpRange, SdnConfig, Subnet
from sdnkit.config.schema import Kind
from sdnkit.config.violation import Violation

__all__ = ["check_subnets"]


def _v(subnet: Subnet, key: str, text: str) -> Violation:
    return Violation(Kind.SUBNETS, subnet.id, key, text)


def check_subnets(cfg: SdnConfig) -> Iterator[Violation]:
    for subnet in cfg.subnets.values():
        yield from _vnet(subnet, cfg)
        yield from _gateway(subnet)
        yield from _dhcp_ranges(subnet)
    yield from _overlaps(cfg)


def _vnet(subnet: Subnet, cfg: SdnConfig) -> Iterator[Violation]:
    vnet = cfg.vnets.get(subnet.vnet)
    if vnet is None:
        yield _v(subnet, "vnet", f'vnet "{subnet.vnet}" does not exist')
        return
    if vnet.zone != subnet.zone:
        text = f'the ID names zone "{subnet.zone}" but vnet "{vnet.id}" is in zone "{vnet.zone}"'
        yield _v(subnet, "vnet", text)
    if vnet.vlanaware:
        yield _v(subnet, "vnet", f'vnet "{vnet.id}" is vlan-aware and cannot have subnets')


def _gateway(subnet: Subnet) -> Iterator[Violation]:
    gw, net = subnet.gateway, subnet.network
    if gw is None:
        return
    pointopoint = gw.version == 4 and net.version == 4 and net.prefixlen == 32
    if (gw.version != net.version or gw not in net) and not pointopoint:
        yield _v(subnet, "gateway", f"gateway {gw} is not in subnet {subnet.cidr}")
    elif (
        isinstance(net, ipaddress.IPv4Network)
        and net.prefixlen <= 30
        and gw
        in (
            net.network_address,
            net.broadcast_address,
        )
    ):
        yield _v(subnet, "gateway", f"gateway {gw} is the network or broadcast address of {subnet.cidr}")


def _range_text(r: DhcpRange) -> str:
    return f"{r.start}-{r.end}"


def _dhcp_ranges(subnet: Subnet) -> Iterator[Violation]:
    net = subnet.network
    valid: list[DhcpRange] = []
    for r in subnet.dhcp_ranges:
        problem = None
        if r.start.version != net.version or r.end.version != net.version:
            problem = f"range {_range_text(r)} is not IPv{net.version} like subnet {subnet.cidr}"
        elif r.start > r.end:
            problem = f"start-address {r.start} must not be greater than end-address {r.end}"
        elif r.start not in net:
            problem = f"start-address {r.start} is not in subnet {subnet.cidr}"
        elif r.end not in net:
            problem = f"end-address {r.end} is not in subnet {subnet.cidr}"
        if problem:
            yield _v(subnet, "dhcp-range", problem)
        else:
            valid.append(r)
    valid.sort(key=lambda r: int(r.start))
    for prev, cur in pairwise(valid):
        if cur.start <= prev.end:
            text = f"dhcp ranges must not overlap: {_range_text(prev)} and {_range_text(cur)}"
            yield _v(subnet, "dhcp-range", text)


def _overlaps(cfg: SdnConfig) -> Iterator[Violation]:
    groups: dict[tuple[str, int], list[Subnet]] = defaultdict(list)
    for subnet in cfg.subnets.values():
        groups[(subnet.zone, subnet.version)].append(subnet)
    for (zone, _), subnets in groups.items():
        subnets.sort(key=lambda s: (int(s.network.network_address), s.prefixlen))
        widest: Subnet | None = None
        for subnet in subnets:
            if widest is not None and subnet.network.network_address <= widest.network.broadcast_address:
                for a, b in ((subnet, widest), (widest, subnet)):
                    text = f'subnet {a.cidr} overlaps subnet {b.cidr} ("{b.id}") of zone "{zone}"'
                    yield _v(a, "subnet", text)
            if widest is None or subnet.network.broadcast_address > widest.network.broadcast_address:
                widest = subnet
