"""Node facts from files, for ``sdn render``: a small JSON document plus the interfaces file.

The JSON keys (docs/facts.md)::

    node            the node name (required)
    mac             MAC for BGP router-ids when the underlay has no IPv4 address
    underlay_iface  the interface towards the VXLAN/EVPN peers and the SNAT egress
    underlay_ip     override the underlay address (IPv4 or IPv6; default: the interface's
    underlay_ip6      first address of that family in the interfaces file)
    bridge_ports    {"vmbr0": ["eth0", ...]}: a bridge's physical ports (default: from the file)
    frr_version     the FRR version for the frr.conf header (default: PVE's 10.4.1)

The route towards the peers and the default route are both taken to leave through
``underlay_iface`` from the underlay address, which is what upstream's test fixtures assume.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sdnkit.config.formats import IP
from sdnkit.config.model import IPAddress
from sdnkit.errors import ConfigError
from sdnkit.plan.facts import IfaceKind, InterfaceFacts, NodeFacts, Route

KEYS = ("node", "mac", "underlay_iface", "underlay_ip", "underlay_ip6", "bridge_ports", "frr_version")
NODE_NAME = re.compile(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?")
MAC = re.compile(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}")
# names that go into generated files and shell lines as they are: letters, digits, "_", ".", "+", "-"
IFNAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,14}")
FRR_VERSION = re.compile(r"[0-9][0-9A-Za-z.~+-]{0,31}")


def _err(source: str, problem: str, key: str | None = None) -> ConfigError:
    return ConfigError(f"{source}: {problem}", obj=source, key=key)


def _string(
    data: Mapping[str, Any], key: str, source: str, pattern: re.Pattern[str] | None = None
) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or (pattern is not None and not pattern.fullmatch(value)):
        raise _err(source, f'invalid value for "{key}": {value!r}', key)
    return value


def _ip(data: Mapping[str, Any], key: str, source: str) -> IPAddress | None:
    value = _string(data, key, source)
    try:
        return ipaddress.ip_address(IP.parse(value)) if value else None
    except ValueError as err:
        raise _err(source, f'invalid value for "{key}": {err}', key) from None


def _bridge_ports(data: Mapping[str, Any], source: str) -> dict[str, tuple[str, ...]]:
    value = data.get("bridge_ports") or {}
    ok = isinstance(value, Mapping) and all(
        isinstance(b, str)
        and IFNAME.fullmatch(b)
        and isinstance(p, list)
        and all(isinstance(x, str) and IFNAME.fullmatch(x) for x in p)
        for b, p in value.items()
    )
    if not ok:
        raise _err(
            source, 'invalid value for "bridge_ports": expected {"<bridge>": ["<port>", ...]}', "bridge_ports"
        )
    return {b: tuple(p) for b, p in value.items()}


def parse_facts_json(text: str, source: str = "facts") -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise _err(source, f"not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise _err(source, "expected a JSON object")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise _err(source, f"unknown key {unknown[0]!r} (known: {', '.join(KEYS)})", unknown[0])
    if not data.get("node"):
        raise _err(source, 'missing "node" (the node name)', "node")
    return data


def _with_ports(interfaces: dict[str, InterfaceFacts], ports: Mapping[str, tuple[str, ...]]) -> None:
    for bridge, members in ports.items():
        old = interfaces.get(bridge)
        if old is None:
            interfaces[bridge] = InterfaceFacts(name=bridge, kind=IfaceKind.LINUX_BRIDGE, ports=members)
        else:
            kind = old.kind if old.is_bridge else IfaceKind.LINUX_BRIDGE
            interfaces[bridge] = replace(old, kind=kind, ports=members)


def _route(
    interfaces: Mapping[str, InterfaceFacts],
    iface: str | None,
    ip: IPAddress | None,
    version: int,
    source: str,
) -> Route | None:
    if ip is None and iface is not None and iface in interfaces:
        ip = next((a.ip for a in interfaces[iface].addresses if a.ip.version == version), None)
    if ip is None:
        return None
    if iface is None:
        iface = next(
            (n for n in sorted(interfaces) if any(a.ip == ip for a in interfaces[n].addresses)), None
        )
        if iface is None:
            raise _err(
                source, f"underlay address {ip} is on no interface of the interfaces file; set underlay_iface"
            )
    return Route(iface=iface, src=ip)


def build_facts(
    data: Mapping[str, Any],
    interfaces: Mapping[str, InterfaceFacts],
    frr_local: str | None = None,
    source: str = "facts",
) -> NodeFacts:
    """``NodeFacts`` from a parsed facts document and the node's interfaces."""
    node = _string(data, "node", source, NODE_NAME)
    assert node is not None  # checked by parse_facts_json
    ifaces = dict(interfaces)
    _with_ports(ifaces, _bridge_ports(data, source))
    uplink = _string(data, "underlay_iface", source, IFNAME)
    explicit = {4: None, 6: _ip(data, "underlay_ip6", source)}
    first = _ip(data, "underlay_ip", source)
    if first is not None:
        explicit[first.version] = first
    mac = _string(data, "mac", source, MAC)
    return NodeFacts(
        node=node,
        mac=mac.lower() if mac else None,
        interfaces=ifaces,
        route4=_route(ifaces, uplink, explicit[4], 4, source),
        route6=_route(ifaces, uplink, explicit[6], 6, source),
        frr_local=frr_local,
        frr_version=_string(data, "frr_version", source, FRR_VERSION),
    )
