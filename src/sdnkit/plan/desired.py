"""Desired state of one node: the ``NodePlan`` that render and realize both consume.

Every decision lives here, typed and immutable; renderers only format it and realizers only
apply it. Collections are tuples sorted by name, so that equal plans compare (and render) equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sdnkit.plan.frozen import fast_init

if TYPE_CHECKING:  # annotations only: a node agent's apply need not import the config model
    from sdnkit.config.model import IPAddress, IPInterface, IPNetwork


class LinkKind(StrEnum):
    BRIDGE = "bridge"
    VXLAN = "vxlan"
    VETH = "veth"
    VLAN = "vlan"
    VRF = "vrf"
    DUMMY = "dummy"
    OVS_INT_PORT = "ovs_int_port"
    EXISTING = "existing"  # an interface the node already has (uplink bridge, fabric NIC)


class LinkRole(StrEnum):
    """What a link is for; the ifupdown2 renderer picks PVE's stanza style by role."""

    VNET = "vnet"  # the vnet bridge guests plug into
    VNET_PORT = "vnet-port"  # a vnet's uplink: vxlan_<vnet>, ln_/pr_<vnet> veths or OVS port
    LEGACY_BRIDGE = "legacy-bridge"  # <bridge>v<tag>: VLAN zone on a plain Linux bridge
    ZONE_BRIDGE = "zone-bridge"  # z_<zone>: QinQ zone's vlan-aware bridge
    ZONE_PORT = "zone-port"  # ln_/pr_<zone>, sv_<zone>: QinQ zone uplinks
    UPLINK = "uplink"  # the node's own bridge (OVS ports, VLAN protocol) and its VLAN devices
    VRF = "vrf"  # vrf_<zone>
    L3VNI = "l3vni"  # vrfvx_/vrfbr_<zone>: the EVPN zone's routed VNI
    XVRF = "xvrf"  # xvrf_/xvrfp_<zone>: exit-node veth between the default VRF and the zone
    FABRIC = "fabric"  # dummy_<fabric> and the fabric NICs (ifupdown2 ``inet static`` stanzas)


# weakref_slot: renderers cache a link's text for as long as the link lives (render/ifupdown.py);
# fast_init: the same __init__, twice as fast (plans of large clusters hold many links)
@fast_init
@dataclass(frozen=True, slots=True, kw_only=True, weakref_slot=True)
class Link:
    """Settings every link kind shares."""

    name: str
    mtu: int | None = None
    addresses: tuple[IPInterface, ...] = ()
    hwaddress: str | None = None
    vrf: str | None = None  # enslaved to this VRF
    alias: str | None = None
    ip_forward: bool | None = None  # net.ipv4.conf.<if>.forwarding
    ip6_forward: bool | None = None  # net.ipv6.conf.<if>.forwarding
    arp_accept: bool | None = None
    routes: tuple[IPNetwork, ...] = ()  # device routes ("up ip route add <net> dev <if>")
    role: LinkRole | None = None

    kind: LinkKind = LinkKind.EXISTING

    @property
    def owned(self) -> bool:
        """Whether sdnkit creates (and may delete) this link."""
        return self.kind is not LinkKind.EXISTING


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Bridge(Link):
    ports: tuple[str, ...] = ()
    vlan_aware: bool = False
    vids: str | None = None  # "2-4094" on vlan-aware bridges
    vlan_protocol: str | None = None
    # applied to guest ports when they are plugged (PVE tap_plug), not to the bridge itself
    isolate_guest_ports: bool = False
    guest_port_learning: bool = True
    kind: LinkKind = LinkKind.BRIDGE


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Vxlan(Link):
    vni: int
    local_ip: IPAddress | None = None
    remote_ips: tuple[IPAddress, ...] = ()  # static head-end replication (flood FDB entries)
    port: int | None = None  # None: the default 4789
    learning: bool = True  # bridge port learning
    arp_nd_suppress: bool = False  # bridge port neigh_suppress
    kind: LinkKind = LinkKind.VXLAN


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Veth(Link):
    peer: str
    kind: LinkKind = LinkKind.VETH


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Vlan(Link):
    raw_device: str
    vlan_id: int
    protocol: str = "802.1q"
    # ifupdown2 creates "<raw>.<id>" from its name alone (a bridge port): the stanza only carries
    # options that differ from the defaults, and there is none when nothing differs
    implicit: bool = False
    kind: LinkKind = LinkKind.VLAN


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Vrf(Link):
    table: str = "auto"
    # non-exit EVPN nodes: "unreachable default metric 4278198272" in the VRF table
    unreachable_default: bool = False
    kind: LinkKind = LinkKind.VRF


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Dummy(Link):
    kind: LinkKind = LinkKind.DUMMY


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class OvsIntPort(Link):
    ovs_bridge: str
    ovs_options: str
    kind: LinkKind = LinkKind.OVS_INT_PORT


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Existing(Link):
    """Settings sdnkit adds to an interface it does not own (only what is listed here)."""

    ovs_ports: tuple[str, ...] = ()
    # how ``ovs_ports`` are grouped on ``ovs_ports`` lines of the interfaces file (PVE: one line
    # per VLAN vnet, one shared line for QinQ zones); empty: a single line with every port
    ovs_port_lines: tuple[tuple[str, ...], ...] = ()
    vlan_protocol: str | None = None
    kind: LinkKind = LinkKind.EXISTING


AnyLink = Bridge | Vxlan | Veth | Vlan | Vrf | Dummy | OvsIntPort | Existing


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class SnatRule:
    """Source NAT of a subnet's traffic leaving through ``out_iface`` (subnet ``snat``)."""

    vnet: str
    subnet: str  # subnet ID
    source: IPNetwork
    out_iface: str
    to_source: IPAddress
    # conntrack zone for traffic from firewall bridges (``-i fwbr+ -j CT --zone N``); set on the
    # first SNAT rule of each vnet and address family (PVE repeats it per subnet, §10.9)
    conntrack_zone: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StaticRoute:
    prefix: IPNetwork
    via: IPAddress | None = None
    dev: str | None = None
    vrf: str | None = None
    blackhole: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class DhcpRangePlan:
    start: IPAddress
    end: IPAddress


@dataclass(frozen=True, slots=True, kw_only=True)
class DhcpSubnet:
    subnet: str  # subnet ID, the dnsmasq tag
    vnet: str
    network: IPNetwork
    gateway: IPAddress | None = None
    dns_server: IPAddress | None = None
    ranges: tuple[DhcpRangePlan, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class DhcpHost:
    """A static DHCP mapping: the addresses IPAM holds for one MAC in one zone (an ``ethers`` line)."""

    mac: str  # lower case
    ips: tuple[IPAddress, ...] = ()  # sorted, IPv4 before IPv6


@dataclass(frozen=True, slots=True, kw_only=True)
class DhcpInstance:
    """One dnsmasq instance of one zone on this node."""

    zone: str
    mtu: int
    subnets: tuple[DhcpSubnet, ...] = ()
    # static mappings from IPAM state (not from the config: see plan/dhcp.py ``with_hosts``)
    hosts: tuple[DhcpHost, ...] = ()
    plugin: str = "dnsmasq"  # the zone's ``dhcp`` option
    # the vnets' layer 2 spans several nodes (vxlan/evpn), so every node's server sees each request
    shared_segment: bool = False
    # the VRF the vnet bridges are enslaved to (evpn): the server runs inside it (``ip vrf exec``)
    vrf: str | None = None

    @property
    def vnets(self) -> tuple[str, ...]:
        return tuple(sorted({s.vnet for s in self.subnets}))


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class IpSet:
    """A firewall IP set (``<vnet>-all``, ``-gateway``, ``-no-gateway``, ``-dhcp``, ``guest-ipam-<id>``)."""

    name: str
    comment: str = ""
    # elements are networks, addresses or "a-b" ranges; nomatch ones are excluded ("!ip")
    elements: tuple[str, ...] = ()
    nomatch: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NodePlan:
    node: str
    version: int
    links: tuple[AnyLink, ...] = ()
    snat: tuple[SnatRule, ...] = ()
    routes: tuple[StaticRoute, ...] = ()
    frr: Any = None  # plan.frr model (None: no FRR configuration on this node)
    frr_daemons: tuple[str, ...] = ()  # FRR daemons the config needs besides zebra (bgpd, bfdd...)
    dhcp: tuple[DhcpInstance, ...] = ()
    ipsets: tuple[IpSet, ...] = ()
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def link(self, name: str) -> AnyLink | None:
        for link in self.links:
            if link.name == name:
                return link
        return None
