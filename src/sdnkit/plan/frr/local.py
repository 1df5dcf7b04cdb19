"""Merging a node's ``/etc/frr/frr.conf.local`` into the generated FRR tree (spec §3.8).

The file is read the way ``vtysh`` writes configuration: a block is a non-indented header line
(``router``, ``vrf``, ``interface``, ``route-map``, ``line``, or any line followed by indented
lines) and its indented body, closed by ``exit``/``exit-vrf`` or by the next non-indented line;
``address-family``/``exit-address-family`` stay inside their router wherever they are indented.
Lines starting with ``!`` are comments.

What merges where (as upstream, with §10.21 fixed):

* ``router bgp <asn> [vrf <v>]``: into the generated router of that VRF when the ASN matches;
  its ``address-family`` sections into the generated ones, or kept as literal sections;
* ``router isis <d>``, ``router openfabric <f>``, ``router ospf``, ``vrf <v>``: into the
  generated block of the same name; ``interface <i>``: into the generated IS-IS, OpenFabric or
  OSPF interface (upstream merges IS-IS interfaces only);
* ``route-map <name> <action> <seq>``: kept, renumbered after the generated entries of that name;
* ``ip[v6] protocol <p> route-map <m>``: replaces the generated one for that protocol;
* everything else (other blocks, and every other top-level statement, which upstream drops apart
  from prefix lists, access lists and community lists) is kept verbatim, in file order.

Merged lines keep their indentation; blocks that merge into nothing are closed and separated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import TypeVar

from sdnkit.plan.context import PlanContext
from sdnkit.plan.frr.builder import FrrBuilder, RouterDraft
from sdnkit.plan.frr.model import (
    DEFAULT_VRF,
    IsisInterface,
    IsisRouter,
    OpenFabricInterface,
    OpenFabricRouter,
    OspfInterface,
    OspfRouter,
)

BLOCK_KEYWORDS = frozenset({"router", "vrf", "interface", "route-map", "line"})
CLOSERS = frozenset({"exit", "exit-vrf", "end"})
ROUTE_MAP = re.compile(r"route-map\s+(\S+)\s+(permit|deny)\s+(\d+)")
ROUTER_BGP = re.compile(r"router bgp (\d+)(?:\s+vrf\s+(\S+))?")
PROTOCOL = re.compile(r"(ip|ipv6) protocol (\S+) route-map (\S+)")
FAMILY_NAMES = {"ipv4": "ipv4 unicast", "ipv6": "ipv6 unicast"}


@dataclass(frozen=True, slots=True)
class LocalStatement:
    text: str


@dataclass(frozen=True, slots=True)
class LocalBlock:
    header: str
    lines: tuple[str, ...] = ()  # the body as written (trailing blanks removed)
    closer: str | None = None  # the closing ``exit``/``exit-vrf`` when there was one


LocalItem = LocalStatement | LocalBlock


@dataclass(slots=True)
class _Open:
    header: str
    lines: list[str] = field(default_factory=list)

    def close(self, closer: str | None = None) -> LocalBlock:
        return LocalBlock(self.header, tuple(self.lines), closer)


def _content_lines(text: str) -> list[str]:
    lines = [raw.rstrip() for raw in text.splitlines()]
    return [line for line in lines if line.strip() and not line.strip().startswith("!")]


def _in_router_block(stripped: str) -> bool:
    return stripped.startswith("address-family") or stripped == "exit-address-family"


def parse_local(text: str) -> tuple[LocalItem, ...]:
    """Split a ``frr.conf.local`` text into top-level statements and blocks, in file order."""
    lines = _content_lines(text)
    items: list[LocalItem] = []
    current: _Open | None = None
    for index, line in enumerate(lines):
        stripped = line.strip()
        indented = line[0] in " \t"
        if current is not None and (indented or _in_router_block(stripped)):
            current.lines.append(line)
            continue
        if current is not None:
            items.append(current.close(stripped if stripped in CLOSERS else None))
            current = None
        if stripped in CLOSERS or stripped == "exit-address-family":
            continue
        if indented:  # an indented line outside any block: a statement of its own
            items.append(LocalStatement(stripped))
            continue
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if stripped.split()[0] in BLOCK_KEYWORDS or following[:1] in (" ", "\t"):
            current = _Open(stripped)
        else:
            items.append(LocalStatement(stripped))
    if current is not None:
        items.append(current.close())
    return tuple(items)


@dataclass(slots=True)
class _Family:
    name: str
    lines: list[str] = field(default_factory=list)
    closer: str | None = None


def _split_families(lines: tuple[str, ...]) -> tuple[list[str], list[_Family]]:
    """A router body → (router-level lines, address-family sections)."""
    router: list[str] = []
    families: list[_Family] = []
    current: _Family | None = None
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("address-family "):
            name = stripped.removeprefix("address-family ").strip()
            current = _Family(FAMILY_NAMES.get(name, name))
            families.append(current)
        elif stripped == "exit-address-family" and current is not None:
            current.closer = line
            current = None
        elif current is not None:
            current.lines.append(line)
        else:
            router.append(line)
    return router, families


class LocalMerge:
    def __init__(self, ctx: PlanContext, b: FrrBuilder) -> None:
        self.ctx, self.b = ctx, b
        self.route_maps: dict[str, list[tuple[str, tuple[str, ...]]]] = {}

    def keep(self, block: LocalBlock) -> None:
        """A block that merges into nothing: copied, closed and separated."""
        closer = block.closer or ("exit-vrf" if block.header.startswith("vrf ") else "exit")
        self.b.custom.extend((block.header, *block.lines, closer, "!"))

    def statement(self, item: LocalStatement) -> None:
        match = PROTOCOL.fullmatch(item.text)
        if match is None:
            self.b.custom.append(item.text)
        elif match[1] == "ip":
            self.b.set_protocol_route_map(match[2], v4=match[3])
        else:
            self.b.set_protocol_route_map(match[2], v6=match[3])

    def bgp(self, block: LocalBlock, asn: int, vrf: str) -> None:
        router = self.b.router(vrf)
        if router is None or router.asn != asn:
            if router is not None:
                self.ctx.warn(
                    f"frr.conf.local: {block.header!r} does not match the generated router bgp {router.asn}"
                )
            self.keep(block)
            return
        lines, families = _split_families(block.lines)
        router.custom.extend(lines)
        for family in families:
            self._family(router, family)

    def _family(self, router: RouterDraft, family: _Family) -> None:
        target = {
            "ipv4 unicast": router.ipv4_unicast,
            "ipv6 unicast": router.ipv6_unicast,
            "l2vpn evpn": router.l2vpn_evpn,
        }.get(family.name)
        if target is not None:
            target.custom.extend(family.lines)
        else:
            closer = family.closer or " exit-address-family"
            router.custom.extend((f" address-family {family.name}", *family.lines, closer))

    def block(self, block: LocalBlock) -> None:
        header, b = block.header, self.b
        words = header.split()
        if (bgp := ROUTER_BGP.fullmatch(header)) is not None:
            self.bgp(block, int(bgp[1]), bgp[2] or DEFAULT_VRF)
        elif (rm := ROUTE_MAP.fullmatch(header)) is not None:
            self.route_maps.setdefault(rm[1], []).append((rm[2], block.lines))
        elif words[:2] == ["router", "isis"] and len(words) == 3 and words[2] in b.isis_routers:
            b.isis_routers[words[2]] = _extend(b.isis_routers[words[2]], block.lines)
        elif words[:2] == ["router", "openfabric"] and len(words) == 3 and words[2] in b.openfabric_routers:
            b.openfabric_routers[words[2]] = _extend(b.openfabric_routers[words[2]], block.lines)
        elif header == "router ospf" and b.ospf_router is not None:
            b.ospf_router = _extend(b.ospf_router, block.lines)
        elif words[0] == "vrf" and len(words) == 2 and words[1] in b.vrfs:
            b.vrfs[words[1]].custom.extend(block.lines)
        elif words[0] == "interface" and len(words) == 2 and self._interface(words[1], block.lines):
            pass
        else:
            self.keep(block)

    def _interface(self, name: str, lines: tuple[str, ...]) -> bool:
        b = self.b
        if name in b.isis_interfaces:
            b.isis_interfaces[name] = _extend(b.isis_interfaces[name], lines)
        elif name in b.openfabric_interfaces:
            b.openfabric_interfaces[name] = _extend(b.openfabric_interfaces[name], lines)
        elif name in b.ospf_interfaces:
            b.ospf_interfaces[name] = _extend(b.ospf_interfaces[name], lines)
        else:
            return False
        return True

    def finish(self) -> None:
        """Local route-map entries follow the generated ones of the same name, renumbered."""
        for name in sorted(self.route_maps):
            start = self.b.numbered_entries(name)
            for offset, (action, lines) in enumerate(self.route_maps[name], start=1):
                body = tuple(f" {line.strip()}" for line in lines)
                self.b.custom.extend((f"route-map {name} {action} {start + offset}", *body, "exit", "!"))


Mergeable = TypeVar(
    "Mergeable", IsisRouter, IsisInterface, OpenFabricRouter, OpenFabricInterface, OspfRouter, OspfInterface
)


def _extend(obj: Mergeable, lines: tuple[str, ...]) -> Mergeable:
    return replace(obj, custom=(*obj.custom, *lines))


def merge_local(ctx: PlanContext, b: FrrBuilder, text: str) -> None:
    merge = LocalMerge(ctx, b)
    for item in parse_local(text):
        if isinstance(item, LocalStatement):
            merge.statement(item)
        else:
            merge.block(item)
    merge.finish()
