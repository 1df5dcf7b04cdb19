"""Address arithmetic for IPAM: usable bounds, allocation pools and sets of allocated intervals.

Pure functions and values, no I/O. Addresses are handled as ``int`` here (``int(ip)``), so IPv4
and IPv6 share the code; callers convert with ``ipaddress.ip_address(n)`` for IPv4 and
``ipaddress.IPv6Address(n)`` for IPv6.

Which addresses a subnet hands out (``usable_bounds``):

* IPv4: every address but the network and broadcast addresses; a /31 (RFC 3021) and a /32 use
  every address.
* IPv6: every address but the network address, which is the subnet-router anycast address
  (RFC 4291 §2.6.1) and must never be given to a host (upstream does, spec §10.10). A /128 is a
  single host address and is used as is.

``IntervalSet`` keeps the allocated addresses of one subnet as sorted, disjoint, non-adjacent
intervals, so that the next free address of a pool is found with one binary search instead of a
scan over the used addresses (upstream scans linearly, spec §9).
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from functools import lru_cache

from sdnkit.config.model import DhcpRange, IPAddress, IPNetwork

__all__ = ["IntervalSet", "first_free", "int_to_ip", "network", "pools", "usable_bounds"]


@lru_cache(maxsize=4096)
def network(cidr: str) -> IPNetwork:
    """The normalised network of a subnet CIDR (parsed once: the allocation path is hot)."""
    return ipaddress.ip_network(cidr, strict=False)


def usable_bounds(net: IPNetwork) -> tuple[int, int] | None:
    """First and last address of ``net`` that may be given to a host, or None if there is none."""
    first, last = int(net.network_address), int(net.broadcast_address)
    if net.version == 4:
        return (first, last) if net.prefixlen >= 31 else (first + 1, last - 1)
    if net.prefixlen == 128:
        return first, last
    return first + 1, last


@lru_cache(maxsize=4096)
def pools(net: IPNetwork, ranges: tuple[DhcpRange, ...] = ()) -> tuple[tuple[int, int], ...]:
    """Where allocations for ``net`` may go, in the order to try them.

    The DHCP ranges of the subnet when it has some (clipped to the usable bounds, so a range
    that starts on the network address cannot hand it out), otherwise the usable bounds.
    """
    bounds = usable_bounds(net)
    if bounds is None:
        return ()
    lo, hi = bounds
    if not ranges:
        return ((lo, hi),)
    out: list[tuple[int, int]] = []
    for r in ranges:
        if r.start.version != net.version:
            continue
        start, end = max(lo, int(r.start)), min(hi, int(r.end))
        if start <= end:
            out.append((start, end))
    return tuple(out)


def int_to_ip(version: int, value: int) -> IPAddress:
    return ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)


class IntervalSet:
    """A set of ints stored as sorted, disjoint, non-adjacent closed intervals.

    ``add``/``discard``/``in`` cost one binary search (plus a list insert when a new interval
    starts); ``first_free(lo, hi)`` costs one binary search, because the interval that holds
    ``lo`` is followed by a gap of at least one free value.
    """

    __slots__ = ("_count", "_ends", "_starts")

    def __init__(self, values: Iterable[int] = ()) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._count = 0
        for v in sorted(set(values)):
            if self._ends and self._ends[-1] == v - 1:
                self._ends[-1] = v
            else:
                self._starts.append(v)
                self._ends.append(v)
            self._count += 1

    def __len__(self) -> int:
        return self._count

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int):
            return False
        i = bisect_right(self._starts, value) - 1
        return i >= 0 and value <= self._ends[i]

    def __iter__(self) -> Iterator[int]:
        for start, end in zip(self._starts, self._ends, strict=True):
            yield from range(start, end + 1)

    def intervals(self) -> list[tuple[int, int]]:
        return list(zip(self._starts, self._ends, strict=True))

    def add(self, value: int) -> bool:
        """Add ``value``; False when it was already in the set."""
        starts, ends = self._starts, self._ends
        i = bisect_right(starts, value) - 1
        if i >= 0 and value <= ends[i]:
            return False
        join_left = i >= 0 and ends[i] == value - 1
        join_right = i + 1 < len(starts) and starts[i + 1] == value + 1
        if join_left and join_right:
            ends[i] = ends[i + 1]
            del starts[i + 1], ends[i + 1]
        elif join_left:
            ends[i] = value
        elif join_right:
            starts[i + 1] = value
        else:
            starts.insert(i + 1, value)
            ends.insert(i + 1, value)
        self._count += 1
        return True

    def discard(self, value: int) -> bool:
        """Remove ``value``; False when it was not in the set."""
        starts, ends = self._starts, self._ends
        i = bisect_right(starts, value) - 1
        if i < 0 or value > ends[i]:
            return False
        start, end = starts[i], ends[i]
        if start == end:
            del starts[i], ends[i]
        elif value == start:
            starts[i] = value + 1
        elif value == end:
            ends[i] = value - 1
        else:
            ends[i] = value - 1
            starts.insert(i + 1, value + 1)
            ends.insert(i + 1, end)
        self._count -= 1
        return True

    def first_free(self, lo: int, hi: int) -> int | None:
        """The smallest value in ``[lo, hi]`` not in the set, or None when all are taken."""
        if lo > hi:
            return None
        i = bisect_right(self._starts, lo) - 1
        candidate = self._ends[i] + 1 if i >= 0 and lo <= self._ends[i] else lo
        return candidate if candidate <= hi else None


def first_free(used: IntervalSet, lo: int, hi: int, reserved: Iterable[int] = ()) -> int | None:
    """The smallest value in ``[lo, hi]`` neither in ``used`` nor in ``reserved``."""
    skip = set(reserved)
    while True:
        candidate = used.first_free(lo, hi)
        if candidate is None or candidate not in skip:
            return candidate
        lo = candidate + 1
