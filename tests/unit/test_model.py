"""Sections, typed objects and the running config JSON."""

from __future__ import annotations

import ipaddress
import json

import pytest

from sdnkit.config.model import SdnConfig, ZoneType
from sdnkit.config.running import RunningConfig
from sdnkit.config.schema import TYPES, Kind
from sdnkit.config.section import parse_section, parse_subnet_id, section_from_json, subnet_id, validate_id
from sdnkit.errors import ConfigError

RUNNING = {
    "version": 3,
    "zones": {
        "ids": {
            "evz": {
                "type": "evpn",
                "controller": "ctl",
                "vrf-vxlan": "10000",
                "exitnodes": {"node2": 1, "node1": 1},
                "mac": "32:F4:05:FE:6C:0A",
            },
            "simple": {"type": "simple", "ipam": "pve", "nodes": "node1"},
        }
    },
    "vnets": {
        "ids": {
            "vnet1": {"type": "vnet", "zone": "simple"},
            "ev1": {"type": "vnet", "zone": "evz", "tag": 11000},
        }
    },
    "subnets": {
        "ids": {
            "simple-10.0.1.0-24": {
                "type": "subnet",
                "vnet": "vnet1",
                "gateway": "10.0.1.1",
                "snat": 1,
                "dhcp-range": ["start-address=10.0.1.100,end-address=10.0.1.200"],
            }
        }
    },
    "controllers": {"ids": {"ctl": {"type": "evpn", "asn": 65000, "peers": "192.0.2.1,192.0.2.2"}}},
}


def test_running_config_round_trip_is_stable() -> None:
    running = RunningConfig.from_json(RUNNING)
    again = RunningConfig.loads(running.dumps())
    assert again.dumps() == running.dumps()
    data = json.loads(running.dumps())
    assert data["zones"]["ids"]["evz"]["exitnodes"] == {"node1": 1, "node2": 1}
    assert data["zones"]["ids"]["evz"]["vrf-vxlan"] == 10000  # numbers become numbers
    assert data["subnets"]["ids"]["simple-10.0.1.0-24"]["snat"] == 1
    assert data["fabrics"] == {"ids": {}}


def test_typed_objects() -> None:
    cfg = RunningConfig.from_json(RUNNING).config
    zone = cfg.zones["evz"]
    assert zone.type is ZoneType.EVPN
    assert zone.exitnodes == frozenset({"node1", "node2"})
    assert zone.on_node("node9")
    assert not cfg.zones["simple"].on_node("node2")
    subnet = cfg.subnets["simple-10.0.1.0-24"]
    assert subnet.zone == "simple"
    assert subnet.gateway == ipaddress.ip_address("10.0.1.1")
    assert subnet.gateway_interface == ipaddress.ip_interface("10.0.1.1/24")
    assert subnet.dhcp_ranges[0].size == 101
    assert ipaddress.ip_address("10.0.1.150") in subnet.dhcp_ranges[0]
    assert [v.id for v in cfg.vnets_of("simple")] == ["vnet1"]
    assert cfg.zone_of("ev1") is zone
    assert cfg.controllers["ctl"].peers == ("192.0.2.1", "192.0.2.2")


def test_typed_views_are_sorted_by_id() -> None:
    cfg = RunningConfig.from_json(RUNNING).config
    assert list(cfg.zones) == ["evz", "simple"]
    assert list(cfg.vnets) == ["ev1", "vnet1"]


def test_section_errors_name_object_key_and_rule() -> None:
    with pytest.raises(ConfigError) as info:
        parse_section(Kind.ZONES, "vlan", "z1", {"mtu": 70000, "bogus": 1})
    err = info.value
    assert 'zone "z1": invalid value for "mtu": 70000 is out of range 68-65535' in str(err)
    assert "bogus" in err.errors
    assert "bridge" in err.errors  # required option missing


def test_option_of_another_type_is_refused() -> None:
    with pytest.raises(ConfigError, match="not allowed for type simple"):
        parse_section(Kind.ZONES, "simple", "z1", {"bridge": "vmbr0"})


def test_write_order_is_required_then_optional_sorted() -> None:
    sec = parse_section(
        Kind.ZONES, "evpn", "z", {"mtu": 1450, "vrf-vxlan": 5, "controller": "ctl", "advertise-subnets": 1}
    )
    assert [k for k, _ in sec] == ["controller", "vrf-vxlan", "advertise-subnets", "mtu"]
    fabric = TYPES[Kind.FABRICS]["openfabric_fabric"]
    assert fabric.write_order({"ip6_prefix", "ip_prefix", "hello_interval"}) == [
        "hello_interval",
        "ip_prefix",
        "ip6_prefix",
    ]


@pytest.mark.parametrize(
    ("kind", "bad"),
    [
        (Kind.ZONES, "toolongname"),
        (Kind.ZONES, "1abc"),
        (Kind.VNETS, "a"),
        (Kind.VNETS, "vn-1"),
        (Kind.CONTROLLERS, "c!"),
    ],
)
def test_ids_are_checked(kind: Kind, bad: str) -> None:
    with pytest.raises(ConfigError, match="ID"):
        validate_id(kind, bad)


def test_subnet_ids() -> None:
    assert parse_subnet_id("z1-10.0.0.0-24") == ("z1", "10.0.0.0/24")
    assert parse_subnet_id("simple-2001:db8::-64") == ("simple", "2001:db8::/64")
    assert subnet_id("z1", "10.0.0.0/24") == "z1-10.0.0.0-24"
    for bad in ("10.0.0.0-24", "z1-10.0.0.0-4", "z1-10.0.0.300-24"):
        with pytest.raises(ConfigError):
            parse_subnet_id(bad)


def test_running_config_refuses_bad_objects_with_their_name() -> None:
    bad = {"version": 1, "vnets": {"ids": {"v1": {"type": "vnet", "zone": "z", "tag": 0}}}}
    with pytest.raises(ConfigError, match='vnet "v1"'):
        RunningConfig.from_json(bad)


def test_fabric_sections() -> None:
    node = section_from_json(
        Kind.FABRICS,
        "f1_node1",
        {
            "type": "ospf_node",
            "id": "f1_node1",
            "ip": "10.0.0.1",
            "interfaces": ["name=ens19,ip=10.1.0.1/31"],
        },
    )
    cfg = SdnConfig({Kind.FABRICS: {"f1_node1": node}})
    member = cfg.fabric_nodes["f1_node1"]
    assert (member.fabric, member.node) == ("f1", "node1")
    assert member.interfaces[0].ip == ipaddress.ip_interface("10.1.0.1/31")
    assert node.to_json()["id"] == "f1_node1"
    with pytest.raises(ConfigError, match="unknown key 'ip6'"):
        section_from_json(
            Kind.FABRICS,
            "f1_n2",
            {"type": "ospf_node", "ip": "10.0.0.2", "interfaces": ["name=e,ip6=2001:db8::1/64"]},
        )
