"""Cross-object rules of fabrics (spec §2.9, proxmox-ve-config ``FabricConfig::validate``).

* A fabric section's ID has no ``_``; a node section's ID is ``<fabric>_<node>`` of an existing
  fabric of the same protocol.
* OpenFabric fabrics need ``ip_prefix`` or ``ip6_prefix``, their nodes ``ip`` or ``ip6``.
* A node has an address of a family exactly when its fabric has a prefix of that family; the
  address lies inside the prefix and is unique in the fabric.
* Prefixes of one family do not overlap across fabrics; OSPF areas are unique; an interface of a
  node belongs to one fabric only.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from itertools import combinations

from sdnkit.config.formats import NODE_NAME
from sdnkit.config.model import Fabric, FabricNode, FabricProtocol, SdnConfig
from sdnkit.config.schema import REF_FABRIC, Kind
from sdnkit.config.violation import Violation

__all__ = ["check_fabrics"]


def _v(id_: str, key: str, text: str) -> Violation:
    return Violation(Kind.FABRICS, id_, key, text)


def check_fabrics(cfg: SdnConfig) -> Iterator[Violation]:
    fabrics, nodes = cfg.fabrics, cfg.fabric_nodes
    for fabric in fabrics.values():
        yield from _fabric(fabric)
    for node in nodes.values():
        yield from _node(node, fabrics.get(node.fabric))
    yield from _unique_node_ips(nodes)
    yield from _prefix_overlaps(fabrics)
    yield from _ospf_areas(fabrics)
    yield from _shared_interfaces(nodes)


def _fabric(fabric: Fabric) -> Iterator[Violation]:
    if not re.fullmatch(REF_FABRIC.pattern or "", fabric.id):
        yield _v(fabric.id, "id", "a fabric ID is 2-8 letters, digits and '-' (no '_')")
    if fabric.protocol is FabricProtocol.OPENFABRIC and not (fabric.ip_prefix or fabric.ip6_prefix):
        yield _v(fabric.id, "ip_prefix", "an openfabric fabric needs ip_prefix or ip6_prefix")


def _node(node: FabricNode, fabric: Fabric | None) -> Iterator[Violation]:
    if not re.fullmatch(REF_FABRIC.pattern or "", node.fabric) or not NODE_NAME.fullmatch(node.node):
        yield _v(node.id, "node_id", "a fabric node ID is <fabric>_<node>")
        return
    if fabric is None:
        yield _v(node.id, "fabric_id", f'fabric "{node.fabric}" does not exist')
        return
    if fabric.protocol is not node.protocol:
        text = f'protocol {node.protocol} differs from protocol {fabric.protocol} of fabric "{fabric.id}"'
        yield _v(node.id, "protocol", text)
        return
    if node.protocol is FabricProtocol.OPENFABRIC and not (node.ip or node.ip6):
        yield _v(node.id, "ip", "an openfabric node needs ip or ip6")
    for key, addr, prefix in (("ip", node.ip, fabric.ip_prefix), ("ip6", node.ip6, fabric.ip6_prefix)):
        prefix_key = f"{key}_prefix"
        if addr is not None and prefix is None:
            yield _v(node.id, key, f'fabric "{fabric.id}" has no {prefix_key} for the node\'s {key} {addr}')
        elif addr is None and prefix is not None:
            yield _v(node.id, key, f'fabric "{fabric.id}" has {prefix_key} {prefix}, the node needs a {key}')
        elif addr is not None and prefix is not None and addr not in prefix:
            yield _v(node.id, key, f'{key} {addr} is not in {prefix_key} {prefix} of fabric "{fabric.id}"')


def _unique_node_ips(nodes: dict[str, FabricNode]) -> Iterator[Violation]:
    seen: dict[tuple[str, str, object], str] = {}
    for node in nodes.values():
        for key, addr in (("ip", node.ip), ("ip6", node.ip6)):
            if addr is None:
                continue
            other = seen.setdefault((node.fabric, key, addr), node.id)
            if other != node.id:
                yield _v(node.id, key, f'{key} {addr} is already used by node "{other}" of the fabric')


def _prefix_overlaps(fabrics: dict[str, Fabric]) -> Iterator[Violation]:
    for a, b in combinations(fabrics.values(), 2):
        for key in ("ip_prefix", "ip6_prefix"):
            pa, pb = getattr(a, key), getattr(b, key)
            if pa is not None and pb is not None and pa.overlaps(pb):
                yield _v(b.id, key, f'{key} {pb} overlaps {key} {pa} of fabric "{a.id}"')


def _area_number(area: str) -> int:
    number = int(ipaddress.IPv4Address(area)) if "." in area else int(area)
    if number > 0xFFFFFFFF:
        raise ValueError(area)
    return number


def _ospf_areas(fabrics: dict[str, Fabric]) -> Iterator[Violation]:
    seen: dict[int, str] = {}
    for fabric in fabrics.values():
        if fabric.protocol is not FabricProtocol.OSPF or fabric.area is None:
            continue
        try:
            number = _area_number(fabric.area)
        except ValueError:
            yield _v(fabric.id, "area", f"area {fabric.area} is not a number or a dotted quad")
            continue
        other = seen.setdefault(number, fabric.id)
        if other != fabric.id:
            yield _v(fabric.id, "area", f'area {fabric.area} is already used by fabric "{other}"')


def _shared_interfaces(nodes: dict[str, FabricNode]) -> Iterator[Violation]:
    seen: dict[tuple[str, str], str] = {}
    for node in nodes.values():
        for iface in node.interfaces:
            other = seen.setdefault((node.node, iface.name), node.fabric)
            if other != node.fabric:
                text = f'interface {iface.name} of node {node.node} is already in fabric "{other}"'
                yield _v(node.id, "interfaces", text)
