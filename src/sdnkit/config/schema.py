"""The option tables: for every object kind and type, which options exist and what they accept.

This is the one schema of sdnkit. Validation, the section-config codec, the CLI options, the REST
API parameters and the docs all read it, so they cannot disagree. Option keys are PVE's, verbatim.
Upstream's range bugs are fixed here (spec §10.3): VLAN tags 1-4094, VNI 1-16777215, ports
1-65535, ASN 1-4294967295.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sdnkit.config.formats import (
    ASN,
    DNS,
    FINGERPRINT,
    IFACE,
    IP,
    IP4,
    IP6,
    NODE,
    SECRET,
    URL,
    ArrayOf,
    Boolean,
    Cidr,
    Enum,
    Format,
    Integer,
    ListOf,
    Mac,
    OspfArea,
    PropertyString,
    RouteTarget,
    Text,
)


class Kind(StrEnum):
    """An object kind; the value is the PVE file stem and API collection name."""

    ZONES = "zones"
    VNETS = "vnets"
    SUBNETS = "subnets"
    CONTROLLERS = "controllers"
    IPAMS = "ipams"
    DNS = "dns"
    FABRICS = "fabrics"

    @property
    def singular(self) -> str:
        return _SINGULAR[self]

    @property
    def versioned(self) -> bool:
        """Whether edits stay pending until apply (ipams and dns take effect at once, as in PVE)."""
        return self not in (Kind.IPAMS, Kind.DNS)


_SINGULAR = {
    Kind.ZONES: "zone",
    Kind.VNETS: "vnet",
    Kind.SUBNETS: "subnet",
    Kind.CONTROLLERS: "controller",
    Kind.IPAMS: "ipam",
    Kind.DNS: "dns",
    Kind.FABRICS: "fabric",
}

VERSIONED_KINDS = (Kind.ZONES, Kind.VNETS, Kind.SUBNETS, Kind.CONTROLLERS, Kind.FABRICS)


@dataclass(frozen=True, slots=True)
class Option:
    key: str
    format: Format
    description: str
    default: str | None = None  # documented default, not written to files


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """The options one type of one kind takes, and which of them are required."""

    kind: Kind
    type: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    description: str
    # Rust-written fabric sections keep field order instead of PVE's sorted order
    field_order: tuple[str, ...] | None = None

    @property
    def options(self) -> tuple[str, ...]:
        return self.required + self.optional

    def write_order(self, keys: set[str]) -> list[str]:
        """Keys in the order PVE writes them: required sorted, then optional sorted."""
        if self.field_order is not None:
            return [k for k in self.field_order if k in keys]
        return sorted(k for k in self.required if k in keys) + sorted(k for k in self.optional if k in keys)


# ID formats (spec §2.1) ---------------------------------------------------------------------

SHORT_ID = r"[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9]"
ID_FORMATS: dict[Kind, Text] = {
    Kind.ZONES: Text(SHORT_ID, 8, "zone ID (2-8 letters and digits, starting with a letter)"),
    Kind.VNETS: Text(SHORT_ID, 8, "vnet ID (2-8 letters and digits, starting with a letter)"),
    Kind.CONTROLLERS: Text(
        r"[a-zA-Z][a-zA-Z0-9_-]*[a-zA-Z0-9]", 64, "controller ID (2-64 letters, digits, - and _)"
    ),
    Kind.IPAMS: Text(SHORT_ID, 64, "IPAM ID (letters and digits, starting with a letter)"),
    Kind.DNS: Text(SHORT_ID, 64, "DNS ID (letters and digits, starting with a letter)"),
    Kind.FABRICS: Text(
        r"[a-zA-Z0-9][a-zA-Z0-9-]{0,6}[a-zA-Z0-9](_[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)?",
        72,
        "fabric ID (2-8 letters, digits and -) or <fabric>_<node>",
    ),
}
# Subnet IDs are <zone>-<address>-<prefix length>; they are parsed in config/model.py.

# Shared option formats -------------------------------------------------------------------

VLAN_TAG = Integer(1, 4094)
VNI = Integer(1, 16777215)
UDP_PORT = Integer(1, 65535)
MTU = Integer(68, 65535)
NODES = ListOf(NODE, as_set=True, pve_hash=True)
IP_LIST = ListOf(IP)
ROUTE_TARGET = RouteTarget()
REF_SHORT = Text(SHORT_ID, 64, "object ID")
REF_CONTROLLER = ID_FORMATS[Kind.CONTROLLERS]
REF_FABRIC = Text(r"[a-zA-Z0-9][a-zA-Z0-9-]{0,6}[a-zA-Z0-9]", 8, "fabric ID")
ISIS_NET = Text(
    r"[a-fA-F0-9]{2}(\.[a-fA-F0-9]{4}){3,9}\.[a-fA-F0-9]{2}", 50, "IS-IS NET (e.g. 49.0001.1921.6800.1001.00)"
)
CA_FILE = Text(r"/[A-Za-z0-9_./+:-]+", 4096, "absolute path of a PEM file (letters, digits and _./+:-)")
OSPF_AREA = OspfArea()
# PVE: [\(\)-_.\w\d\s]{0,256}, i.e. "(", the range ")"-"_", ".", letters, digits and blanks. Here
# ASCII only, the blank is the space, no backslash (ifupdown2 joins the text around every
# backslash into one line) and at most 255 characters (the kernel's IFALIASZ - 1).
ALIAS = Text(
    r"[ ()*+,\-./0-9:;<=>?@A-Z\[\]^_a-z]+",
    255,
    "alias (ASCII letters, digits, spaces and ()*+,-./:;<=>?@[]^_)",
)

DHCP_RANGE = PropertyString(
    keys=(("start-address", IP), ("end-address", IP)),
    required=("start-address", "end-address"),
)
OPENFABRIC_IFACE = PropertyString(
    keys=(
        ("name", IFACE),
        ("hello_multiplier", Integer(2, 100)),
        ("ip", Cidr(4)),
        ("ip6", Cidr(6)),
    ),
    required=("name",),
)
OSPF_IFACE = PropertyString(keys=(("name", IFACE), ("ip", Cidr(4))), required=("name",))


def _options(*opts: Option) -> dict[str, Option]:
    return {opt.key: opt for opt in opts}


OPTIONS: dict[Kind, dict[str, Option]] = {
    Kind.ZONES: _options(
        Option("nodes", NODES, "Nodes the zone and its vnets are deployed on (default: all)."),
        Option("ipam", REF_SHORT, "IPAM used for the zone's subnets.", "pve"),
        Option("dns", REF_SHORT, "DNS server the zone registers guests in."),
        Option("reversedns", REF_SHORT, "DNS server for reverse (PTR) records."),
        Option("dnszone", DNS, "DNS domain guests are registered under (<host>.<dnszone>)."),
        Option("dhcp", Enum(("dnsmasq",)), "DHCP server for guests in the zone."),
        Option("mtu", MTU, "MTU of the zone's vnets."),
        Option("bridge", IFACE, "Existing bridge (Linux or OVS) on each node that links the nodes."),
        Option(
            "bridge-disable-mac-learning",
            Boolean(),
            "Disable MAC learning on guest ports; static FDB entries are used instead.",
            "0",
        ),
        Option("tag", VLAN_TAG, "Service VLAN tag (outer tag) of the QinQ zone."),
        Option("vlan-protocol", Enum(("802.1q", "802.1ad")), "Service VLAN protocol.", "802.1q"),
        Option("peers", IP_LIST, "Underlay IPs of every VTEP of the zone."),
        Option("fabric", REF_FABRIC, "Fabric used as underlay instead of a peer list."),
        Option("vxlan-port", UDP_PORT, "UDP destination port of the VXLAN tunnels.", "4789"),
        Option("vrf-vxlan", VNI, "VNI of the zone's VRF (L3VNI); unique across zones."),
        Option("controller", REF_CONTROLLER, "EVPN controller of the zone."),
        Option("mac", Mac(), "Anycast MAC of every vnet gateway in the zone."),
        Option("exitnodes", NODES, "Nodes that route between the EVPN zone and the real network."),
        Option("exitnodes-primary", NODE, "Exit node that gets the traffic when there are several."),
        Option(
            "exitnodes-local-routing",
            Boolean(),
            "Let exit nodes themselves reach guests (via a veth into the VRF).",
            "0",
        ),
        Option("advertise-subnets", Boolean(), "Announce the full subnets in EVPN (type-5).", "0"),
        Option(
            "disable-arp-nd-suppression",
            Boolean(),
            "Do not suppress ARP/ND (needed for floating IPs).",
            "0",
        ),
        Option("rt-import", ListOf(ROUTE_TARGET), "Extra route targets to import (ASN:NN list)."),
    ),
    Kind.VNETS: _options(
        Option("zone", REF_SHORT, "Zone of the vnet."),
        Option("tag", VNI, "VLAN tag (vlan and qinq zones) or VNI (vxlan and evpn zones)."),
        Option("alias", ALIAS, "Description, set as the bridge's alias."),
        Option("vlanaware", Boolean(), "Make the vnet bridge VLAN aware (VLANs in the guest).", "0"),
        Option("isolate-ports", Boolean(), "Isolate guest ports from each other.", "0"),
    ),
    Kind.SUBNETS: _options(
        Option("vnet", REF_SHORT, "Vnet of the subnet."),
        Option("gateway", IP, "Gateway address; deployed on the vnet in simple and evpn zones."),
        Option("snat", Boolean(), "Source-NAT guest traffic leaving the node.", "0"),
        Option("dnszoneprefix", DNS, "Prefix of the DNS name: <host>.<prefix>.<dnszone>."),
        Option("dhcp-range", ArrayOf(DHCP_RANGE), "DHCP range start-address=IP,end-address=IP."),
        Option("dhcp-dns-server", IP, "DNS server announced by DHCP."),
    ),
    Kind.CONTROLLERS: _options(
        Option("asn", ASN, "BGP autonomous system number."),
        Option("peers", IP_LIST, "BGP peers (for evpn: the underlay IPs of every VTEP)."),
        Option("fabric", REF_FABRIC, "Fabric used as the EVPN underlay instead of peers."),
        Option("node", NODE, "Node this controller configures."),
        Option("ebgp", Boolean(), "Peer with external BGP (remote-as external).", "0"),
        Option("ebgp-multihop", Integer(1, 255), "eBGP multihop TTL."),
        Option("bgp-multipath-as-path-relax", Boolean(), "Multipath across AS paths.", "0"),
        Option("loopback", IFACE, "Source interface (loopback) for BGP sessions and VTEPs."),
        Option("isis-domain", Text(r"[a-zA-Z0-9_-]+", 64, "IS-IS domain name"), "IS-IS domain."),
        Option("isis-ifaces", ListOf(IFACE), "Interfaces IS-IS runs on."),
        Option("isis-net", ISIS_NET, "IS-IS network entity title."),
    ),
    Kind.IPAMS: _options(
        Option("url", URL, "API URL of the IPAM server."),
        Option("token", SECRET, "API token."),
        Option("section", Integer(0, 2**31 - 1), "phpIPAM section ID."),
        Option("fingerprint", FINGERPRINT, "Pinned SHA-256 fingerprint of the server certificate."),
        Option("cafile", CA_FILE, "CA bundle (PEM) trusted for the server certificate, besides system CAs."),
    ),
    Kind.DNS: _options(
        Option("url", URL, "API URL of the DNS server (.../api/v1/servers/localhost)."),
        Option("key", SECRET, "API key."),
        Option("ttl", Integer(1, 2**31 - 1), "TTL of registered records.", "14400"),
        Option("reversemaskv6", Integer(4, 128), "Prefix length of IPv6 reverse zones (multiple of 4)."),
        Option("fingerprint", FINGERPRINT, "Pinned SHA-256 fingerprint of the server certificate."),
    ),
    Kind.FABRICS: _options(
        Option("ip_prefix", Cidr(4), "IPv4 prefix of the fabric's router addresses."),
        Option("ip6_prefix", Cidr(6), "IPv6 prefix of the fabric's router addresses."),
        Option("hello_interval", Integer(1, 600), "OpenFabric hello interval (s)."),
        Option("csnp_interval", Integer(1, 600), "OpenFabric CSNP interval (s)."),
        Option("area", OSPF_AREA, "OSPF area."),
        Option("ip", IP4, "IPv4 router address of the node in the fabric."),
        Option("ip6", IP6, "IPv6 router address of the node in the fabric."),
        Option("interfaces", ArrayOf(OPENFABRIC_IFACE), "Fabric interfaces of the node."),
    ),
}

_COMMON_ZONE = ("dns", "dnszone", "ipam", "nodes", "reversedns")


def _spec(kind: Kind, type_: str, req: str, opt: str, desc: str) -> TypeSpec:
    return TypeSpec(kind, type_, tuple(req.split()), tuple(opt.split()), desc)


TYPES: dict[Kind, dict[str, TypeSpec]] = {
    Kind.ZONES: {
        "simple": TypeSpec(
            Kind.ZONES, "simple", (), (*_COMMON_ZONE, "dhcp", "mtu"), "Isolated bridge, routed or NAT."
        ),
        "vlan": TypeSpec(
            Kind.ZONES,
            "vlan",
            ("bridge",),
            (*_COMMON_ZONE, "mtu", "bridge-disable-mac-learning"),
            "VLAN-tagged vnets on an existing bridge.",
        ),
        "qinq": TypeSpec(
            Kind.ZONES,
            "qinq",
            ("bridge", "tag"),
            (*_COMMON_ZONE, "mtu", "vlan-protocol", "bridge-disable-mac-learning"),
            "Stacked VLANs: a service VLAN per zone, a customer VLAN per vnet.",
        ),
        "vxlan": TypeSpec(
            Kind.ZONES,
            "vxlan",
            (),
            (*_COMMON_ZONE, "mtu", "peers", "fabric", "vxlan-port"),
            "Layer-2 VXLAN tunnels between static peers.",
        ),
        "evpn": TypeSpec(
            Kind.ZONES,
            "evpn",
            ("controller", "vrf-vxlan"),
            (
                *_COMMON_ZONE,
                "dhcp",
                "mtu",
                "mac",
                "exitnodes",
                "exitnodes-primary",
                "exitnodes-local-routing",
                "advertise-subnets",
                "disable-arp-nd-suppression",
                "rt-import",
                "vxlan-port",
                "bridge-disable-mac-learning",
            ),
            "VXLAN with BGP EVPN control plane and a routed VRF.",
        ),
    },
    Kind.VNETS: {
        "vnet": TypeSpec(
            Kind.VNETS, "vnet", ("zone",), ("tag", "alias", "vlanaware", "isolate-ports"), "Virtual network."
        )
    },
    Kind.SUBNETS: {
        "subnet": TypeSpec(
            Kind.SUBNETS,
            "subnet",
            ("vnet",),
            ("gateway", "snat", "dnszoneprefix", "dhcp-range", "dhcp-dns-server"),
            "IP subnet of a vnet.",
        )
    },
    Kind.CONTROLLERS: {
        "evpn": _spec(Kind.CONTROLLERS, "evpn", "asn", "peers fabric", "EVPN (BGP) controller."),
        "bgp": _spec(
            Kind.CONTROLLERS,
            "bgp",
            "asn node peers",
            "ebgp ebgp-multihop bgp-multipath-as-path-relax loopback",
            "BGP peering of one node.",
        ),
        "isis": _spec(
            Kind.CONTROLLERS,
            "isis",
            "isis-domain isis-ifaces isis-net node",
            "loopback",
            "IS-IS of one node.",
        ),
    },
    Kind.IPAMS: {
        "pve": _spec(Kind.IPAMS, "pve", "", "", "Built-in IPAM."),
        "netbox": _spec(Kind.IPAMS, "netbox", "token url", "cafile fingerprint", "NetBox IPAM."),
        "phpipam": _spec(Kind.IPAMS, "phpipam", "section token url", "cafile fingerprint", "phpIPAM."),
    },
    Kind.DNS: {
        "powerdns": _spec(
            Kind.DNS, "powerdns", "key url", "ttl reversemaskv6 fingerprint", "PowerDNS authoritative server."
        ),
    },
    Kind.FABRICS: {
        "openfabric_fabric": TypeSpec(
            Kind.FABRICS,
            "openfabric_fabric",
            (),
            ("hello_interval", "csnp_interval", "ip_prefix", "ip6_prefix"),
            "OpenFabric underlay fabric.",
            field_order=("hello_interval", "csnp_interval", "ip_prefix", "ip6_prefix"),
        ),
        "openfabric_node": TypeSpec(
            Kind.FABRICS,
            "openfabric_node",
            (),
            ("interfaces", "ip", "ip6"),
            "A node's membership in an OpenFabric fabric.",
            field_order=("interfaces", "ip", "ip6"),
        ),
        "ospf_fabric": TypeSpec(
            Kind.FABRICS,
            "ospf_fabric",
            ("area", "ip_prefix"),
            (),
            "OSPF underlay fabric (IPv4).",
            field_order=("area", "ip_prefix"),
        ),
        "ospf_node": TypeSpec(
            Kind.FABRICS,
            "ospf_node",
            ("ip",),
            ("interfaces",),
            "A node's membership in an OSPF fabric.",
            field_order=("interfaces", "ip"),
        ),
    },
}

# OSPF node interfaces take a narrower property string than OpenFabric ones.
TYPE_OPTION_FORMATS: dict[tuple[Kind, str, str], Format] = {
    (Kind.FABRICS, "ospf_node", "interfaces"): ArrayOf(OSPF_IFACE),
}

# What an object of a kind is called in files: the "vnet:" / "subnet:" section type.
SINGLE_TYPE = {Kind.VNETS: "vnet", Kind.SUBNETS: "subnet"}


def type_spec(kind: Kind, type_: str) -> TypeSpec:
    try:
        return TYPES[kind][type_]
    except KeyError:
        known = ", ".join(TYPES[kind])
        raise KeyError(f"unknown {kind.singular} type {type_!r} (known: {known})") from None


def option_format(kind: Kind, type_: str, key: str) -> Format:
    """The format of ``key`` for one type (most options share the kind's table)."""
    return TYPE_OPTION_FORMATS.get((kind, type_, key)) or OPTIONS[kind][key].format


def is_array(kind: Kind, key: str) -> bool:
    return isinstance(OPTIONS[kind][key].format, ArrayOf)
