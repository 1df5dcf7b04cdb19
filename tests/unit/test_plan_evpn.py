"""EVPN zones: the interfaces part (spec §3.6)."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # plan_support.py beside the tests

from plan_support import config, facts, link, plan, render, stanza, stanza_names

from sdnkit.plan.desired import Vrf

CTL = {"ctl": {"type": "evpn", "asn": 65000, "peers": "192.0.2.1,192.0.2.2,192.0.2.3"}}
V4 = {"z1-10.0.0.0-24": {"type": "subnet", "vnet": "v1", "gateway": "10.0.0.1", "snat": 1}}
V6 = {"z1-2001:db8:5::-64": {"type": "subnet", "vnet": "v1", "gateway": "2001:db8:5::1"}}


def evpn(subnets: dict | None = None, vnet: dict | None = None, **zone: object) -> object:
    return config(
        zones={"z1": {"type": "evpn", "controller": "ctl", "vrf-vxlan": 10000, **zone}},
        vnets={"v1": {"type": "vnet", "zone": "z1", "tag": 11000, **(vnet or {})}},
        subnets=V4 if subnets is None else subnets,
        controllers=CTL,
    )


def test_vnet_vrf_and_l3vni_on_a_plain_node() -> None:
    sdn, _ = render(evpn(mac="02:aa:bb:cc:dd:ee"))
    assert stanza_names(sdn) == ["v1", "vrf_z1", "vrfbr_z1", "vrfvx_z1", "vxlan_v1"]
    assert stanza(sdn, "v1") == [
        "address 10.0.0.1/24",
        "hwaddress 02:aa:bb:cc:dd:ee",
        "bridge_ports vxlan_v1",
        "bridge_stp off",
        "bridge_fd 0",
        "mtu 1450",
        "ip-forward on",
        "arp-accept on",
        "vrf vrf_z1",
    ]
    vxlan = ["vxlan-local-tunnelip 192.0.2.1", "bridge-learning off", "bridge-arp-nd-suppress on", "mtu 1450"]
    assert stanza(sdn, "vxlan_v1") == ["vxlan-id 11000", *vxlan]
    assert stanza(sdn, "vrfvx_z1") == ["vxlan-id 10000", *vxlan]
    assert stanza(sdn, "vrfbr_z1") == [
        "bridge-ports vrfvx_z1",
        "bridge_stp off",
        "bridge_fd 0",
        "mtu 1450",
        "vrf vrf_z1",
    ]
    assert stanza(sdn, "vrf_z1") == [
        "vrf-table auto",
        "post-up ip route add vrf vrf_z1 unreachable default metric 4278198272",
    ]


def test_snat_only_on_exit_nodes() -> None:
    assert plan(evpn()).snat == ()
    sdn, _ = render(evpn(exitnodes="n1,n2"))
    lines = stanza(sdn, "v1")
    assert (
        "post-up iptables -t nat -A POSTROUTING -s '10.0.0.0/24' -o vmbr0 -j SNAT --to-source 192.0.2.1"
        in lines
    )
    assert stanza(sdn, "vrf_z1")[1] == "post-up ip route del vrf vrf_z1 unreachable default metric 4278198272"
    vrf = link(plan(evpn(exitnodes="n1")), "vrf_z1")
    assert isinstance(vrf, Vrf) and not vrf.unreachable_default


def test_options_disable_suppression_vxlan_port_mtu() -> None:
    sdn, _ = render(evpn(**{"disable-arp-nd-suppression": 1, "vxlan-port": 4790, "mtu": 8950}))
    assert stanza(sdn, "vxlan_v1") == [
        "vxlan-id 11000",
        "vxlan-local-tunnelip 192.0.2.1",
        "vxlan-port 4790",
        "bridge-learning off",
        "mtu 8950",
    ]


def test_vnet_without_subnet_has_no_arp_accept_and_subnet_without_gateway_has() -> None:
    sdn, _ = render(evpn(subnets={}))
    assert "arp-accept on" not in stanza(sdn, "v1")
    sdn, _ = render(evpn(subnets={"z1-10.0.0.0-24": {"type": "subnet", "vnet": "v1"}}))
    assert "arp-accept on" in stanza(sdn, "v1") and "ip-forward on" not in stanza(sdn, "v1")


def test_exit_node_local_routing_veths() -> None:
    sdn, _ = render(evpn(exitnodes="n1", **{"exitnodes-local-routing": 1}))
    assert stanza(sdn, "xvrf_z1") == [
        "link-type veth",
        "address 10.255.255.1/30",
        "veth-peer-name xvrfp_z1",
        "mtu 1500",
    ]
    assert stanza(sdn, "xvrfp_z1") == [
        "link-type veth",
        "address 10.255.255.2/30",
        "veth-peer-name xvrf_z1",
        "vrf vrf_z1",
        "mtu 1500",
    ]


def test_local_routing_veths_get_link_local_ipv6_when_the_zone_has_ipv6() -> None:
    zone = {
        "type": "evpn",
        "controller": "ctl",
        "vrf-vxlan": 10000,
        "exitnodes": "n1",
        "exitnodes-local-routing": 1,
    }
    cfg = config(
        zones={"z1": zone},
        vnets={
            "va": {"type": "vnet", "zone": "z1", "tag": 1},
            "vb": {"type": "vnet", "zone": "z1", "tag": 2},
        },
        subnets={"z1-2001:db8:5::-64": {"type": "subnet", "vnet": "vb", "gateway": "2001:db8:5::1"}},
        controllers=CTL,
    )
    sdn, _ = render(cfg)
    # the IPv6 subnet is on the second vnet: upstream looks at the first one only (§10.7)
    assert stanza(sdn, "xvrf_z1")[1:3] == ["address 10.255.255.1/30", "address fe80::1/126"]
    assert stanza(sdn, "xvrfp_z1")[2] == "address fe80::2/126"


def test_local_routing_is_only_for_exit_nodes() -> None:
    result = plan(evpn(exitnodes="n2", **{"exitnodes-local-routing": 1}))
    assert result.link("xvrf_z1") is None


def test_underlay_from_a_loopback_of_the_bgp_controller() -> None:
    controllers = CTL | {
        "b1": {"type": "bgp", "asn": 65000, "node": "n1", "peers": "192.0.2.254", "loopback": "lo1"}
    }
    loop = "auto lo1\niface lo1 inet static\n\taddress 10.99.0.1/32\n\tlink-type dummy\n"
    cfg = config(
        zones={"z1": {"type": "evpn", "controller": "ctl", "vrf-vxlan": 10000}},
        vnets={"v1": {"type": "vnet", "zone": "z1", "tag": 11000}},
        controllers=controllers,
    )
    result = plan(cfg, facts(loop + "\n" + "auto vmbr0\niface vmbr0 inet static\n\taddress 192.0.2.1/24\n"))
    assert link(result, "vxlan_v1").local_ip == ipaddress.ip_address("10.99.0.1")


def test_several_zones_each_get_their_vrf() -> None:
    cfg = config(
        zones={
            "z1": {"type": "evpn", "controller": "ctl", "vrf-vxlan": 10000},
            "z2": {"type": "evpn", "controller": "ctl", "vrf-vxlan": 20000},
        },
        vnets={
            "va": {"type": "vnet", "zone": "z1", "tag": 1},
            "vb": {"type": "vnet", "zone": "z2", "tag": 2},
        },
        controllers=CTL,
    )
    sdn, _ = render(cfg)
    assert stanza(sdn, "va")[-1] == "vrf vrf_z1" and stanza(sdn, "vb")[-1] == "vrf vrf_z2"
    assert stanza(sdn, "vrfvx_z2")[0] == "vxlan-id 20000"


def test_missing_controller_skips_the_zone() -> None:
    cfg = config(
        zones={"z1": {"type": "evpn", "controller": "nope", "vrf-vxlan": 10000}},
        vnets={"v1": {"type": "vnet", "zone": "z1", "tag": 1}},
    )
    result = plan(cfg)
    assert result.links == ()
    assert any('controller "nope" is not an evpn controller' in w for w in result.warnings)


def test_ipv6_underlay() -> None:
    v6node = "auto vmbr0\niface vmbr0 inet6 static\n\taddress 2001:db8::1/64\n"
    cfg = config(
        zones={"z1": {"type": "evpn", "controller": "ctl", "vrf-vxlan": 10000}},
        vnets={"v1": {"type": "vnet", "zone": "z1", "tag": 1}},
        controllers={"ctl": {"type": "evpn", "asn": 65000, "peers": "2001:db8::1,2001:db8::2"}},
    )
    sdn, _ = render(cfg, facts(v6node))
    assert stanza(sdn, "vxlan_v1")[1] == "vxlan-local-tunnelip 2001:db8::1"
