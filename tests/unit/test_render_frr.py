"""FRR tree → frr.conf: header, footer, block order and each block's statements (spec §3.8)."""

from __future__ import annotations

import pytest

from sdnkit.errors import ConfigError
from sdnkit.plan.frr.model import (
    AccessList,
    AccessListEntry,
    AfNeighbor,
    BgpRouter,
    EvpnFamily,
    FrrConfig,
    IpRoute,
    IsisInterface,
    IsisRouter,
    NeighborGroup,
    OpenFabricInterface,
    OpenFabricRouter,
    OspfInterface,
    OspfRouter,
    PrefixList,
    PrefixListEntry,
    ProtocolRouteMap,
    Redistribute,
    RouteMap,
    RouteMapEntry,
    UnicastFamily,
    Vrf,
)
from sdnkit.render.frr import render_frr

HEADER = "frr version 10.4.1\nfrr defaults datacenter\nhostname n1\n"
HEADER += "log syslog informational\nservice integrated-vtysh-config\n"


def test_empty_config_is_header_and_footer() -> None:
    assert render_frr(FrrConfig(hostname="n1")) == HEADER + "!\nline vty\n!\n"
    assert render_frr(FrrConfig(hostname="n1", version="8.4.4")).startswith("frr version 8.4.4\n")


def test_block_order() -> None:
    cfg = FrrConfig(
        hostname="n1",
        vrfs=(
            Vrf(
                name="vrf_a",
                vni=5,
                ip_routes=(IpRoute(prefix="10.0.0.0/8", via="null0"),),
                custom=(" vni 6",),
            ),
        ),
        bgp_routers=(
            BgpRouter(asn=1, router_id="1.1.1.1"),
            BgpRouter(vrf="vrf_a", asn=1, router_id="1.1.1.1"),
        ),
        isis_routers=(IsisRouter(domain="d", net="49.0001.0000.0000.0001.00"),),
        isis_interfaces=(IsisInterface(name="eth0", domain="d"),),
        prefix_lists=(
            PrefixList(
                name="p6",
                is_ipv6=True,
                entries=(PrefixListEntry(seq=5, action="deny", network="::/0", ge=8, le=64),),
            ),
        ),
        custom=("ip nht resolve-via-default",),
        openfabric_routers=(OpenFabricRouter(name="f", net="49.0001.0000.0000.0002.00"),),
        openfabric_interfaces=(OpenFabricInterface(name="dummy_f", fabric="f", ipv4=True, passive=True),),
        ospf_router=OspfRouter(router_id="2.2.2.2", custom=(" passive-interface default",)),
        ospf_interfaces=(OspfInterface(name="eth1", area="0", network_type="point-to-point"),),
        access_lists=(
            AccessList(name="acl", entries=(AccessListEntry(action="permit", network="10.0.0.0/8", seq=5),)),
        ),
        route_maps=(
            RouteMap(
                name="rm",
                entries=(
                    RouteMapEntry(action="permit", seq=3, matches=("ip address acl",), sets=("metric 5",)),
                ),
            ),
        ),
        ip_routes=(IpRoute(prefix="2001:db8::/64", via="fe80::2", dev="xvrf_a", is_ipv6=True),),
        protocol_route_maps=(ProtocolRouteMap(protocol="ospf", v4="rm", v6="rm6"),),
    )
    assert (
        render_frr(cfg)
        == HEADER
        + "\n".join(
            [
                "!",
                "vrf vrf_a",
                " vni 5",
                " ip route 10.0.0.0/8 null0",
                " vni 6",
                "exit-vrf",
                "!",
                "router bgp 1",
                " bgp router-id 1.1.1.1",
                "exit",
                "!",
                "router bgp 1 vrf vrf_a",
                " bgp router-id 1.1.1.1",
                "exit",
                "!",
                "router isis d",
                " net 49.0001.0000.0000.0001.00",
                " redistribute ipv4 connected level-1",
                " redistribute ipv6 connected level-1",
                " log-adjacency-changes",
                "exit",
                "!",
                "interface eth0",
                " ip router isis d",
                "exit",
                "!",
                "ipv6 prefix-list p6 seq 5 deny ::/0 le 64 ge 8",
                "ip nht resolve-via-default",
                "!",
                "router openfabric f",
                " net 49.0001.0000.0000.0002.00",
                "exit",
                "!",
                "interface dummy_f",
                " ip router openfabric f",
                " openfabric passive",
                "exit",
                "!",
                "router ospf",
                " ospf router-id 2.2.2.2",
                " passive-interface default",
                "exit",
                "!",
                "interface eth1",
                " ip ospf area 0",
                " ip ospf network point-to-point",
                "exit",
                "!",
                "access-list acl seq 5 permit 10.0.0.0/8",
                "!",
                "route-map rm permit 3",
                " match ip address acl",
                " set metric 5",
                "exit",
                "!",
                "ipv6 route 2001:db8::/64 fe80::2 xvrf_a",
                "!",
                "ip protocol ospf route-map rm",
                "!",
                "ipv6 protocol ospf route-map rm6",
                "!",
                "line vty",
                "!",
            ]
        )
        + "\n"
    )


def test_bgp_router_statements_in_pve_order() -> None:
    router = BgpRouter(
        asn=65000,
        router_id="192.0.2.1",
        hard_administrative_reset=False,
        default_ipv4_unicast=False,
        coalesce_time=1000,
        graceful_restart_notification=False,
        disable_ebgp_connected_route_check=True,
        bestpath_as_path_multipath_relax=True,
        neighbor_groups=(
            NeighborGroup(
                name="G",
                remote_as="external",
                bfd=True,
                ebgp_multihop=10,
                update_source="lo",
                ips=("192.0.2.2",),
            ),
        ),
        custom=(" neighbor 192.0.2.9 remote-as 1",),
        ipv4_unicast=UnicastFamily(
            networks=("192.0.2.1/32",),
            import_vrf=("vrf_a",),
            neighbors=(
                AfNeighbor(name="G", soft_reconfiguration_inbound=True, route_map_in="I", route_map_out="O"),
            ),
            redistribute=(Redistribute(protocol="connected", metric=5, route_map="R"),),
            custom=("  x",),
        ),
        l2vpn_evpn=EvpnFamily(
            advertise_all_vni=True,
            autort_as=65001,
            default_originate=("ipv4",),
            advertise_ipv4_unicast=True,
            rt_import=("1:1",),
            rt_export=("1:1",),
        ),
    )
    out = render_frr(FrrConfig(hostname="n1", bgp_routers=(router,))).splitlines()
    assert out[6:-3] == [
        "router bgp 65000",
        " bgp router-id 192.0.2.1",
        " no bgp hard-administrative-reset",
        " no bgp default ipv4-unicast",
        " coalesce-time 1000",
        " no bgp graceful-restart notification",
        " bgp disable-ebgp-connected-route-check",
        " bgp bestpath as-path multipath-relax",
        " neighbor G peer-group",
        " neighbor G remote-as external",
        " neighbor G bfd",
        " neighbor G ebgp-multihop 10",
        " neighbor G update-source lo",
        " neighbor 192.0.2.2 peer-group G",
        " neighbor 192.0.2.9 remote-as 1",
        " !",
        " address-family ipv4 unicast",
        "  network 192.0.2.1/32",
        "  import vrf vrf_a",
        "  neighbor G activate",
        "  neighbor G soft-reconfiguration inbound",
        "  neighbor G route-map I in",
        "  neighbor G route-map O out",
        "  redistribute connected metric 5 route-map R",
        "  x",
        " exit-address-family",
        " !",
        " address-family l2vpn evpn",
        "  advertise-all-vni",
        "  autort as 65001",
        "  default-originate ipv4",
        "  advertise ipv4 unicast",
        "  route-target import 1:1",
        "  route-target export 1:1",
        " exit-address-family",
        "exit",
    ]


def test_values_cannot_inject_lines() -> None:
    with pytest.raises(ConfigError, match="LINE FEED cannot be written"):
        render_frr(FrrConfig(hostname="n1", isis_routers=(IsisRouter(domain="d\nrouter bgp 1", net="x"),)))
