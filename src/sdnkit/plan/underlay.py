"""Underlay resolution: which local address and interface reach the VXLAN/EVPN peers.

PVE asks the live system (``find_local_ip_interface_peers``, ``ip route get``, sysfs MACs); here
the same questions are answered from :class:`~sdnkit.plan.facts.NodeFacts`:

1. a loopback interface is given (BGP/IS-IS controller ``loopback``) and has an address: use it;
2. one of the peers is a local address: that is us;
3. otherwise the route towards the first peer (its source address and device).

In fabric mode the peers are the fabric's node addresses and the local address is this node's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sdnkit.config.model import Controller, ControllerType, IPAddress, SdnConfig
from sdnkit.errors import PlanError
from sdnkit.plan.facts import NodeFacts


@dataclass(frozen=True, slots=True)
class Underlay:
    local_ip: IPAddress | None
    iface: str | None  # the interface that carries ``local_ip`` (its MTU sizes the overlay)
    peers: tuple[IPAddress, ...]
    loopback: str | None = None  # BGP update-source
    fabric: str | None = None

    @property
    def remotes(self) -> tuple[IPAddress, ...]:
        """The peers without ourselves, sorted (their configured order means nothing)."""
        return ip_sorted(p for p in self.peers if p != self.local_ip)


def ip_sorted(ips: Iterable[IPAddress]) -> tuple[IPAddress, ...]:
    """Addresses in numeric order, IPv4 first, without duplicates."""
    return tuple(sorted(set(ips), key=lambda ip: (ip.version, int(ip))))


def parse_peers(peers: Iterable[str]) -> tuple[IPAddress, ...]:
    return tuple(ipaddress.ip_address(p) for p in peers)


def _pick_address(facts: NodeFacts, iface: str, version: int | None) -> IPAddress | None:
    info = facts.iface(iface)
    if info is None or not info.addresses:
        return None
    same = [a.ip for a in info.addresses if a.ip.version == version]
    return same[0] if same else info.addresses[0].ip


def peer_underlay(facts: NodeFacts, peers: Sequence[str], loopback: str | None = None) -> Underlay:
    ips = parse_peers(peers)
    version = ips[0].version if ips else None
    if loopback:
        ip = _pick_address(facts, loopback, version)
        if ip is not None:
            return Underlay(ip, loopback, ips, loopback)
    for peer in ips:
        info = facts.iface_with_address(peer)
        if info is not None:
            return Underlay(peer, info.name, ips, loopback)
    route = facts.route_for(ips[0]) if ips else None
    if route is not None:
        return Underlay(route.src, route.iface, ips, loopback)
    return Underlay(None, None, ips, loopback)


def fabric_underlay(config: SdnConfig, node: str, fabric: str) -> Underlay:
    """Peers and local address from fabric ``fabric`` (nodes sorted by node name)."""
    members = sorted((n for n in config.fabric_nodes.values() if n.fabric == fabric), key=lambda n: n.node)
    local = next((n for n in members if n.node == node), None)
    if local is None:
        raise PlanError(f'fabric "{fabric}": node "{node}" is not a member', obj=fabric, key="fabric")
    ip: IPAddress | None = local.ip or local.ip6
    if ip is None:
        raise PlanError(f'fabric "{fabric}": node "{node}" has no address in it', obj=fabric, key="fabric")
    family = [n.ip if ip.version == 4 else n.ip6 for n in members]
    dummy = f"dummy_{fabric}"
    return Underlay(ip, dummy, tuple(a for a in family if a is not None), dummy, fabric)


def local_controller(config: SdnConfig, node: str, type_: ControllerType) -> Controller | None:
    """The first controller of ``type_`` (by ID) that is bound to ``node`` (BGP, IS-IS)."""
    for ctl in config.controllers.values():
        if ctl.type is type_ and ctl.node == node:
            return ctl
    return None


def mac_router_id(mac: str) -> str:
    """A BGP router-id from a MAC: bytes 2..5 as a dotted quad (``bc:24:11:1d:69:60`` → 17.29.105.96)."""
    parts = [int(b, 16) for b in mac.replace("-", ":").split(":")]
    if len(parts) != 6 or not any(parts):
        raise PlanError(f"cannot derive a BGP router-id from MAC address {mac!r}", key="mac", value=mac)
    return ".".join(str(b) for b in parts[2:])


def router_id(facts: NodeFacts, ip: IPAddress | None, iface: str | None) -> str:
    """PVE ``get_router_id``: an IPv4 underlay address, else derived from the interface MAC."""
    if ip is not None and ip.version == 4:
        return str(ip)
    info = facts.iface(iface) if iface else None
    mac = facts.mac or (info.mac if info else None)
    if not mac:
        raise PlanError(
            f'node "{facts.node}": no IPv4 underlay address and no MAC to derive a BGP router-id from',
            key="mac",
        )
    return mac_router_id(mac)
