"""EVPN in FRR: the VTEP peering, zone VRFs, exit nodes (spec §3.8)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # plan_support.py beside the tests

from plan_support import block, blocks, config, facts, plan, render

PEERS = "192.0.2.1,192.0.2.2,192.0.2.3"
CTL = {"ctl": {"type": "evpn", "asn": 65000, "peers": PEERS}}


def evpn(zone: dict | None = None, controllers: dict | None = None, subnets: dict | None = None) -> object:
    return config(
        zones={"z1": {"type": "evpn", "controller": "ctl", "vrf-vxlan": 10000, **(zone or {})}},
        vnets={"v1": {"type": "vnet", "zone": "z1", "tag": 11000}},
        subnets=subnets
        if subnets is not None
        else {"z1-10.0.0.0-24": {"type": "subnet", "vnet": "v1", "gateway": "10.0.0.1"}},
        controllers=controllers or CTL,
    )


def frr_of(cfg: object, **facts_overrides: object) -> str:
    _, frr = render(cfg, facts(**facts_overrides) if facts_overrides else None)
    assert frr is not None
    return frr


def test_vtep_peering_and_zone_vrf() -> None:
    frr = frr_of(evpn())
    assert frr.startswith("frr version 10.4.1\nfrr defaults datacenter\nhostname n1\n")
    assert frr.endswith("!\nline vty\n!\n")
    assert block(frr, "vrf vrf_z1") == [" vni 10000"]
    assert block(frr, "router bgp 65000") == [
        " bgp router-id 192.0.2.1",
        " no bgp hard-administrative-reset",
        " no bgp default ipv4-unicast",
        " coalesce-time 1000",
        " no bgp graceful-restart notification",
        " neighbor VTEP peer-group",
        " neighbor VTEP remote-as 65000",
        " neighbor VTEP bfd",
        " neighbor 192.0.2.2 peer-group VTEP",
        " neighbor 192.0.2.3 peer-group VTEP",
        " !",
        " address-family l2vpn evpn",
        "  neighbor VTEP activate",
        "  neighbor VTEP route-map MAP_VTEP_IN in",
        "  neighbor VTEP route-map MAP_VTEP_OUT out",
        "  advertise-all-vni",
        " exit-address-family",
    ]
    assert block(frr, "router bgp 65000 vrf vrf_z1") == [
        " bgp router-id 192.0.2.1",
        " no bgp hard-administrative-reset",
        " no bgp graceful-restart notification",
    ]
    assert blocks(frr)[5:] == [
        "vrf vrf_z1",
        "router bgp 65000",
        "router bgp 65000 vrf vrf_z1",
        "route-map MAP_VTEP_IN permit 1",
        "route-map MAP_VTEP_OUT permit 1",
        "line vty",
    ]


def test_ebgp_when_the_node_bgp_controller_has_another_asn() -> None:
    controllers = CTL | {
        "n1bgp": {
            "type": "bgp",
            "asn": 65001,
            "node": "n1",
            "peers": "192.0.2.254",
            "ebgp": 1,
            "loopback": "lo1",
        }
    }
    loop = "auto lo1\niface lo1 inet static\n\taddress 10.99.0.1/32\n\n"
    loop += "auto vmbr0\niface vmbr0 inet static\n\taddress 192.0.2.1/24\n"
    frr = frr_of(evpn(controllers=controllers), interfaces=loop)
    router = block(frr, "router bgp 65001")
    assert " neighbor VTEP remote-as external" in router
    assert " neighbor VTEP ebgp-multihop 10" in router
    assert " neighbor VTEP update-source lo1" in router
    assert "  autort as 65000" in router
    # the local address is the loopback's, so all three EVPN peers are remote
    assert " neighbor 192.0.2.1 peer-group VTEP" in router
    assert block(frr, "router bgp 65001 vrf vrf_z1")[-4:] == [
        " address-family l2vpn evpn",
        "  route-target import 65000:10000",
        "  route-target export 65000:10000",
        " exit-address-family",
    ]


def test_the_first_controller_by_id_creates_the_router() -> None:
    """A BGP controller whose ID sorts first initialises the router without EVPN's extra lines."""
    bgp = {"type": "bgp", "asn": 65000, "node": "n1", "peers": "192.0.2.254", "ebgp": 1}
    first = block(frr_of(evpn(controllers=CTL | {"abgp": bgp})), "router bgp 65000")
    assert " no bgp hard-administrative-reset" not in first
    assert first.index(" neighbor BGP peer-group") < first.index(" neighbor VTEP peer-group")
    last = block(frr_of(evpn(controllers=CTL | {"zbgp": bgp})), "router bgp 65000")
    assert " no bgp hard-administrative-reset" in last
    assert last.index(" neighbor VTEP peer-group") < last.index(" neighbor BGP peer-group")


def exit_config(**zone: object) -> object:
    return config(
        zones={
            "z1": {"type": "evpn", "controller": "ctl", "vrf-vxlan": 10000, "exitnodes": "n1,n2", **zone},
            "z2": {"type": "evpn", "controller": "ctl", "vrf-vxlan": 20000},
            "s1": {"type": "simple"},
        },
        vnets={
            "v1": {"type": "vnet", "zone": "z1", "tag": 1},
            "v2": {"type": "vnet", "zone": "z2", "tag": 2},
            "vs": {"type": "vnet", "zone": "s1"},
        },
        subnets={
            "z1-10.0.0.0-24": {"type": "subnet", "vnet": "v1", "gateway": "10.0.0.1"},
            "z1-2001:db8:1::-64": {"type": "subnet", "vnet": "v1", "gateway": "2001:db8:1::1"},
            "z2-10.1.0.0-16": {"type": "subnet", "vnet": "v2"},
            "z2-9.9.9.1-24": {"type": "subnet", "vnet": "v2"},
            "z2-2001:db8:2::-64": {"type": "subnet", "vnet": "v2"},
            "s1-172.16.0.0-24": {"type": "subnet", "vnet": "vs"},
        },
        controllers=CTL,
    )


def test_exit_node_blackholes_other_zones_and_leaks_into_the_default_vrf() -> None:
    frr = frr_of(exit_config())
    assert block(frr, "vrf vrf_z1") == [
        " vni 10000",
        " ip route 9.9.9.1/24 null0",  # the subnet ID's address, as upstream (§10.5)
        " ip route 10.1.0.0/16 null0",
        " ip route 172.16.0.0/24 null0",
        " ipv6 route 2001:db8:2::/64 null0",
    ]
    assert block(frr, "vrf vrf_z2") == [" vni 20000"]  # not an exit node of z2
    default = block(frr, "router bgp 65000")
    assert default[default.index(" address-family ipv4 unicast") + 1] == "  import vrf vrf_z1"
    assert default[default.index(" address-family ipv6 unicast") + 1] == "  import vrf vrf_z1"
    assert block(frr, "router bgp 65000 vrf vrf_z1")[3:] == [
        " !",
        " address-family ipv4 unicast",
        "  redistribute connected",
        " exit-address-family",
        " !",
        " address-family ipv6 unicast",
        "  redistribute connected",
        " exit-address-family",
        " !",
        " address-family l2vpn evpn",
        "  default-originate ipv4",
        "  default-originate ipv6",
        " exit-address-family",
    ]
    assert "ip prefix-list only_default seq 1 permit 0.0.0.0/0" in frr
    assert "ipv6 prefix-list only_default_v6 seq 1 permit ::/0" in frr
    assert block(frr, "route-map MAP_VTEP_IN deny 1") == [" match ip address prefix-list only_default"]
    assert block(frr, "route-map MAP_VTEP_IN deny 2") == [" match ipv6 address prefix-list only_default_v6"]
    assert "route-map MAP_VTEP_IN permit 3" in frr
    assert "route-map MAP_VTEP_OUT permit 1" in frr


def test_secondary_exit_node_announces_its_default_route_with_a_worse_metric() -> None:
    frr = frr_of(exit_config(**{"exitnodes-primary": "n2"}))
    assert block(frr, "route-map MAP_VTEP_OUT permit 1") == [
        " match ip address prefix-list only_default",
        " set metric 200",
    ]
    assert (
        block(frr, "route-map MAP_VTEP_OUT permit 2")[0] == " match ipv6 address prefix-list only_default_v6"
    )
    assert "route-map MAP_VTEP_IN permit 1" in frr and "MAP_VTEP_IN deny" not in frr
    assert "route-map MAP_VTEP_IN deny 1" in frr_of(exit_config(**{"exitnodes-primary": "n1"}))


def evpn_af(frr: str) -> list[str]:
    lines = block(frr, "router bgp 65000 vrf vrf_z1")
    return lines[lines.index(" address-family l2vpn evpn") + 1 : -1]


def test_frr_before_9_filters_other_exit_nodes_default_routes_by_route_type() -> None:
    # FRR 8 never matches a type-5 route against a prefix list: the route type is all it can match
    frr = frr_of(exit_config(), frr_version="8.4.4")
    assert block(frr, "route-map MAP_VTEP_IN deny 1") == [" match evpn route-type prefix"]
    assert "only_default" not in frr
    assert "route-map MAP_VTEP_IN deny 1" in frr_of(exit_config(), frr_version="9.1")
    assert "match evpn route-type" not in frr_of(exit_config(), frr_version="9.1")


def test_frr_before_10_4_announces_no_ipv6_default_route_for_an_ipv4_only_zone() -> None:
    # zebra before 10.4 drops a VTEP's router MAC when its only IPv6 route changes next hops,
    # though its IPv4 routes still use it (FRR issue 16340): a zone without IPv6 subnets sends none
    ipv4_only = config(
        zones={"z1": {"type": "evpn", "controller": "ctl", "vrf-vxlan": 10000, "exitnodes": "n1"}},
        vnets={"v1": {"type": "vnet", "zone": "z1", "tag": 1}},
        subnets={"z1-10.0.0.0-24": {"type": "subnet", "vnet": "v1", "gateway": "10.0.0.1"}},
        controllers=CTL,
    )
    assert evpn_af(frr_of(ipv4_only, frr_version="8.4.4")) == ["  default-originate ipv4"]
    assert evpn_af(frr_of(ipv4_only, frr_version="10.3.1")) == ["  default-originate ipv4"]
    both = ["  default-originate ipv4", "  default-originate ipv6"]
    assert evpn_af(frr_of(ipv4_only, frr_version="10.4.1")) == both
    assert evpn_af(frr_of(ipv4_only)) == both  # no version fact: PVE's output
    assert evpn_af(frr_of(exit_config(), frr_version="8.4.4")) == both  # the zone has IPv6 subnets


def test_entries_repeat_per_exit_zone_as_upstream() -> None:
    cfg = config(
        zones={
            z: {"type": "evpn", "controller": "ctl", "vrf-vxlan": n, "exitnodes": "n1"}
            for z, n in (("z1", 1), ("z2", 2))
        },
        vnets={"v1": {"type": "vnet", "zone": "z1", "tag": 10}},
        controllers=CTL,
    )
    frr = frr_of(cfg)
    assert [line for line in blocks(frr) if line.startswith("route-map MAP_VTEP_IN")] == [
        "route-map MAP_VTEP_IN deny 1",
        "route-map MAP_VTEP_IN deny 2",
        "route-map MAP_VTEP_IN deny 3",
        "route-map MAP_VTEP_IN deny 4",
        "route-map MAP_VTEP_IN permit 5",
    ]


def test_local_routing_uses_static_routes_through_the_xvrf_veth() -> None:
    frr = frr_of(exit_config(**{"exitnodes-local-routing": 1}))
    assert "  import vrf vrf_z1" not in frr
    assert "  redistribute connected" not in block(frr, "router bgp 65000 vrf vrf_z1")
    lines = frr.splitlines()
    assert (
        lines[lines.index("ip route 10.0.0.0/24 10.255.255.2 xvrf_z1") + 1]
        == "ipv6 route 2001:db8:1::/64 fe80::2 xvrf_z1"
    )


def test_advertise_subnets_also_on_exit_nodes() -> None:
    plain = block(frr_of(evpn({"advertise-subnets": 1})), "router bgp 65000 vrf vrf_z1")
    assert plain[-4:] == [
        " address-family l2vpn evpn",
        "  advertise ipv4 unicast",
        "  advertise ipv6 unicast",
        " exit-address-family",
    ]
    assert plain.count("  redistribute connected") == 2
    exit_node = block(frr_of(exit_config(**{"advertise-subnets": 1})), "router bgp 65000 vrf vrf_z1")
    assert "  advertise ipv4 unicast" in exit_node  # upstream ignores advertise-subnets here (§10.8)
    assert exit_node.count("  redistribute connected") == 2


def test_route_target_imports_are_sorted_after_the_zones_own() -> None:
    # FRR drops its automatic import route target once one is configured: the zone's own comes first
    frr = frr_of(evpn({"rt-import": "65003:3,65001:1,65002:2"}))
    assert [x for x in block(frr, "router bgp 65000 vrf vrf_z1") if "route-target" in x] == [
        "  route-target import 65000:10000",
        "  route-target import 65001:1",
        "  route-target import 65002:2",
        "  route-target import 65003:3",
    ]
    assert "route-target" not in frr_of(evpn())  # no import configured: FRR's automatic one


def test_ipv6_underlay_router_id_from_the_mac() -> None:
    v6node = "auto vmbr0\niface vmbr0 inet6 static\n\taddress 2001:db8::1/64\n"
    cfg = evpn(controllers={"ctl": {"type": "evpn", "asn": 65000, "peers": "2001:db8::1,2001:db8::2"}})
    frr = frr_of(cfg, interfaces=v6node, mac="bc:24:11:1d:69:60")
    assert " bgp router-id 17.29.105.96" in block(frr, "router bgp 65000")
    assert " neighbor 2001:db8::2 peer-group VTEP" in block(frr, "router bgp 65000")


def test_no_router_id_without_ipv4_or_mac_is_a_warning() -> None:
    v6node = "auto vmbr0\niface vmbr0 inet6 static\n\taddress 2001:db8::1/64\n"
    cfg = evpn(controllers={"ctl": {"type": "evpn", "asn": 65000, "peers": "2001:db8::1,2001:db8::2"}})
    result = plan(cfg, facts(v6node, mac=None))
    assert result.frr is not None and result.frr.bgp_routers == ()
    assert any("router-id" in w for w in result.warnings)


def test_zone_not_on_this_node_has_no_frr_config() -> None:
    """Upstream configures every EVPN zone's VRF on every node (§10.6)."""
    frr = frr_of(evpn({"nodes": "n2"}))
    assert "vrf vrf_z1" not in frr
    assert "router bgp 65000\n" in frr
