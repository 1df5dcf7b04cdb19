"""Reading a node's /etc/network/interfaces into facts, and the facts JSON of ``sdn render``."""

from __future__ import annotations

import ipaddress
import json

import pytest

from sdnkit.errors import ConfigError
from sdnkit.plan.facts import IfaceKind
from sdnkit.plan.factsfile import build_facts, parse_facts_json
from sdnkit.plan.interfaces_file import parse_interfaces

NODE = """\
# the node's network
source /etc/network/interfaces.d/*

auto lo
iface lo inet loopback

allow-hotplug eno1
iface eno1 inet manual
    mtu 9000

auto vmbr0
iface vmbr0 inet static
        address 192.0.2.10
        netmask 255.255.255.0
        gateway 192.0.2.254
        bridge_ports eno1 eno2
        bridge-vlan-aware 1
        hwaddress ether BC:24:11:00:00:01

iface vmbr0 inet6 static
        address 2001:db8::10/64

auto vmbr1
iface vmbr1 inet manual
        ovs_type OVSBridge
        ovs_ports eth3

auto eth3
iface eth3 inet manual
        ovs_type OVSPort
        ovs_bridge vmbr1

auto vmbr2
iface vmbr2 inet manual
        bridge-ports none
"""


def test_stanzas_merge_and_kinds() -> None:
    ifaces = parse_interfaces(NODE)
    assert sorted(ifaces) == ["eno1", "eth3", "lo", "vmbr0", "vmbr1", "vmbr2"]
    vmbr0 = ifaces["vmbr0"]
    assert vmbr0.kind is IfaceKind.LINUX_BRIDGE and vmbr0.vlan_aware
    assert vmbr0.ports == ("eno1", "eno2")
    assert vmbr0.addresses == (
        ipaddress.ip_interface("192.0.2.10/24"),
        ipaddress.ip_interface("2001:db8::10/64"),
    )
    assert vmbr0.mac == "bc:24:11:00:00:01"
    assert ifaces["eno1"].mtu == 9000 and ifaces["eno1"].kind is IfaceKind.OTHER
    assert ifaces["vmbr1"].kind is IfaceKind.OVS_BRIDGE and ifaces["vmbr1"].ports == ("eth3",)
    assert ifaces["eth3"].kind is IfaceKind.OVS_PORT
    assert ifaces["vmbr2"].kind is IfaceKind.LINUX_BRIDGE and ifaces["vmbr2"].ports == ()


def test_single_address_without_netmask_is_a_host_address() -> None:
    ifaces = parse_interfaces(
        "auto eth0\niface eth0 inet static\n  address 144.76.0.1\n  pointopoint 172.31.1.1\n"
    )
    assert ifaces["eth0"].addresses == (ipaddress.ip_interface("144.76.0.1/32"),)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("auto x\niface x inet static\n\taddress 300.0.0.1/24\n", "line 3: invalid address '300.0.0.1/24'"),
        ("\taddress 10.0.0.1/24\n", "line 1: option outside an iface stanza"),
        ("iface x inet static\n\tmtu big\n", "line 2: invalid mtu 'big'"),
        ("iface x ipx static\n", "line 1: unknown address family 'ipx'"),
        ("ifce x\n", "line 1: unknown statement 'ifce'"),
        ("iface x inet static\n\taddress 10.0.0.1\n\tnetmask 255.0.255.0\n", "line 3: invalid netmask"),
    ],
)
def test_errors_name_the_file_and_the_line(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_interfaces(text, "/etc/network/interfaces")
    assert str(err.value).startswith(f"/etc/network/interfaces: {problem}")


def test_facts_routes_come_from_the_underlay_interface() -> None:
    data = parse_facts_json('{"node": "pve1", "underlay_iface": "vmbr0", "mac": "BC:24:11:1D:69:60"}')
    facts = build_facts(data, parse_interfaces(NODE))
    assert facts.node == "pve1" and facts.mac == "bc:24:11:1d:69:60"
    assert facts.route4 is not None and (facts.route4.iface, str(facts.route4.src)) == ("vmbr0", "192.0.2.10")
    assert facts.route6 is not None and str(facts.route6.src) == "2001:db8::10"


def test_explicit_underlay_address_and_bridge_ports() -> None:
    ports = {"vmbr0": ["eno2"], "vmbr5": ["eno5"]}
    data = parse_facts_json(
        json.dumps({"node": "pve1", "underlay_ip": "2001:db8::10", "bridge_ports": ports})
    )
    facts = build_facts(data, parse_interfaces(NODE))
    assert facts.route4 is None
    assert facts.route6 is not None and facts.route6.iface == "vmbr0"  # found by its address
    assert facts.interfaces["vmbr0"].ports == ("eno2",) and facts.interfaces["vmbr0"].vlan_aware
    assert facts.interfaces["vmbr5"].kind is IfaceKind.LINUX_BRIDGE


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{", "not valid JSON"),
        ("[1]", "expected a JSON object"),
        ("{}", 'missing "node"'),
        ('{"node": "a", "bogus": 1}', "unknown key 'bogus'"),
        ('{"node": "a b"}', 'invalid value for "node"'),
        ('{"node": "a", "mac": "zz"}', 'invalid value for "mac"'),
        ('{"node": "a", "underlay_ip": "nope"}', "is not a valid IP address"),
        ('{"node": "a", "underlay_ip": "fe80::1%eth0"}', "zone ID"),
        ('{"node": "a", "underlay_iface": "eth0;reboot"}', 'invalid value for "underlay_iface"'),
        ('{"node": "a", "frr_version": "10\\nline"}', 'invalid value for "frr_version"'),
        ('{"node": "a", "bridge_ports": {"vmbr0": "eth0"}}', 'invalid value for "bridge_ports"'),
        ('{"node": "a", "underlay_ip": "198.51.100.9"}', "underlay address 198.51.100.9 is on no interface"),
    ],
)
def test_bad_facts_are_refused_with_the_file_name(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        build_facts(parse_facts_json(text, "facts.json"), {}, None, "facts.json")
    assert str(err.value).startswith("facts.json: ") and problem in str(err.value)
