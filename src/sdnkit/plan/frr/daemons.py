"""Which FRR daemons a node's FRR configuration needs (besides zebra, which always runs).

PVE turns ``fabricd`` and ``ospfd`` on in ``/etc/frr/daemons`` for the fabrics and relies on the
package defaults for the rest; Debian's package ships ``bgpd=no``, so an EVPN node needs more
than PVE switches on. The plan lists every daemon its configuration uses: the generated tree,
and the lines merged from ``frr.conf.local`` (read as text, see :func:`daemons_of_lines`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from sdnkit.plan.frr.model import FrrConfig

# a line (stripped) that starts with the pattern needs the daemon
LINE_DAEMONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"router bgp\b"), "bgpd"),
    (re.compile(r"router isis\b"), "isisd"),
    (re.compile(r"router openfabric\b"), "fabricd"),
    (re.compile(r"router ospf(?!6)\b"), "ospfd"),
    (re.compile(r"router ospf6\b"), "ospf6d"),
    (re.compile(r"router rip(?!ng)\b"), "ripd"),
    (re.compile(r"router ripng\b"), "ripngd"),
    (re.compile(r"router babel\b"), "babeld"),
    (re.compile(r"(bfd$|neighbor \S+ bfd\b)"), "bfdd"),
    (re.compile(r"ipv?6? route\s"), "staticd"),
)


def daemons_of_lines(lines: Iterable[str]) -> set[str]:
    """The daemons a piece of FRR configuration text needs."""
    found = set()
    for raw in lines:
        line = raw.strip()
        for pattern, daemon in LINE_DAEMONS:
            if pattern.match(line):
                found.add(daemon)
    return found


def _custom_lines(cfg: FrrConfig) -> Iterator[str]:
    yield from cfg.custom
    for vrf in cfg.vrfs:
        yield from vrf.custom
    for router in cfg.bgp_routers:
        yield from router.custom
        for family in (router.ipv4_unicast, router.ipv6_unicast, router.l2vpn_evpn):
            yield from family.custom if family is not None else ()
    for block in (*cfg.isis_routers, *cfg.isis_interfaces, *cfg.openfabric_routers):
        yield from block.custom
    for block2 in (*cfg.openfabric_interfaces, *cfg.ospf_interfaces):
        yield from block2.custom
    if cfg.ospf_router is not None:
        yield from cfg.ospf_router.custom


def daemons_of(cfg: FrrConfig, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """Every daemon besides zebra that ``cfg`` needs, by name."""
    found = set(extra) | daemons_of_lines(_custom_lines(cfg))
    found |= {"bgpd"} if cfg.bgp_routers else set()
    found |= {"bfdd"} if any(g.bfd for r in cfg.bgp_routers for g in r.neighbor_groups) else set()
    found |= {"isisd"} if cfg.isis_routers else set()
    found |= {"fabricd"} if cfg.openfabric_routers else set()
    found |= {"ospfd"} if cfg.ospf_router is not None else set()
    found |= {"staticd"} if cfg.ip_routes or any(v.ip_routes for v in cfg.vrfs) else set()
    return tuple(sorted(found - {"zebra"}))
