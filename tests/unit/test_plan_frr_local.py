"""Merging frr.conf.local into the generated FRR configuration (spec §3.8, §10.21 fixed)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # plan_support.py beside the tests

from plan_support import block, blocks, config, facts, plan, render

from sdnkit.plan.frr.local import LocalBlock, LocalStatement, parse_local

OSPF = {
    "os": {"type": "ospf_fabric", "ip_prefix": "172.20.30.0/24", "area": "0"},
    "os_n1": {"type": "ospf_node", "ip": "172.20.30.1", "interfaces": ["name=ens19"]},
}
CONFIG = config(
    zones={"z1": {"type": "evpn", "controller": "ctl", "vrf-vxlan": 10000}},
    vnets={"v1": {"type": "vnet", "zone": "z1", "tag": 1}},
    controllers={
        "ctl": {"type": "evpn", "asn": 65000, "peers": "192.0.2.1,192.0.2.2"},
        "isis1": {
            "type": "isis",
            "node": "n1",
            "isis-domain": "d1",
            "isis-ifaces": "eth3",
            "isis-net": "49.0001.1921.6800.0001.00",
        },
    },
    fabrics=OSPF,
)


def merged(local: str) -> tuple[str, tuple[str, ...]]:
    result = plan(CONFIG, facts(frr_local=local))
    _, frr = render(CONFIG, facts(frr_local=local))
    assert frr is not None
    return frr, result.warnings


def test_parse_blocks_statements_and_comments() -> None:
    text = "\n".join(
        [
            "! comment",
            "ip nht resolve-via-default",
            "router bgp 1",
            " address-family ipv4 unicast",
            "  network 1.0.0.0/8",
            "exit-address-family",  # at column 0, still inside the router
            " bgp x",
            "exit",
            "!",
            "route-map A permit 10",
            "route-map A permit 20",
            " match x",
        ]
    )
    assert parse_local(text) == (
        LocalStatement("ip nht resolve-via-default"),
        LocalBlock(
            "router bgp 1",
            (" address-family ipv4 unicast", "  network 1.0.0.0/8", "exit-address-family", " bgp x"),
            "exit",
        ),
        LocalBlock("route-map A permit 10"),
        LocalBlock("route-map A permit 20", (" match x",)),
    )


def test_router_bgp_lines_and_address_families_merge() -> None:
    local = (
        "router bgp 65000\n"
        " neighbor 198.51.100.1 remote-as 65100\n"
        " address-family l2vpn evpn\n"
        "  advertise-svi-ip\n"
        " exit-address-family\n"
        " address-family ipv4 unicast\n"
        "  redistribute static\n"
        " exit-address-family\n"
        "exit\n"
    )
    frr, warnings = merged(local)
    router = block(frr, "router bgp 65000")
    assert (
        router[router.index(" neighbor 192.0.2.2 peer-group VTEP") + 1]
        == " neighbor 198.51.100.1 remote-as 65100"
    )
    # no generated ipv4 family: the section is kept as written, before the generated families
    assert router[router.index(" neighbor 198.51.100.1 remote-as 65100") + 1 :][:3] == [
        " address-family ipv4 unicast",
        "  redistribute static",
        " exit-address-family",
    ]
    evpn = router[router.index(" address-family l2vpn evpn") :]
    assert evpn[evpn.index("  advertise-all-vni") + 1] == "  advertise-svi-ip"
    assert warnings == ()


def test_router_bgp_with_another_asn_stays_separate_with_a_warning() -> None:
    frr, warnings = merged("router bgp 65099\n bgp router-id 1.2.3.4\nexit\n")
    assert block(frr, "router bgp 65099") == [" bgp router-id 1.2.3.4"]
    assert any("65099" in w for w in warnings)


def test_vrf_isis_ospf_and_interfaces_merge() -> None:
    local = (
        "vrf vrf_z1\n ip route 192.0.2.0/24 null0\nexit-vrf\n"
        "router isis d1\n is-type level-2-only\nexit\n"
        "router ospf\n passive-interface default\nexit\n"
        "interface eth3\n isis circuit-type level-2-only\nexit\n"
        "interface ens19\n no ip ospf passive\nexit\n"
        "interface ens30\n ip ospf area 0\nexit\n"
    )
    frr, _ = merged(local)
    assert block(frr, "vrf vrf_z1") == [" vni 10000", " ip route 192.0.2.0/24 null0"]
    assert block(frr, "router isis d1")[-1] == " is-type level-2-only"
    assert block(frr, "router ospf") == [" ospf router-id 172.20.30.1", " passive-interface default"]
    assert block(frr, "interface eth3") == [" ip router isis d1", " isis circuit-type level-2-only"]
    assert block(frr, "interface ens19") == [
        " ip ospf area 0",
        " ip ospf network point-to-point",
        " no ip ospf passive",
    ]
    assert block(frr, "interface ens30") == [" ip ospf area 0"]  # nothing generated: kept as a block
    assert blocks(frr).count("interface ens19") == 1


def test_route_maps_follow_the_generated_entries() -> None:
    local = (
        "route-map MAP_VTEP_IN deny 10\n match community c1\nexit\n"
        "route-map OWN permit 50\n set local-preference 200\n"
        "route-map OWN permit 60\n"
    )
    frr, _ = merged(local)
    assert block(frr, "route-map MAP_VTEP_IN deny 2") == [" match community c1"]
    assert block(frr, "route-map OWN permit 1") == [" set local-preference 200"]
    assert "route-map OWN permit 2" in frr
    # the generated entry keeps its place and number; the fabric's are not renumbered
    assert "route-map MAP_VTEP_IN permit 1" in frr and "route-map pve_ospf permit 100" in frr


def test_statements_upstream_drops_are_kept() -> None:
    """Upstream keeps only prefix lists, access lists and community lists (§10.21)."""
    local = "ip nht resolve-via-default\nip route 198.51.100.0/24 192.0.2.254\n"
    local += "ip prefix-list PL permit 10.0.0.0/8\nbgp community-list standard C permit 1:1\n"
    frr, _ = merged(local)
    lines = frr.splitlines()
    start = lines.index("ip nht resolve-via-default")
    assert lines[start : start + 4] == local.splitlines()


def test_protocol_route_maps_replace_the_generated_ones() -> None:
    frr, _ = merged("ip protocol ospf route-map MINE\nipv6 protocol bgp route-map MINE6\n")
    assert "ip protocol ospf route-map pve_ospf" not in frr
    assert blocks(frr)[-3:] == [
        "ipv6 protocol bgp route-map MINE6",
        "ip protocol ospf route-map MINE",
        "line vty",
    ]


def test_unknown_blocks_are_kept_and_closed() -> None:
    frr, _ = merged("router eigrp 1\n network 10.0.0.0/8\nvrf other\n vni 5\n")
    lines = frr.splitlines()
    start = lines.index("router eigrp 1")
    assert lines[start : start + 8] == [
        "router eigrp 1",
        " network 10.0.0.0/8",
        "exit",
        "!",
        "vrf other",
        " vni 5",
        "exit-vrf",
        "!",
    ]


def test_local_file_alone_makes_an_frr_config() -> None:
    result = plan(config(zones={"s1": {"type": "simple"}}), facts(frr_local="ip nht resolve-via-default\n"))
    assert result.frr is not None and result.frr.custom == ("ip nht resolve-via-default",)
    assert plan(config(zones={"s1": {"type": "simple"}})).frr is None
