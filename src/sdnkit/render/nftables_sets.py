"""Firewall IP sets as nftables named sets.

nft sets hold one address family and have no ``nomatch`` entries, so each planned
:class:`IpSet` becomes two interval sets, ``<name>-v4`` (``ipv4_addr``) and ``<name>-v6``
(``ipv6_addr``), whose elements are the set's addresses, networks and ranges **minus** its
``nomatch`` entries, merged into disjoint intervals. ``vnet0-no-gateway-v4`` of the seed's example
is thus ``{ 192.0.2.0, 192.0.2.2-192.0.2.255 }``: the subnet without its gateway. Both families
always exist, empty or not, so a rule may name either.

The sets live in their own table, ``table inet sdnkit-ipsets``. nft sets are local to a table:
firewall rules that use them go into chains of this same table (sdnkit never flushes the
table, only its sets), e.g.::

    table inet sdnkit-ipsets {
        chain vnet0-forward {
            type filter hook forward priority 0;
            ip saddr @vnet0-no-gateway-v4 counter drop
        }
    }
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass

from sdnkit.config.model import IPAddress
from sdnkit.plan.desired import IpSet
from sdnkit.render.nft_text import identifier, quoted

__all__ = ["FAMILIES", "TABLE", "NftSet", "element_text", "intervals", "nft_sets", "render_ipsets"]

TABLE = "sdnkit-ipsets"
FAMILIES = {4: ("v4", "ipv4_addr"), 6: ("v6", "ipv6_addr")}

Interval = tuple[int, int]  # first and last address, as integers


@dataclass(frozen=True, slots=True)
class NftSet:
    name: str
    version: int
    comment: str
    intervals: tuple[Interval, ...]

    @property
    def type(self) -> str:
        return FAMILIES[self.version][1]


@functools.lru_cache(maxsize=1 << 16)
def _interval(text: str) -> tuple[int, Interval]:
    """An element (``addr``, ``net/len`` or ``a-b``) as (family, interval); the same networks come
    in several sets (``-all``, ``-no-gateway``) and on every node: each text is parsed once."""
    if "-" in text:
        first, last = (ipaddress.ip_address(p.strip()) for p in text.split("-", 1))
        return first.version, (int(first), int(last))
    net = ipaddress.ip_network(text, strict=False)
    return net.version, (int(net.network_address), int(net.broadcast_address))


def _merge(spans: list[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _subtract(spans: list[Interval], holes: list[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for first, last in spans:
        pieces = [(first, last)]
        for hole_first, hole_last in holes:
            pieces = [
                part
                for lo, hi in pieces
                for part in ((lo, min(hi, hole_first - 1)), (max(lo, hole_last + 1), hi))
                if part[0] <= part[1]
            ]
        out += pieces
    return out


def intervals(ipset: IpSet, version: int) -> tuple[Interval, ...]:
    """The disjoint, sorted intervals of one family: elements minus nomatch."""
    if not ipset.elements:  # most sets of a large config (vnets without subnets): nothing to do
        return ()
    spans = [iv for v, iv in map(_interval, ipset.elements) if v == version]
    holes = [iv for v, iv in map(_interval, ipset.nomatch) if v == version]
    return tuple(_merge(_subtract(_merge(spans), _merge(holes))))


def nft_sets(ipset: IpSet) -> tuple[NftSet, NftSet]:
    v4, v6 = (NftSet(f"{ipset.name}-{FAMILIES[v][0]}", v, ipset.comment, intervals(ipset, v)) for v in (4, 6))
    return v4, v6


def _ip(version: int, value: int) -> IPAddress:
    return ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)


def element_text(version: int, interval: Interval) -> str:
    """One element: an address, a network when the interval is exactly one, else ``a-b``."""
    first, last = (_ip(version, v) for v in interval)
    if first == last:
        return str(first)
    size = interval[1] - interval[0] + 1
    if size & (size - 1) == 0 and interval[0] % size == 0:  # aligned power of two: one network
        return f"{first}/{first.max_prefixlen - size.bit_length() + 1}"
    return f"{first}-{last}"


def set_body(nset: NftSet, *, elements: bool = True) -> list[str]:
    """The set's declarations; its name and comment are checked (``render/nft_text.py``)."""
    obj = f'ipset "{nset.name}"'
    identifier(nset.name, obj, "name")
    lines = [f"type {nset.type}", "flags interval"]
    if nset.comment:
        lines.append(f"comment {quoted(nset.comment, obj, 'comment')}")
    if elements and nset.intervals:
        text = ", ".join(element_text(nset.version, iv) for iv in nset.intervals)
        lines.append(f"elements = {{ {text} }}")
    return lines


def _set_text(nset: NftSet) -> str:
    body = "".join(f"\t\t{line}\n" for line in set_body(nset))
    return f"\tset {nset.name} {{\n{body}\t}}\n"


def render_ipsets(ipsets: tuple[IpSet, ...], table: str = TABLE) -> str:
    """The table with every set, as ``nft -f`` reads it (the ``sdn render`` output)."""
    parts = [f"table inet {table} {{\n"]
    for ipset in sorted(ipsets, key=lambda s: s.name):
        parts += map(_set_text, nft_sets(ipset))
    parts.append("}\n")
    return "".join(parts)
