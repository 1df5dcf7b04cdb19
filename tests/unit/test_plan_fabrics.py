"""OpenFabric and OSPF fabrics: their interfaces and FRR configuration (spec §3.1, §3.8)."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # plan_support.py beside the tests

from plan_support import block, blocks, config, plan, render

from sdnkit.plan.frr.fabrics import openfabric_net

OPENFABRIC = {
    "of": {
        "type": "openfabric_fabric",
        "ip_prefix": "172.20.3.0/24",
        "ip6_prefix": "fd00:3::/64",
        "hello_interval": 2,
        "csnp_interval": 5,
    },
    "of_n1": {
        "type": "openfabric_node",
        "ip": "172.20.3.1",
        "ip6": "fd00:3::1",
        "interfaces": ["name=ens20,hello_multiplier=3", "name=ens21,ip=10.9.0.1/31"],
    },
    "of_n2": {"type": "openfabric_node", "ip": "172.20.3.2", "interfaces": ["name=ens20"]},
}
OSPF = {
    "os": {"type": "ospf_fabric", "ip_prefix": "172.20.30.0/24", "area": "0.0.0.5"},
    "os_n1": {
        "type": "ospf_node",
        "ip": "172.20.30.1",
        "interfaces": ["name=ens19,ip=172.16.3.10/31", "name=ens22"],
    },
    "os_n2": {"type": "ospf_node", "ip": "172.20.30.2", "interfaces": ["name=ens19,ip=172.16.3.11/31"]},
}


def test_openfabric_net_from_ipv4_or_ipv6() -> None:
    assert openfabric_net(ipaddress.ip_address("172.20.3.1")) == "49.0001.1720.2000.3001.00"
    assert openfabric_net(ipaddress.ip_address("10.0.0.255")) == "49.0001.0100.0000.0255.00"
    assert openfabric_net(ipaddress.ip_address("fd00::12:34:5")) == "49.0001.0012.0034.0005.00"


def test_openfabric_interfaces_file() -> None:
    sdn, _ = render(config(fabrics=OPENFABRIC))
    assert sdn == (
        "#version:1\n"
        "\nauto dummy_of\niface dummy_of inet static\n\taddress 172.20.3.1/32\n"
        "\tlink-type dummy\n\tip-forward 1\n"
        "\nauto dummy_of\niface dummy_of inet6 static\n\taddress fd00:3::1/128\n"
        "\tlink-type dummy\n\tip-forward 1\n"
        # no address of its own: the node address, so ARP picks the right source
        "\nauto ens20\niface ens20 inet static\n\taddress 172.20.3.1/32\n\tip-forward 1\n"
        "\nauto ens21\niface ens21 inet static\n\taddress 10.9.0.1/31\n\tip-forward 1\n"
    )


def test_openfabric_frr() -> None:
    result = plan(config(fabrics=OPENFABRIC))
    assert result.frr_daemons == ("fabricd",)
    _, frr = render(config(fabrics=OPENFABRIC))
    assert frr is not None
    assert block(frr, "router openfabric of") == [" net 49.0001.1720.2000.3001.00"]
    assert block(frr, "interface dummy_of") == [
        " ip router openfabric of",
        " ipv6 router openfabric of",
        " openfabric passive",
    ]
    assert block(frr, "interface ens20") == [
        " ip router openfabric of",
        " ipv6 router openfabric of",
        " openfabric hello-interval 2",
        " openfabric hello-multiplier 3",
        " openfabric csnp-interval 5",
    ]
    assert "access-list pve_openfabric_of_ips permit 172.20.3.0/24" in frr
    assert "ipv6 access-list pve_openfabric_of_ip6s permit fd00:3::/64" in frr
    assert block(frr, "route-map pve_openfabric permit 100") == [
        " match ip address pve_openfabric_of_ips",
        " set src 172.20.3.1",
    ]
    assert block(frr, "route-map pve_openfabric6 permit 110") == [
        " match ipv6 address pve_openfabric_of_ip6s",
        " set src fd00:3::1",
    ]
    assert blocks(frr)[-3:] == [
        "ip protocol openfabric route-map pve_openfabric",
        "ipv6 protocol openfabric route-map pve_openfabric6",
        "line vty",
    ]


def test_ospf_interfaces_and_frr() -> None:
    sdn, frr = render(config(fabrics=OSPF))
    assert "\nauto ens22\niface ens22 inet static\n\taddress 172.20.30.1/32\n\tip-forward 1\n" in sdn
    assert frr is not None
    assert block(frr, "router ospf") == [" ospf router-id 172.20.30.1"]
    assert block(frr, "interface dummy_os") == [" ip ospf area 0.0.0.5", " ip ospf passive"]
    assert block(frr, "interface ens19") == [" ip ospf area 0.0.0.5"]
    assert block(frr, "interface ens22") == [" ip ospf area 0.0.0.5", " ip ospf network point-to-point"]
    assert block(frr, "route-map pve_ospf permit 100") == [
        " match ip address pve_ospf_os_ips",
        " set src 172.20.30.1",
    ]
    assert plan(config(fabrics=OSPF)).frr_daemons == ("ospfd",)


def test_two_fabrics_continue_the_route_map_sequence() -> None:
    _, frr = render(config(fabrics=OPENFABRIC | OSPF))
    assert frr is not None
    assert "route-map pve_openfabric permit 100" in frr
    assert "route-map pve_openfabric6 permit 110" in frr
    assert "route-map pve_ospf permit 120" in frr
    assert plan(config(fabrics=OPENFABRIC | OSPF)).frr_daemons == ("fabricd", "ospfd")


def test_fabric_without_this_node_adds_nothing() -> None:
    fabrics = {k: v for k, v in OSPF.items() if k != "os_n1"}
    result = plan(config(fabrics=fabrics))
    assert result.links == () and result.frr_daemons == ()
    assert (
        result.frr is not None and result.frr.ospf_router is None
    )  # frr.conf still written: config has fabrics


def test_evpn_over_a_fabric() -> None:
    cfg = config(
        zones={"z1": {"type": "evpn", "controller": "ctl", "vrf-vxlan": 10000, "mtu": 9000}},
        vnets={"v1": {"type": "vnet", "zone": "z1", "tag": 1}},
        controllers={"ctl": {"type": "evpn", "asn": 65000, "fabric": "of"}},
        fabrics=OPENFABRIC,
    )
    sdn, frr = render(cfg)
    assert frr is not None
    router = block(frr, "router bgp 65000")
    assert router[0] == " bgp router-id 172.20.3.1"
    assert " neighbor VTEP update-source dummy_of" in router
    assert (
        " neighbor 172.20.3.2 peer-group VTEP" in router
        and " neighbor 172.20.3.1 peer-group VTEP" not in router
    )
    assert "\tvxlan-local-tunnelip 172.20.3.1\n" in sdn
    assert "\tmtu 9000\n" in sdn  # the zone mtu still wins in fabric mode
