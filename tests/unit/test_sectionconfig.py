"""The PVE section-config codec: byte-exact round trips, the seed's files, strict and lenient parsing."""

from __future__ import annotations

import hashlib

import pytest

from sdnkit.config.schema import TYPES, Kind
from sdnkit.config.section import Section
from sdnkit.config.sectionconfig import (
    FILENAMES,
    digest,
    format_config,
    format_section,
    ordered,
    parse_config,
)
from sdnkit.errors import ConfigError

FP = ":".join(["AB"] * 32)

# Every option of every type, written in PVE's order: required sorted, then optional sorted
# (fabrics: their Rust field order). Booleans 1/0, arrays one line per element.
CORPUS: dict[Kind, str] = {
    Kind.ZONES: """\
simple: zsimple
\tdhcp dnsmasq
\tdns pdns
\tdnszone example.com
\tipam pve
\tmtu 1460
\tnodes node1,node2
\treversedns pdns

vlan: zvlan
\tbridge vmbr0
\tbridge-disable-mac-learning 1
\tdns pdns
\tdnszone example.com
\tipam pve
\tmtu 1500
\tnodes node1
\treversedns pdns

qinq: zqinq
\tbridge vmbr0
\ttag 20
\tbridge-disable-mac-learning 0
\tdns pdns
\tdnszone example.com
\tipam pve
\tmtu 1496
\tnodes node1
\treversedns pdns
\tvlan-protocol 802.1ad

vxlan: zvx
\tdns pdns
\tdnszone example.com
\tipam pve
\tmtu 1450
\tnodes node1
\tpeers 192.168.0.1,192.168.0.2,192.168.0.3
\treversedns pdns
\tvxlan-port 4790

vxlan: zvxf
\tfabric uwu

evpn: zevpn
\tcontroller evpnctl
\tvrf-vxlan 10000
\tadvertise-subnets 1
\tbridge-disable-mac-learning 1
\tdhcp dnsmasq
\tdisable-arp-nd-suppression 1
\tdns pdns
\tdnszone example.com
\texitnodes node1,node2
\texitnodes-local-routing 1
\texitnodes-primary node1
\tipam pve
\tmac 32:F4:05:FE:6C:0A
\tmtu 1450
\tnodes node1,node2
\treversedns pdns
\trt-import 65001:1000,65002:1000
\tvxlan-port 4789

""",
    Kind.VNETS: """\
vnet: vnet0
\tzone zsimple
\talias My tenant net
\tisolate-ports 1

vnet: vnet100
\tzone zvlan
\ttag 100
\tvlanaware 1

""",
    Kind.SUBNETS: """\
subnet: zsimple-192.0.2.0-24
\tvnet vnet0
\tdhcp-dns-server 192.0.2.53
\tdhcp-range start-address=192.0.2.100,end-address=192.0.2.199
\tdhcp-range start-address=192.0.2.210,end-address=192.0.2.219
\tdnszoneprefix adm
\tgateway 192.0.2.1
\tsnat 1

subnet: zsimple-2001:db8::-64
\tvnet vnet0
\tgateway 2001:db8::1
\tsnat 0

""",
    Kind.CONTROLLERS: """\
evpn: evpnctl
\tasn 65000
\tpeers 192.168.0.1,192.168.0.2,192.168.0.3

evpn: evpnfab
\tasn 4294967295
\tfabric uwu

bgp: bgpnode1
\tasn 65001
\tnode node1
\tpeers 172.16.0.254,172.17.0.254
\tbgp-multipath-as-path-relax 1
\tebgp 1
\tebgp-multihop 3
\tloopback dummy1

isis: isisnode1
\tisis-domain isis1
\tisis-ifaces eth0,eth1
\tisis-net 47.0023.0000.0000.0000.0000.0000.0000.1900.0004.00
\tnode node1
\tloopback dummy1

""",
    Kind.IPAMS: f"""\
pve: pve

netbox: nb
\ttoken 0123456789abcdef0123456789abcdef01234567
\turl http://netbox.example/api
\tcafile /etc/ssl/certs/netbox-ca.pem
\tfingerprint {FP}

phpipam: php
\tsection 1
\ttoken JPHkPSLB4O_XL-GQz4qtEFmNpx-99Htw
\turl https://phpipam.example/api/apiadmin
\tcafile /etc/ssl/certs/phpipam-ca.pem
\tfingerprint {FP}

""",
    Kind.DNS: f"""\
powerdns: pdns
\tkey 1234
\turl http://pdns.example:8081/api/v1/servers/localhost
\tfingerprint {FP}
\treversemaskv6 64
\tttl 3600

""",
    Kind.FABRICS: """\
openfabric_fabric: uwu
\thello_interval 4
\tcsnp_interval 10
\tip_prefix 192.168.2.0/24
\tip6_prefix 2001:db8::0/64

openfabric_node: uwu_pve
\tinterfaces name=ens20,hello_multiplier=50
\tinterfaces name=ens19,ip=10.0.0.1/31,ip6=2001:db8:1::1/127
\tip 192.168.2.8
\tip6 2001:db8::1

ospf_fabric: test
\tarea 0
\tip_prefix 10.10.10.0/24

ospf_node: test_pve
\tinterfaces name=ens18,ip=4.4.4.4/24
\tinterfaces name=ens19
\tip 10.10.10.1

""",
}

# The seed's "Simple Zone Example" (firewall section), as printed: spaces instead of tabs.
SEED_VNETS = """\
# /etc/pve/sdn/vnets.cfg

vnet: vnet0
        zone simple
"""
SEED_SUBNETS = """\
# /etc/pve/sdn/subnets.cfg

subnet: simple-192.0.2.0-24
        vnet vnet0
        dhcp-range start-address=192.0.2.100,end-address=192.0.2.199
        gateway 192.0.2.1

subnet: simple-2001:db8::-64
        vnet vnet0
        dhcp-range start-address=2001:db8::1000,end-address=2001:db8::1999
        gateway 2001:db8::1
"""


@pytest.mark.parametrize("kind", list(CORPUS))
def test_round_trip_is_byte_exact(kind: Kind) -> None:
    parsed = parse_config(kind, CORPUS[kind].encode())
    assert format_config(parsed.sections.values()) == CORPUS[kind]
    assert parsed.digest == hashlib.sha1(CORPUS[kind].encode()).hexdigest()


def test_corpus_covers_every_option_of_every_type() -> None:
    for kind, text in CORPUS.items():
        seen: dict[str, set[str]] = {}
        for section in parse_config(kind, text).sections.values():
            seen.setdefault(section.type, set()).update(k for k, _ in section)
        for type_, spec in TYPES[kind].items():
            assert seen.get(type_, set()) == set(spec.options), (kind, type_)


def test_parsed_values_are_typed() -> None:
    zones = parse_config(Kind.ZONES, CORPUS[Kind.ZONES]).sections
    assert zones["zevpn"].get("vrf-vxlan") == 10000
    assert zones["zevpn"].get("advertise-subnets") is True
    assert zones["zqinq"].get("bridge-disable-mac-learning") is False
    assert zones["zevpn"].get("exitnodes") == ("node1", "node2")
    subnet = parse_config(Kind.SUBNETS, CORPUS[Kind.SUBNETS]).sections["zsimple-192.0.2.0-24"]
    assert [dict(r) for r in subnet.get("dhcp-range")] == [
        {"start-address": "192.0.2.100", "end-address": "192.0.2.199"},
        {"start-address": "192.0.2.210", "end-address": "192.0.2.219"},
    ]


def test_seed_simple_zone_example_loads_as_is() -> None:
    vnets = parse_config(Kind.VNETS, SEED_VNETS).sections
    subnets = parse_config(Kind.SUBNETS, SEED_SUBNETS).sections
    assert vnets["vnet0"].get("zone") == "simple"
    assert list(subnets) == ["simple-192.0.2.0-24", "simple-2001:db8::-64"]
    assert subnets["simple-2001:db8::-64"].get("gateway") == "2001:db8::1"
    # written back the PVE way: tab-indented, required options first
    assert format_config(vnets.values()) == "vnet: vnet0\n\tzone simple\n\n"
    assert format_config(subnets.values()).startswith(
        "subnet: simple-192.0.2.0-24\n\tvnet vnet0\n\tdhcp-range start-address=192.0.2.100,"
    )


def test_writer_sorts_nodes_and_orders_options_like_pve() -> None:
    text = "vlan: z1\n\tnodes n2,n1\n\tmtu 1500\n\tbridge vmbr0\n"
    parsed = parse_config(Kind.ZONES, text)
    assert (
        format_config(parsed.sections.values()) == "vlan: z1\n\tbridge vmbr0\n\tmtu 1500\n\tnodes n1,n2\n\n"
    )


def test_comments_blank_lines_crlf_and_valueless_booleans() -> None:
    text = (
        "# leading comment\r\n\r\nvnet: v1\r\n\tzone z1\r\n  # a comment inside a section\r\n"
        "\tvlanaware\r\n   \r\nvnet: v2\n    zone z1\n"
    )
    sections = parse_config(Kind.VNETS, text).sections
    assert sections["v1"].get("vlanaware") is True  # a boolean key alone means 1
    assert sections["v2"].get("zone") == "z1"  # a blank-only line ended v1


def test_builtin_ipam_is_implicit() -> None:
    assert list(parse_config(Kind.IPAMS, None).sections) == ["pve"]
    text = "netbox: nb\n\ttoken t\n\turl http://nb/api\n"
    assert list(parse_config(Kind.IPAMS, text).sections) == ["nb", "pve"]
    with pytest.raises(ConfigError, match='ipam "pve": reserved for the built-in IPAM'):
        parse_config(Kind.IPAMS, "netbox: pve\n\ttoken t\n\turl http://nb/api\n")


def test_digest_is_sha1_of_raw_file_and_of_empty_string_when_missing() -> None:
    assert digest(None) == "da39a3ee5e6b4b0d3255bfef95601890afd80709"
    assert parse_config(Kind.ZONES, None).digest == digest(b"")
    raw = b"simple: z1\n\n"
    assert parse_config(Kind.ZONES, raw).digest == hashlib.sha1(raw).hexdigest()


BAD = [
    (
        "simple: z1\n\tmtu 70000\n",
        'zones.cfg line 2: zone "z1": invalid value for "mtu": 70000 is out of range',
    ),
    ("simple: z1\n\tfoo bar\n", 'zones.cfg line 2: zone "z1": option "foo" is not allowed for type simple'),
    ("simple: z1\n\tbridge vmbr0\n", 'option "bridge" is not allowed for type simple'),
    ("simple: z1\n\tmtu 1500\n\tmtu 1400\n", "zones.cfg line 3: zone \"z1\": option 'mtu' given twice"),
    ("simple: z1\n\nsimple: z1\n", 'zones.cfg line 3: zone "z1": defined twice'),
    ("faucet: z1\n\tdp-id 1\n", "zones.cfg line 1: zone: unknown type 'faucet'"),
    ("simple: toolongid\n", "zones.cfg line 1: zone ID 'toolongid': longer than 8 characters"),
    ("zone z1\n", "zones.cfg line 1: not a section header 'zone z1'"),
    ("vlan: z1\n\tmtu 1500\n", 'zones.cfg line 1: zone "z1": option "bridge" is required for type vlan'),
    ("simple: z1\nsimple: z2\n", "zones.cfg line 2: zone \"z1\": not an option line 'simple: z2'"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_strict_parse_refuses_with_file_line_object_and_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(Kind.ZONES, text)
    assert message in str(info.value)


def test_strict_error_lists_every_problem_per_key() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(Kind.ZONES, "simple: z1\n\tmtu 0\n\tfoo 1\n")
    assert set(info.value.errors) == {"mtu", "foo"}


def test_lenient_parse_drops_bad_keys_and_sections_with_warnings() -> None:
    text = "simple: z1\n\tmtu 70000\n\tipam pve\n\nfaucet: z2\n\tdp-id 1\n\nvlan: z3\n\tmtu 1500\n"
    parsed = parse_config(Kind.ZONES, text, lenient=True)
    assert list(parsed.sections) == ["z1"]
    assert parsed.sections["z1"].options == {"ipam": "pve"}
    issues = [str(i) for i in parsed.issues]
    assert any("line 2" in i and '"mtu"' in i for i in issues)
    assert any("unknown type 'faucet'" in i and i.endswith("section skipped") for i in issues)
    assert any('zone "z3": section skipped' in i for i in issues)


def test_lenient_duplicate_section_keeps_the_later_one() -> None:
    parsed = parse_config(Kind.ZONES, "simple: z1\n\tmtu 1400\n\nsimple: z1\n\tmtu 1500\n", lenient=True)
    assert parsed.sections["z1"].get("mtu") == 1500


def test_writer_refuses_values_that_would_inject_lines() -> None:
    evil = Section(Kind.VNETS, "vnet", "v1", (("zone", "z1"), ("alias", "x\nvnet: v2")))
    with pytest.raises(ValueError, match="is not allowed \\(no control"):
        format_section(evil)
    with pytest.raises(ConfigError):
        parse_config(Kind.VNETS, "vnet: v1\n\tzone z1\n\talias a\tb\n")


def test_ordered_keeps_file_order_and_appends_new_ids() -> None:
    a, b, c = (Section(Kind.ZONES, "simple", i, ()) for i in ("za", "zb", "zc"))
    assert [s.id for s in ordered({"zb": b, "za": a}, {"za": a, "zc": c, "zb": b})] == ["zb", "za", "zc"]


def test_filenames_are_pves() -> None:
    assert FILENAMES[Kind.ZONES] == "zones.cfg"
    assert FILENAMES[Kind.DNS] == "dns.cfg"
    assert FILENAMES[Kind.FABRICS] == "fabrics.cfg"
