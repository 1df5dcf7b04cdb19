"""Typed, immutable SDN objects, built once from validated sections.

Below this module nothing handles option strings: the planner, IPAM and the API read these
objects. PVE keys become snake_case attributes (``vrf-vxlan`` → ``vrf_vxlan``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from sdnkit.config.formats import PropertyValue
from sdnkit.config.schema import Kind
from sdnkit.config.section import Section, parse_subnet_id

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

T = TypeVar("T")


class ZoneType(StrEnum):
    SIMPLE = "simple"
    VLAN = "vlan"
    QINQ = "qinq"
    VXLAN = "vxlan"
    EVPN = "evpn"


class ControllerType(StrEnum):
    EVPN = "evpn"
    BGP = "bgp"
    ISIS = "isis"


class FabricProtocol(StrEnum):
    OPENFABRIC = "openfabric"
    OSPF = "ospf"


def _frozen(values: Any) -> frozenset[str]:
    return frozenset(values or ())


@dataclass(frozen=True, slots=True, kw_only=True)
class Zone:
    id: str
    type: ZoneType
    nodes: frozenset[str] = frozenset()  # empty: every node
    ipam: str | None = None
    dns: str | None = None
    reversedns: str | None = None
    dnszone: str | None = None
    dhcp: str | None = None
    mtu: int | None = None
    bridge: str | None = None
    bridge_disable_mac_learning: bool = False
    tag: int | None = None
    vlan_protocol: str | None = None
    peers: tuple[str, ...] = ()
    fabric: str | None = None
    vxlan_port: int | None = None
    vrf_vxlan: int | None = None
    controller: str | None = None
    mac: str | None = None
    exitnodes: frozenset[str] = frozenset()
    exitnodes_primary: str | None = None
    exitnodes_local_routing: bool = False
    advertise_subnets: bool = False
    disable_arp_nd_suppression: bool = False
    rt_import: tuple[str, ...] = ()

    def on_node(self, node: str) -> bool:
        """Whether the zone is deployed on ``node`` (no ``nodes`` option: everywhere)."""
        return not self.nodes or node in self.nodes

    @classmethod
    def from_section(cls, sec: Section) -> Zone:
        opts = {k.replace("-", "_"): v for k, v in sec}
        opts["nodes"] = _frozen(opts.get("nodes"))
        opts["exitnodes"] = _frozen(opts.get("exitnodes"))
        return cls(id=sec.id, type=ZoneType(sec.type), **opts)


@dataclass(frozen=True, slots=True, kw_only=True)
class Vnet:
    id: str
    zone: str
    tag: int | None = None
    alias: str | None = None
    vlanaware: bool = False
    isolate_ports: bool = False

    @classmethod
    def from_section(cls, sec: Section) -> Vnet:
        return cls(id=sec.id, **{k.replace("-", "_"): v for k, v in sec})


@dataclass(frozen=True, slots=True)
class DhcpRange:
    start: IPAddress
    end: IPAddress

    @classmethod
    def from_property(cls, prop: PropertyValue) -> DhcpRange:
        return cls(ipaddress.ip_address(prop["start-address"]), ipaddress.ip_address(prop["end-address"]))

    def __contains__(self, ip: object) -> bool:
        return (
            isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address)
            and ip.version == self.start.version
            and self.start <= ip <= self.end
        )

    @property
    def size(self) -> int:
        return int(self.end) - int(self.start) + 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Subnet:
    """A subnet. ``cidr`` is as configured (host bits allowed); ``network`` is normalised."""

    id: str
    vnet: str
    zone: str
    cidr: str
    gateway: IPAddress | None = None
    snat: bool = False
    dnszoneprefix: str | None = None
    dhcp_ranges: tuple[DhcpRange, ...] = ()
    dhcp_dns_server: IPAddress | None = None

    @property
    def network(self) -> IPNetwork:
        return ipaddress.ip_network(self.cidr, strict=False)

    @property
    def address(self) -> IPAddress:
        """The address part of the ID, not normalised (``192.168.0.1`` of ``192.168.0.1/24``)."""
        return ipaddress.ip_address(self.cidr.split("/")[0])

    @property
    def prefixlen(self) -> int:
        return self.network.prefixlen

    @property
    def version(self) -> int:
        return self.network.version

    @property
    def gateway_interface(self) -> IPInterface | None:
        """The gateway with the subnet's prefix length, as put on the vnet bridge."""
        if self.gateway is None:
            return None
        return ipaddress.ip_interface(f"{self.gateway}/{self.prefixlen}")

    @classmethod
    def from_section(cls, sec: Section) -> Subnet:
        zone, cidr = parse_subnet_id(sec.id)
        gateway = sec.get("gateway")
        dns_server = sec.get("dhcp-dns-server")
        return cls(
            id=sec.id,
            vnet=sec.get("vnet"),
            zone=zone,
            cidr=cidr,
            gateway=ipaddress.ip_address(gateway) if gateway else None,
            snat=bool(sec.get("snat", False)),
            dnszoneprefix=sec.get("dnszoneprefix"),
            dhcp_ranges=tuple(DhcpRange.from_property(p) for p in sec.get("dhcp-range", ())),
            dhcp_dns_server=ipaddress.ip_address(dns_server) if dns_server else None,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Controller:
    id: str
    type: ControllerType
    asn: int | None = None
    peers: tuple[str, ...] = ()
    fabric: str | None = None
    node: str | None = None
    ebgp: bool = False
    ebgp_multihop: int | None = None
    bgp_multipath_as_path_relax: bool = False
    loopback: str | None = None
    isis_domain: str | None = None
    isis_ifaces: tuple[str, ...] = ()
    isis_net: str | None = None

    @classmethod
    def from_section(cls, sec: Section) -> Controller:
        opts = {k.replace("-", "_"): v for k, v in sec}
        return cls(id=sec.id, type=ControllerType(sec.type), **opts)


@dataclass(frozen=True, slots=True, kw_only=True)
class Ipam:
    id: str
    type: str
    url: str | None = None
    token: str | None = None
    section: int | None = None
    fingerprint: str | None = None
    cafile: str | None = None

    @classmethod
    def from_section(cls, sec: Section) -> Ipam:
        return cls(id=sec.id, type=sec.type, **dict(sec))


@dataclass(frozen=True, slots=True, kw_only=True)
class Dns:
    id: str
    type: str
    url: str
    key: str
    ttl: int | None = None
    reversemaskv6: int | None = None
    fingerprint: str | None = None

    @classmethod
    def from_section(cls, sec: Section) -> Dns:
        return cls(id=sec.id, type=sec.type, **dict(sec))


@dataclass(frozen=True, slots=True, kw_only=True)
class Fabric:
    id: str
    protocol: FabricProtocol
    ip_prefix: IPNetwork | None = None
    ip6_prefix: IPNetwork | None = None
    hello_interval: int | None = None
    csnp_interval: int | None = None
    area: str | None = None

    @classmethod
    def from_section(cls, sec: Section) -> Fabric:
        opts: dict[str, Any] = dict(sec)
        for key in ("ip_prefix", "ip6_prefix"):
            if key in opts:
                opts[key] = ipaddress.ip_network(opts[key], strict=False)
        return cls(id=sec.id, protocol=FabricProtocol(sec.type.split("_")[0]), **opts)


@dataclass(frozen=True, slots=True, kw_only=True)
class FabricInterface:
    name: str
    ip: ipaddress.IPv4Interface | None = None
    ip6: ipaddress.IPv6Interface | None = None
    hello_multiplier: int | None = None

    @classmethod
    def from_property(cls, prop: PropertyValue) -> FabricInterface:
        return cls(
            name=prop["name"],
            ip=ipaddress.IPv4Interface(prop["ip"]) if "ip" in prop else None,
            ip6=ipaddress.IPv6Interface(prop["ip6"]) if "ip6" in prop else None,
            hello_multiplier=prop.get("hello_multiplier"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class FabricNode:
    """A node's membership in a fabric; the section ID is ``<fabric>_<node>``."""

    id: str
    fabric: str
    node: str
    protocol: FabricProtocol
    ip: ipaddress.IPv4Address | None = None
    ip6: ipaddress.IPv6Address | None = None
    interfaces: tuple[FabricInterface, ...] = ()

    @classmethod
    def from_section(cls, sec: Section) -> FabricNode:
        fabric, _, node = sec.id.partition("_")
        ip, ip6 = sec.get("ip"), sec.get("ip6")
        return cls(
            id=sec.id,
            fabric=fabric,
            node=node,
            protocol=FabricProtocol(sec.type.split("_")[0]),
            ip=ipaddress.IPv4Address(ip) if ip else None,
            ip6=ipaddress.IPv6Address(ip6) if ip6 else None,
            interfaces=tuple(FabricInterface.from_property(p) for p in sec.get("interfaces", ())),
        )


Sections = Mapping[Kind, Mapping[str, Section]]


@dataclass(frozen=True, slots=True)
class SdnConfig:
    """A whole configuration (pending or running): sections by kind, in file order.

    The typed views (``zones``, ``vnets``, ...) are built on first use. IDs map to objects and
    every mapping iterates in sorted ID order, so that output never depends on file order.
    """

    sections: Sections = field(default_factory=dict)
    _cache: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def of(self, kind: Kind) -> Mapping[str, Section]:
        return self.sections.get(kind, {})

    def _typed(self, name: str, kind: Kind, build: Any, accept: Any = None) -> Any:
        if name not in self._cache:
            secs = self.of(kind)
            self._cache[name] = {i: build(secs[i]) for i in sorted(secs) if accept is None or accept(secs[i])}
        return self._cache[name]

    @property
    def zones(self) -> dict[str, Zone]:
        return self._typed("zones", Kind.ZONES, Zone.from_section)

    @property
    def vnets(self) -> dict[str, Vnet]:
        return self._typed("vnets", Kind.VNETS, Vnet.from_section)

    @property
    def subnets(self) -> dict[str, Subnet]:
        return self._typed("subnets", Kind.SUBNETS, Subnet.from_section)

    @property
    def controllers(self) -> dict[str, Controller]:
        return self._typed("controllers", Kind.CONTROLLERS, Controller.from_section)

    @property
    def ipams(self) -> dict[str, Ipam]:
        return self._typed("ipams", Kind.IPAMS, Ipam.from_section)

    @property
    def dns(self) -> dict[str, Dns]:
        return self._typed("dns", Kind.DNS, Dns.from_section)

    @property
    def fabrics(self) -> dict[str, Fabric]:
        return self._typed("fabrics", Kind.FABRICS, Fabric.from_section, lambda s: s.type.endswith("_fabric"))

    @property
    def fabric_nodes(self) -> dict[str, FabricNode]:
        return self._typed(
            "fabric_nodes", Kind.FABRICS, FabricNode.from_section, lambda s: s.type.endswith("_node")
        )

    def _grouped(self, name: str, items: Any, key: Any) -> dict[str, list[Any]]:
        """An index ``key(item) -> [items]`` built once (lookups per vnet must not scan all)."""
        if name not in self._cache:
            index: dict[str, list[Any]] = {}
            for item in items.values():
                index.setdefault(key(item), []).append(item)
            self._cache[name] = index
        return self._cache[name]  # type: ignore[no-any-return]

    def subnets_of(self, vnet: str) -> list[Subnet]:
        """Subnets of a vnet, sorted by ID."""
        return list(self._grouped("subnets_by_vnet", self.subnets, lambda s: s.vnet).get(vnet, ()))

    def vnets_of(self, zone: str) -> list[Vnet]:
        """Vnets of a zone, sorted by ID."""
        return list(self._grouped("vnets_by_zone", self.vnets, lambda v: v.zone).get(zone, ()))

    def derived(self, key: Hashable, build: Callable[[], T]) -> T:
        """``build()``, computed once per key and kept with this configuration.

        For values that depend only on the (immutable) configuration and on what ``key`` names,
        such as the planner's node-independent parts shared by every node's plan. ``key`` must be
        a tuple starting with the caller's module name and must hold every other input of
        ``build``: a cached value then never depends on who asked first.
        """
        try:
            return self._cache[key]  # type: ignore[no-any-return]
        except KeyError:
            pass
        return self._cache.setdefault(key, build())  # type: ignore[no-any-return]

    def zone_of(self, vnet: str) -> Zone | None:
        v = self.vnets.get(vnet)
        return self.zones.get(v.zone) if v else None
