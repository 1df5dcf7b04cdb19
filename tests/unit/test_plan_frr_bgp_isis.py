"""BGP and IS-IS controllers in FRR (spec §3.8), alone and under EVPN."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # plan_support.py beside the tests

from plan_support import block, blocks, config, facts, plan, render

LOOPBACK = "auto lo1\niface lo1 inet static\n\taddress 10.99.0.1/32\n\n"
LOOPBACK += "auto vmbr0\niface vmbr0 inet static\n\taddress 192.0.2.1/24\n"


def bgp(**opts: object) -> object:
    ctl = {"type": "bgp", "asn": 65001, "node": "n1", "peers": "192.0.2.252,192.0.2.253", **opts}
    return config(controllers={"n1bgp": ctl})


def isis(**opts: object) -> dict[str, object]:
    """An IS-IS controller of n1: domain ``core`` on eth0; ``opts`` override (PVE key names)."""
    return {
        "type": "isis",
        "node": "n1",
        "isis-domain": "core",
        "isis-ifaces": "eth0",
        "isis-net": "49.0001.1921.6800.0001.00",
        **opts,
    }


def frr_of(cfg: object, interfaces: str | None = None) -> str:
    _, frr = render(cfg, facts(interfaces) if interfaces else None)
    assert frr is not None
    return frr


def test_bgp_only() -> None:
    sdn, frr = render(bgp())
    assert sdn == "#version:1\n"
    assert frr is not None
    assert block(frr, "router bgp 65001") == [
        " bgp router-id 192.0.2.1",
        " no bgp default ipv4-unicast",
        " coalesce-time 1000",
        " neighbor BGP peer-group",
        " neighbor BGP remote-as 65001",
        " neighbor BGP bfd",
        " neighbor 192.0.2.252 peer-group BGP",
        " neighbor 192.0.2.253 peer-group BGP",
        " !",
        " address-family ipv4 unicast",
        "  neighbor BGP activate",
        "  neighbor BGP soft-reconfiguration inbound",
        " exit-address-family",
    ]


def test_ebgp_multihop_and_multipath_relax() -> None:
    router = block(
        frr_of(bgp(ebgp=1, **{"ebgp-multihop": 3, "bgp-multipath-as-path-relax": 1})), "router bgp 65001"
    )
    assert " bgp bestpath as-path multipath-relax" in router
    assert " neighbor BGP remote-as external" in router
    assert " neighbor BGP ebgp-multihop 3" in router
    assert " bgp disable-ebgp-connected-route-check" not in router  # only with a loopback
    ibgp = block(frr_of(bgp(**{"ebgp-multihop": 3})), "router bgp 65001")
    assert not any("ebgp-multihop" in line for line in ibgp)


def test_loopback_is_announced_and_becomes_the_route_source() -> None:
    frr = frr_of(bgp(ebgp=1, loopback="lo1"), LOOPBACK)
    router = block(frr, "router bgp 65001")
    assert router[0] == " bgp router-id 10.99.0.1"
    assert " bgp disable-ebgp-connected-route-check" in router
    assert router[router.index(" address-family ipv4 unicast") + 1] == "  network 10.99.0.1/32"
    assert "ip prefix-list loopbacks_ips seq 10 permit 0.0.0.0/0 le 32" in frr
    assert block(frr, "route-map correct_src permit 1") == [
        " match ip address prefix-list loopbacks_ips",
        " set src 10.99.0.1",
    ]
    assert blocks(frr)[-2:] == ["ip protocol bgp route-map correct_src", "line vty"]


def test_ipv6_loopback_uses_the_ipv6_family() -> None:
    v6 = "auto lo1\niface lo1 inet6 static\n\taddress 2001:db8:99::1/128\n"
    cfg = config(
        controllers={
            "n1bgp": {"type": "bgp", "asn": 65001, "node": "n1", "peers": "2001:db8::fe", "loopback": "lo1"}
        }
    )
    result = plan(cfg, facts(v6))
    _, frr = render(cfg, facts(v6))
    assert frr is not None
    router = block(frr, "router bgp 65001")
    assert router[router.index(" address-family ipv6 unicast") + 1] == "  network 2001:db8:99::1/128"
    assert "correct_src" not in frr  # an IPv4 route map cannot set an IPv6 source
    assert any("correct_src" in w for w in result.warnings)


def test_controllers_of_other_nodes_are_ignored() -> None:
    cfg = config(
        controllers={
            "n2bgp": {"type": "bgp", "asn": 65002, "node": "n2", "peers": "192.0.2.9"},
            "n2isis": isis(node="n2", **{"isis-domain": "d1"}),
        }
    )
    _, frr = render(cfg)
    assert frr is not None and blocks(frr)[5:] == ["line vty"]


def test_isis_router_and_sorted_interfaces() -> None:
    frr = frr_of(config(controllers={"isis1": isis(loopback="lo1", **{"isis-ifaces": "eth1,eth0"})}))
    assert block(frr, "router isis core") == [
        " net 49.0001.1921.6800.0001.00",
        " redistribute ipv4 connected level-1",
        " redistribute ipv6 connected level-1",
        " log-adjacency-changes",
    ]
    assert blocks(frr)[5:] == ["router isis core", "interface eth0", "interface eth1", "line vty"]
    assert block(frr, "interface eth0") == [" ip router isis core"]


def test_isis_loopback_is_the_evpn_underlay() -> None:
    cfg = config(
        zones={"z1": {"type": "evpn", "controller": "ctl", "vrf-vxlan": 10000}},
        vnets={"v1": {"type": "vnet", "zone": "z1", "tag": 1}},
        controllers={
            "ctl": {"type": "evpn", "asn": 65000, "peers": "10.99.0.1,10.99.0.2"},
            "isis1": isis(loopback="lo1"),
        },
    )
    frr = frr_of(cfg, LOOPBACK)
    router = block(frr, "router bgp 65000")
    assert router[0] == " bgp router-id 10.99.0.1"
    assert " neighbor VTEP update-source lo1" in router
    assert (
        " neighbor 10.99.0.2 peer-group VTEP" in router
        and " neighbor 10.99.0.1 peer-group VTEP" not in router
    )


def exit_zone(**zone: object) -> object:
    """node n1's BGP controller (eBGP to an outside router) and an EVPN zone with exit node ``n1``."""
    return config(
        zones={"z1": {"type": "evpn", "controller": "ctl", "vrf-vxlan": 10000, "exitnodes": "n1", **zone}},
        vnets={"v1": {"type": "vnet", "zone": "z1", "tag": 11000}},
        subnets={"z1-10.0.0.0-24": {"type": "subnet", "vnet": "v1", "gateway": "10.0.0.1"}},
        controllers={
            "ctl": {"type": "evpn", "asn": 65000, "peers": "192.0.2.1,192.0.2.2"},
            "n1bgp": {"type": "bgp", "asn": 65000, "node": "n1", "peers": "192.0.2.254", "ebgp": 1},
        },
    )


def test_an_exit_node_is_the_next_hop_of_the_guest_routes_it_announces() -> None:
    # the leaked host routes' next hops are other nodes' VTEPs, on the external router's subnet:
    # without next-hop-self it would be told to send there (third-party next hop)
    af = block(frr_of(exit_zone()), "router bgp 65000")
    assert "  neighbor BGP next-hop-self" in af and "  import vrf vrf_z1" in af
    # local routing: the VRF is not leaked, the routes go out as the node's own (static) routes
    af = block(frr_of(exit_zone(**{"exitnodes-local-routing": 1})), "router bgp 65000")
    assert "  neighbor BGP next-hop-self" not in af and "  import vrf vrf_z1" not in af
    # not an exit node: nothing leaked, as upstream
    assert "next-hop-self" not in frr_of(exit_zone(exitnodes="n2"))
