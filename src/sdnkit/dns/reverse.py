"""Reverse DNS names: PTR owner names and the reverse zone an address belongs to (fixes spec §10.12).

Reverse zones are cut on label boundaries: octets for IPv4 (``c.b.a.in-addr.arpa.`` holds a /24,
``b.a.in-addr.arpa.`` a /16, ``a.in-addr.arpa.`` a /8) and nibbles for IPv6 (one label per 4 bits).
RFC 2317 classless delegation (``0-63.2.0.192.in-addr.arpa.``) is not supported.

Which zone an address goes to is decided per address, not per subnet, and by what the DNS server
really hosts: the **most specific reverse zone the server has whose name is a suffix of the
address's PTR name**, which is also the zone a resolver would ask. So a /20 works when the server
hosts the sixteen /24 zones or one /16 zone, a /26 goes into its /24 zone, and ``10.in-addr.arpa.``
(an RFC 1918 style zone) serves all of 10.0.0.0/8. Upstream instead derived one zone from the
subnet mask, which was wrong for masks under /24 and empty for masks over /24.

For IPv6 the DNS option ``reversemaskv6`` (a multiple of 4) pins the zone: it is exactly the
nibble zone of that prefix length, and it must exist. Upstream validated but never applied it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from sdnkit.config.model import IPAddress

__all__ = [
    "candidate_zones",
    "fqdn",
    "is_reverse_zone",
    "pick_reverse_zone",
    "ptr_name",
    "zone_at",
]

_SUFFIX = {4: "in-addr.arpa.", 6: "ip6.arpa."}
_STEP = {4: 8, 6: 4}  # bits per label
_BITS = {4: 32, 6: 128}


def fqdn(name: str) -> str:
    """``name`` lower-cased with exactly one trailing dot."""
    return name.rstrip(".").lower() + "."


def ptr_name(ip: IPAddress | str) -> str:
    """The PTR owner name: ``4.3.2.1.in-addr.arpa.`` or the 32-nibble ``…ip6.arpa.`` name."""
    return ipaddress.ip_address(ip).reverse_pointer + "."


def zone_at(ip: IPAddress | str, prefixlen: int) -> str:
    """The reverse zone holding ``ip`` cut at ``prefixlen`` (a label boundary of the family)."""
    addr = ipaddress.ip_address(ip)
    step, bits = _STEP[addr.version], _BITS[addr.version]
    if prefixlen % step or not 0 < prefixlen < bits:
        raise ValueError(
            f"reverse zone prefix length {prefixlen} is not a multiple of {step}"
            f" between {step} and {bits - step}"
        )
    labels = ptr_name(addr).split(".")
    # ptr labels: one per step bits, least significant first, then the suffix labels
    keep = prefixlen // step
    return ".".join(labels[bits // step - keep :])


def candidate_zones(ip: IPAddress | str) -> list[str]:
    """Every label-boundary reverse zone that contains ``ip``, most specific first."""
    addr = ipaddress.ip_address(ip)
    step, bits = _STEP[addr.version], _BITS[addr.version]
    return [zone_at(addr, p) for p in range(bits - step, 0, -step)]


def is_reverse_zone(name: str) -> bool:
    return fqdn(name).endswith(tuple(_SUFFIX.values()))


def pick_reverse_zone(ip: IPAddress | str, hosted: Iterable[str], mask_v6: int | None = None) -> str | None:
    """The reverse zone ``ip``'s PTR record goes to, among the zones the server ``hosted``.

    Returns None when the server hosts no matching zone (with ``mask_v6``: not that exact zone).
    """
    addr = ipaddress.ip_address(ip)
    names = {fqdn(z) for z in hosted}
    if addr.version == 6 and mask_v6 is not None:
        wanted = zone_at(addr, mask_v6)
        return wanted if wanted in names else None
    for zone in candidate_zones(addr):
        if zone in names:
            return zone
    return None
