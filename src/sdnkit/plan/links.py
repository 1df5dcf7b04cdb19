"""Merging the links that vnets and fabrics contribute into one sorted tuple.

PVE builds its interfaces file "first wins": the first vnet (in vnet ID order) that defines an
interface decides its options; later definitions are ignored. The exception is the node's own
bridge (``Existing``), which several vnets extend: OVS ports are collected (VLAN vnets each on
their own ``ovs_ports`` line, QinQ zones on one shared line) and the first VLAN protocol wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from operator import attrgetter

from sdnkit.plan.desired import AnyLink, Existing

SharedLine = dict[str, int]  # bridge name -> index of the shared ``ovs_ports`` line
_NAME = attrgetter("name")


def _as_lines(link: Existing) -> tuple[tuple[str, ...], ...]:
    return link.ovs_port_lines or ((link.ovs_ports,) if link.ovs_ports else ())


def _add_ports(old: Existing, new: Existing, shared: SharedLine) -> Existing:
    fresh = tuple(p for p in new.ovs_ports if p not in old.ovs_ports)
    if not fresh:
        return old
    lines = [list(line) for line in _as_lines(old)]
    if new.ovs_port_lines:  # ports with a line of their own
        lines += [[p for p in line if p in fresh] for line in new.ovs_port_lines]
    elif old.name in shared:
        lines[shared[old.name]] += fresh
    else:
        shared[old.name] = len(lines)
        lines.append(list(fresh))
    return replace(
        old,
        ovs_ports=old.ovs_ports + fresh,
        ovs_port_lines=tuple(tuple(line) for line in lines if line),
    )


def _merge_existing(old: Existing, new: Existing, shared: SharedLine) -> Existing:
    merged = _add_ports(old, new, shared)
    if merged.vlan_protocol is None and new.vlan_protocol is not None:
        merged = replace(merged, vlan_protocol=new.vlan_protocol)
    return merged


class LinkMerger:
    """Merges links in order: one per name, the first definition wins, ``Existing`` ones merge.

    A merge can go on later from what it made so far (``links`` and its ``shared`` state): the
    planner merges the vnets' links once for many nodes and each node's fabric interfaces after.
    """

    def __init__(self, links: Iterable[AnyLink] = (), shared: Mapping[str, int] | None = None) -> None:
        self.by_name: dict[str, AnyLink] = {link.name: link for link in links}
        self.shared: SharedLine = dict(shared or {})

    def add(self, links: Iterable[AnyLink]) -> None:
        by_name, shared = self.by_name, self.shared
        get = by_name.get
        for link in links:
            old = get(link.name)
            if old is None:
                if isinstance(link, Existing) and link.ovs_ports and not link.ovs_port_lines:
                    shared[link.name] = 0
                by_name[link.name] = link
            # a zone's shared links come again with each of its vnets: merging one with itself is a no-op
            elif old is not link and isinstance(old, Existing) and isinstance(link, Existing):
                by_name[link.name] = _merge_existing(old, link, shared)

    def links(self) -> tuple[AnyLink, ...]:
        """The merged links, sorted by name."""
        return tuple(sorted(self.by_name.values(), key=_NAME))  # names are unique


def merge_links(links: Iterable[AnyLink]) -> tuple[AnyLink, ...]:
    """One link per name: the first definition wins, ``Existing`` ones are merged; sorted by name."""
    merger = LinkMerger()
    merger.add(links)
    return merger.links()
