"""Every cross-object rule refuses with a message naming the object, the field and the rule."""

from __future__ import annotations

import textwrap

import pytest

from sdnkit.config.model import SdnConfig
from sdnkit.config.schema import Kind
from sdnkit.config.sectionconfig import parse_config
from sdnkit.config.validate import check_change, check_config, check_delete
from sdnkit.config.zones.evpn import default_mac
from sdnkit.errors import ConfigError

BASE = {
    Kind.ZONES: """
        simple: zs
        \tipam pve

        vlan: zv
        \tbridge vmbr0

        qinq: zq
        \tbridge vmbr0
        \ttag 10

        vxlan: zx
        \tpeers 192.0.2.1,192.0.2.2

        evpn: ze
        \tcontroller ctl
        \tvrf-vxlan 10000
        \texitnodes n1,n2
        \texitnodes-primary n1
    """,
    Kind.VNETS: """
        vnet: vs
        \tzone zs

        vnet: vv
        \tzone zv
        \ttag 100

        vnet: vq
        \tzone zq
        \ttag 200

        vnet: vq0
        \tzone zq

        vnet: vx
        \tzone zx
        \ttag 5000

        vnet: ve
        \tzone ze
        \ttag 6000
    """,
    Kind.SUBNETS: """
        subnet: zs-10.0.1.0-24
        \tvnet vs
        \tgateway 10.0.1.1
        \tdhcp-range start-address=10.0.1.100,end-address=10.0.1.200

        subnet: ze-10.0.2.0-24
        \tvnet ve
        \tgateway 10.0.2.1
    """,
    Kind.CONTROLLERS: """
        evpn: ctl
        \tasn 65000
        \tpeers 192.0.2.1,192.0.2.2

        bgp: bgp1
        \tasn 65001
        \tnode n1
        \tpeers 192.0.2.254
    """,
    Kind.DNS: """
        powerdns: pdns
        \tkey secret
        \turl http://127.0.0.1:8081/api/v1/servers/localhost
    """,
    Kind.FABRICS: """
        openfabric_fabric: f1
        \tip_prefix 192.168.2.0/24

        openfabric_node: f1_n1
        \tinterfaces name=ens19
        \tip 192.168.2.1

        ospf_fabric: f2
        \tarea 0
        \tip_prefix 10.10.10.0/24

        ospf_node: f2_n1
        \tinterfaces name=ens20
        \tip 10.10.10.1
    """,
}


def build(**changes: str) -> SdnConfig:
    """BASE with whole files replaced (``zones=...``) or extended (``zones_add=...``)."""
    texts = {kind: textwrap.dedent(text) for kind, text in BASE.items()}
    for name, text in changes.items():
        kind = Kind(name.removesuffix("_add"))
        text = textwrap.dedent(text)
        texts[kind] = texts.get(kind, "") + "\n" + text if name.endswith("_add") else text
    kinds = {*texts, Kind.IPAMS}
    return SdnConfig({k: parse_config(k, texts.get(k)).sections for k in kinds})


def messages(cfg: SdnConfig) -> list[str]:
    return [v.message for v in check_config(cfg)]


def refused(cfg: SdnConfig, *parts: str) -> str:
    """The one violation message containing every part."""
    found = [m for m in messages(cfg) if all(p in m for p in parts)]
    assert found, f"no violation with {parts} in {messages(cfg)}"
    return found[0]


def test_base_config_is_valid() -> None:
    assert messages(build()) == []


# references -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("ipam nb", 'zone "zn": ipam "nb" does not exist'),
        ("dns nope", 'zone "zn": dns server "nope" does not exist'),
        ("reversedns nope", 'zone "zn": dns server "nope" does not exist'),
        ("dnszone example.com", 'zone "zn": dnszone needs a dns server (option dns)'),
    ],
)
def test_zone_references(option: str, expected: str) -> None:
    assert expected in messages(build(zones_add=f"simple: zn\n\t{option}\n"))


def test_zone_with_existing_dns_and_builtin_ipam_is_fine() -> None:
    cfg = build(zones_add="simple: zn\n\tipam pve\n\tdns pdns\n\treversedns pdns\n\tdnszone example.com\n")
    assert messages(cfg) == []


def test_vnet_zone_must_exist() -> None:
    refused(build(vnets_add="vnet: v9\n\tzone nozone\n"), 'vnet "v9"', 'zone "nozone" does not exist')


def test_subnet_vnet_must_exist() -> None:
    cfg = build(subnets_add="subnet: zs-10.9.0.0-24\n\tvnet novnet\n")
    refused(cfg, 'subnet "zs-10.9.0.0-24"', 'vnet "novnet" does not exist')


def test_subnet_id_zone_must_be_the_vnets_zone() -> None:
    cfg = build(subnets_add="subnet: zv-10.9.0.0-24\n\tvnet vs\n")
    refused(cfg, 'subnet "zv-10.9.0.0-24"', 'the ID names zone "zv" but vnet "vs" is in zone "zs"')


# zone types -----------------------------------------------------------------------------------


def test_evpn_controller_must_exist_and_be_evpn() -> None:
    cfg = build(zones_add="evpn: ze2\n\tcontroller nope\n\tvrf-vxlan 10001\n")
    refused(cfg, 'zone "ze2"', 'controller "nope" does not exist')
    cfg = build(zones_add="evpn: ze2\n\tcontroller bgp1\n\tvrf-vxlan 10001\n")
    refused(cfg, 'zone "ze2"', "is of type bgp, an evpn zone needs an evpn controller")


def test_evpn_vrf_vxlan_unique_and_not_a_vnet_vni() -> None:
    cfg = build(zones_add="evpn: ze2\n\tcontroller ctl\n\tvrf-vxlan 10000\n")
    refused(cfg, 'zone "ze2"', 'vrf-vxlan 10000 is already used by zone "ze"')
    cfg = build(zones_add="evpn: ze2\n\tcontroller ctl\n\tvrf-vxlan 5000\n")
    refused(cfg, 'zone "ze2"', 'vrf-vxlan 5000 is already the VNI of vnet "vx"')


def test_evpn_exitnodes_primary_must_be_an_exitnode() -> None:
    cfg = build(
        zones_add="evpn: ze2\n\tcontroller ctl\n\tvrf-vxlan 10001\n\texitnodes n1\n\texitnodes-primary n3\n"
    )
    refused(cfg, 'zone "ze2"', "exitnodes-primary n3 must be one of the exitnodes (n1)")


def test_evpn_rt_import_of_a_zone_of_this_cluster_is_refused() -> None:
    cfg = build(zones_add="evpn: ze2\n\tcontroller ctl\n\tvrf-vxlan 10001\n\trt-import 65000:10000\n")
    refused(cfg, 'zone "ze2"', 'rt-import 65000:10000 is the route target of zone "ze" of this cluster')
    cfg = build(zones_add="evpn: ze2\n\tcontroller ctl\n\tvrf-vxlan 10001\n\trt-import 65000:10001\n")
    refused(cfg, 'zone "ze2"', "rt-import 65000:10001 is the zone's own route target")
    # another network's route target (another ASN, or a VNI no zone here has) is what it is for
    cfg = build(
        zones_add="evpn: ze2\n\tcontroller ctl\n\tvrf-vxlan 10001\n\trt-import 65001:10000,65000:99\n"
    )
    assert not [m for m in messages(cfg) if "rt-import" in m]


def test_vxlan_needs_exactly_one_of_peers_and_fabric() -> None:
    refused(build(zones_add="vxlan: zx2\n"), 'zone "zx2"', "exactly one of peers or fabric")
    cfg = build(zones_add="vxlan: zx2\n\tpeers 192.0.2.1\n\tfabric f1\n")
    refused(cfg, 'zone "zx2"', "exactly one of peers or fabric")
    assert messages(build(zones_add="vxlan: zx2\n\tfabric f1\n")) == []
    refused(build(zones_add="vxlan: zx2\n\tfabric nofab\n"), 'zone "zx2"', 'fabric "nofab" does not exist')


@pytest.mark.parametrize(
    ("vnet", "parts"),
    [
        ("vnet: v9\n\tzone zs\n\ttag 5\n", ('vnet "v9"', 'vnets of simple zone "zs" take no tag')),
        ("vnet: v9\n\tzone zv\n", ('vnet "v9"', 'vnets of vlan zone "zv" need a tag (VLAN tag 1-4094)')),
        (
            "vnet: v9\n\tzone zv\n\ttag 4095\n",
            ('vnet "v9"', "VLAN tag 4095 is out of range 1-4094 for vlan zone"),
        ),
        ("vnet: v9\n\tzone zq\n\ttag 4095\n", ('vnet "v9"', "VLAN tag 4095 is out of range 1-4094 for qinq")),
        ("vnet: v9\n\tzone zx\n", ('vnet "v9"', 'vnets of vxlan zone "zx" need a tag (VNI 1-16777215)')),
        ("vnet: v9\n\tzone ze\n", ('vnet "v9"', "need a tag (VNI")),
    ],
)
def test_vnet_tag_rules_per_zone_type(vnet: str, parts: tuple[str, ...]) -> None:
    refused(build(vnets_add=vnet), *parts)


def test_vlan_tags_are_unique_within_a_zone_only() -> None:
    cfg = build(vnets_add="vnet: v9\n\tzone zv\n\ttag 100\n")
    refused(cfg, 'vnet "v9"', 'tag 100 is already used by vnet "vv"', 'VLAN tags are unique within zone "zv"')
    other_zone = build(zones_add="vlan: zv2\n\tbridge vmbr1\n", vnets_add="vnet: v9\n\tzone zv2\n\ttag 100\n")
    assert messages(other_zone) == []
    qinq = build(vnets_add="vnet: v9\n\tzone zq\n\ttag 200\n")
    refused(qinq, 'vnet "v9"', 'VLAN tags are unique within zone "zq"')


def test_vnis_are_unique_across_vxlan_and_evpn_zones() -> None:
    cfg = build(vnets_add="vnet: v9\n\tzone ze\n\ttag 5000\n")
    refused(cfg, 'vnet "v9"', 'tag 5000 is already used by vnet "vx" (zone "zx")', "VNIs are unique across")


def test_qinq_has_at_most_one_untagged_vnet() -> None:
    cfg = build(vnets_add="vnet: vq1\n\tzone zq\n")
    refused(cfg, 'vnet "vq1"', 'at most one vnet without a tag, and vnet "vq0" of zone "zq" has none')


def test_vlanaware_not_on_evpn_and_not_with_subnets() -> None:
    refused(
        build(vnets_add="vnet: v9\n\tzone ze\n\ttag 7000\n\tvlanaware 1\n"),
        'vnet "v9"',
        "cannot be vlan-aware",
    )
    cfg = build(
        vnets_add="vnet: v9\n\tzone zs\n\tvlanaware 1\n", subnets_add="subnet: zs-10.9.0.0-24\n\tvnet v9\n"
    )
    refused(cfg, 'vnet "v9"', "a vlan-aware vnet cannot have subnets (it has zs-10.9.0.0-24)")
    refused(cfg, 'subnet "zs-10.9.0.0-24"', 'vnet "v9" is vlan-aware and cannot have subnets')


# subnets --------------------------------------------------------------------------------------


def subnet(id_: str, *lines: str, vnet: str = "vs") -> SdnConfig:
    body = "".join(f"\t{line}\n" for line in lines)
    return build(subnets_add=f"subnet: {id_}\n\tvnet {vnet}\n{body}")


def test_gateway_must_be_inside_the_subnet() -> None:
    refused(
        subnet("zs-10.9.0.0-24", "gateway 10.8.0.1"), 'subnet "zs-10.9.0.0-24"', "gateway 10.8.0.1 is not in"
    )
    refused(
        subnet("zs-2001:db8:9::-64", "gateway 10.9.0.1"), "gateway 10.9.0.1 is not in subnet 2001:db8:9::/64"
    )
    refused(subnet("zs-2001:db8:9::1-128", "gateway 2001:db8::1"), "gateway 2001:db8::1 is not in")


def test_ipv4_slash_32_pointopoint_gateway_outside_is_accepted() -> None:
    # a single routed public address: the gateway is the provider's router (fixture simple/hetzner style)
    assert messages(subnet("zs-203.0.113.7-32", "gateway 203.0.113.1")) == []


def test_gateway_not_the_network_or_broadcast_address() -> None:
    refused(
        subnet("zs-10.9.0.0-24", "gateway 10.9.0.255"), "is the network or broadcast address of 10.9.0.0/24"
    )
    assert messages(subnet("zs-10.9.0.0-31", "gateway 10.9.0.0")) == []


@pytest.mark.parametrize(
    ("ranges", "problem"),
    [
        (
            ("start-address=10.9.0.50,end-address=10.9.0.40",),
            "start-address 10.9.0.50 must not be greater than",
        ),
        (("start-address=10.9.0.5,end-address=2001:db8::1",), "is not IPv4 like subnet 10.9.0.0/24"),
        (
            ("start-address=10.8.0.5,end-address=10.9.0.9",),
            "start-address 10.8.0.5 is not in subnet 10.9.0.0/24",
        ),
        (
            ("start-address=10.9.0.5,end-address=10.9.1.9",),
            "end-address 10.9.1.9 is not in subnet 10.9.0.0/24",
        ),
        (
            (
                "start-address=10.9.0.10,end-address=10.9.0.20",
                "start-address=10.9.0.20,end-address=10.9.0.30",
            ),
            "dhcp ranges must not overlap: 10.9.0.10-10.9.0.20 and 10.9.0.20-10.9.0.30",
        ),
    ],
)
def test_dhcp_range_rules(ranges: tuple[str, ...], problem: str) -> None:
    cfg = subnet("zs-10.9.0.0-24", *(f"dhcp-range {r}" for r in ranges))
    refused(cfg, 'subnet "zs-10.9.0.0-24"', problem)


def test_seed_dhcp_ranges_fit_a_16_but_not_a_24() -> None:
    seed = (
        "dhcp-range start-address=10.0.1.100,end-address=10.0.1.200",
        "dhcp-range start-address=10.0.2.100,end-address=10.0.2.200",
    )
    assert (
        messages(build(subnets="subnet: zs-10.0.0.0-16\n\tvnet vs\n" + "".join(f"\t{s}\n" for s in seed)))
        == []
    )
    cfg = build(subnets="subnet: zs-10.0.1.0-24\n\tvnet vs\n" + "".join(f"\t{s}\n" for s in seed))
    assert messages(cfg) == ['subnet "zs-10.0.1.0-24": start-address 10.0.2.100 is not in subnet 10.0.1.0/24']


def test_subnets_of_one_zone_do_not_overlap() -> None:
    cfg = subnet("zs-10.0.0.0-16")
    refused(cfg, 'subnet "zs-10.0.0.0-16"', 'overlaps subnet 10.0.1.0/24 ("zs-10.0.1.0-24") of zone "zs"')
    # the same network in another zone is another routing domain
    assert messages(subnet("ze-10.0.1.128-25", vnet="ve")) == []


# controllers ----------------------------------------------------------------------------------


def test_evpn_controller_rules() -> None:
    cfg = build(controllers="evpn: ctl\n\tasn 65000\n")
    refused(cfg, 'controller "ctl"', "an evpn controller needs exactly one of peers or fabric")
    cfg = build(controllers="evpn: ctl\n\tasn 65000\n\tfabric nofab\n")
    refused(cfg, 'controller "ctl"', 'fabric "nofab" does not exist')
    cfg = build(controllers_add="evpn: ctl2\n\tasn 65000\n\tpeers 192.0.2.1\n")
    refused(cfg, 'controller "ctl2"', 'only one evpn controller may exist, there is also "ctl"')


@pytest.mark.parametrize("type_", ["bgp", "isis"])
def test_one_bgp_and_one_isis_controller_per_node(type_: str) -> None:
    body = {
        "bgp": "\tasn 65002\n\tnode {node}\n\tpeers 192.0.2.253\n",
        "isis": "\tisis-domain d\n\tisis-ifaces eth0\n\tisis-net 49.0001.1921.6800.1001.00\n\tnode {node}\n",
    }[type_]
    twice = build(
        controllers_add=f"{type_}: c1\n{body.format(node='n2')}\n{type_}: c2\n{body.format(node='n2')}"
    )
    refused(twice, 'controller "c2"', f'node n2 already has the {type_} controller "c1" (one per node)')
    apart = build(
        controllers_add=f"{type_}: c1\n{body.format(node='n2')}\n{type_}: c2\n{body.format(node='n3')}"
    )
    assert messages(apart) == []


# fabrics --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fabrics_add", "parts"),
    [
        ("openfabric_fabric: f3\n", ('fabric "f3"', "needs ip_prefix or ip6_prefix")),
        ("openfabric_fabric: ab_cd\n\tip_prefix 10.99.0.0/24\n", ('fabric "ab_cd"', "no '_'")),
        ("openfabric_node: f1_n2\n", ('fabric "f1_n2"', "an openfabric node needs ip or ip6")),
        (
            "openfabric_node: nofab_n2\n\tip 192.168.2.9\n",
            ('fabric "nofab_n2"', 'fabric "nofab" does not exist'),
        ),
        (
            "ospf_node: f1_n2\n\tip 192.168.2.9\n",
            ('fabric "f1_n2"', "protocol ospf differs from protocol openfabric"),
        ),
        ("openfabric_node: f1_n2\n\tip6 2001:db8::9\n", ("has no ip6_prefix for the node's ip6",)),
        (
            "openfabric_node: f1_n2\n\tip 192.168.9.9\n",
            ("ip 192.168.9.9 is not in ip_prefix 192.168.2.0/24",),
        ),
        ("openfabric_node: f1_n2\n\tip 192.168.2.1\n", ('ip 192.168.2.1 is already used by node "f1_n1"',)),
        (
            "ospf_fabric: f3\n\tarea 0.0.0.0\n\tip_prefix 10.20.0.0/24\n",
            ('area 0.0.0.0 is already used by fabric "f2"',),
        ),
        (
            "ospf_fabric: f3\n\tarea 1\n\tip_prefix 10.10.10.128/25\n",
            ('overlaps ip_prefix 10.10.10.0/24 of fabric "f2"',),
        ),
        (
            "ospf_fabric: f3\n\tarea 1\n\tip_prefix 10.20.0.0/24\n\n"
            "ospf_node: f3_n1\n\tinterfaces name=ens19\n\tip 10.20.0.1\n",
            ('interface ens19 of node n1 is already in fabric "f1"',),
        ),
    ],
)
def test_fabric_rules(fabrics_add: str, parts: tuple[str, ...]) -> None:
    refused(build(fabrics_add=fabrics_add), *parts)


def test_fabric_node_id_and_ospf_area_formats() -> None:
    with pytest.raises(ConfigError, match=r'fabric "f3": invalid value for "area": \'999\.1\.1\.1\' is not'):
        build(fabrics_add="ospf_fabric: f3\n\tarea 999.1.1.1\n\tip_prefix 10.30.0.0/24\n")
    assert "f3" in build(fabrics_add="ospf_fabric: f3\n\tarea 0.0.0.9\n\tip_prefix 10.30.0.0/24\n").fabrics
    refused(
        build(fabrics_add="openfabric_node: f1n2\n\tip 192.168.2.9\n"),
        'fabric "f1n2"',
        "a fabric node ID is <fabric>_<node>",
    )


def test_fabric_prefix_without_node_address() -> None:
    cfg = build(
        fabrics_add="openfabric_fabric: f3\n\tip_prefix 10.30.0.0/24\n\tip6_prefix 2001:db8:30::/64\n\n"
        "openfabric_node: f3_n1\n\tip 10.30.0.1\n"
    )
    refused(cfg, 'fabric "f3_n1"', "has ip6_prefix 2001:db8:30::/64, the node needs a ip6")


# interface names ------------------------------------------------------------------------------


def test_interface_names_stay_within_15_characters() -> None:
    long_bridge = "vmbr0123456789"  # 14 characters: valid, but vmbr0123456789v100 is not
    cfg = build(zones_add=f"vlan: zl\n\tbridge {long_bridge}\n", vnets_add="vnet: vl\n\tzone zl\n\ttag 100\n")
    refused(cfg, 'vnet "vl"', f'interface name "{long_bridge}v100" (<bridge>v<tag>)', "15 characters")
    cfg = build(zones_add=f"qinq: zl\n\tbridge {long_bridge}\n\ttag 4000\n")
    refused(cfg, 'zone "zl"', f'interface name "{long_bridge}.4000" (<bridge>.<tag>)')


# changes and deletes --------------------------------------------------------------------------


def test_change_may_not_add_violations_but_old_ones_do_not_block() -> None:
    before = build(vnets_add="vnet: bad\n\tzone nozone\n")
    after = build(vnets_add="vnet: bad\n\tzone nozone\n\nvnet: v9\n\tzone zs\n")
    check_change(before, after, changed=[(Kind.VNETS, "v9")])  # the old dangling vnet is not v9's fault
    worse = build(vnets_add="vnet: bad\n\tzone nozone\n\nvnet: v9\n\tzone zv\n\ttag 100\n")
    with pytest.raises(ConfigError) as info:
        check_change(before, worse, changed=[(Kind.VNETS, "v9")])
    assert info.value.errors == {"tag": info.value.message}
    assert info.value.message.startswith('vnet "v9": tag 100 is already used by vnet "vv"')


def test_zone_ipam_cannot_change_while_it_has_subnets() -> None:
    before = build()
    after = build(zones=BASE[Kind.ZONES].replace("simple: zs\n        \tipam pve", "simple: zs"))
    with pytest.raises(ConfigError, match=r'zone "zs": cannot change the ipam while the zone has subnets'):
        check_change(before, after, changed=[(Kind.ZONES, "zs")])


def test_vnet_zone_cannot_change_while_it_has_subnets() -> None:
    before = build()
    vnets = textwrap.dedent(BASE[Kind.VNETS]).replace("vnet: vs\n\tzone zs", "vnet: vs\n\tzone zv\n\ttag 7")
    after = build(vnets=vnets)
    with pytest.raises(
        ConfigError, match=r'vnet "vs": cannot move the vnet to zone "zv" while it has subnets'
    ):
        check_change(before, after, changed=[(Kind.VNETS, "vs")])


@pytest.mark.parametrize(
    ("kind", "id_", "users"),
    [
        (Kind.ZONES, "zs", 'vnet "vs"'),
        (Kind.VNETS, "vs", 'subnet "zs-10.0.1.0-24"'),
        (Kind.CONTROLLERS, "ctl", 'zone "ze"'),
        (Kind.DNS, "pdns", 'zone "zd"'),
        (Kind.IPAMS, "nb", 'zone "zn"'),
        (Kind.FABRICS, "f1", 'zone "zf", controller "cf"'),
    ],
)
def test_delete_refused_while_referenced(kind: Kind, id_: str, users: str) -> None:
    cfg = build(
        zones_add="simple: zd\n\tdns pdns\n\nsimple: zn\n\tipam nb\n\nvxlan: zf\n\tfabric f1\n",
        controllers_add="evpn: cf\n\tasn 65000\n\tfabric f1\n",
        ipams="netbox: nb\n\ttoken t\n\turl http://nb.example/api\n",
    )
    with pytest.raises(ConfigError) as info:
        check_delete(cfg, kind, id_)
    assert f"cannot delete it, it is still used by {users}; remove those first" in info.value.message


def test_unreferenced_deletes_pass_and_builtin_ipam_stays() -> None:
    cfg = build()
    check_delete(cfg, Kind.VNETS, "vv")
    check_delete(cfg, Kind.SUBNETS, "zs-10.0.1.0-24")
    with pytest.raises(ConfigError, match='ipam "pve": the built-in IPAM cannot be deleted'):
        check_delete(cfg, Kind.IPAMS, "pve")


def test_default_evpn_mac_is_stable_local_unicast() -> None:
    mac = default_mac("ze")
    assert mac == default_mac("ze") != default_mac("zf")
    first = int(mac.split(":")[0], 16)
    assert first & 0x02 and not first & 0x01
