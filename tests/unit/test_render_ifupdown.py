"""NodePlan → interfaces.d/sdn: PVE's option names, values and order, from plan data only."""

from __future__ import annotations

import ipaddress

import pytest

from sdnkit.errors import ConfigError
from sdnkit.plan.desired import (
    Bridge,
    Dummy,
    Existing,
    LinkRole,
    NodePlan,
    OvsIntPort,
    SnatRule,
    Veth,
    Vlan,
    Vrf,
    Vxlan,
)
from sdnkit.render.ifupdown import render_interfaces

ip = ipaddress.ip_address
iface = ipaddress.ip_interface


def text(*links: object, snat: tuple[SnatRule, ...] = (), version: int = 7) -> str:
    return render_interfaces(NodePlan(node="n1", version=version, links=links, snat=snat))  # type: ignore[arg-type]


def test_empty_plan_is_the_version_line() -> None:
    assert text() == "#version:7\n"


def test_stanzas_in_plan_order_with_tabs() -> None:
    out = text(Vrf(name="vrf_a", role=LinkRole.VRF, unreachable_default=True), Dummy(name="zz"))
    assert out == (
        "#version:7\n"
        "\nauto vrf_a\niface vrf_a\n\tvrf-table auto\n"
        "\tpost-up ip route add vrf vrf_a unreachable default metric 4278198272\n"
        "\nauto zz\niface zz\n\tlink-type dummy\n"
    )


def test_vnet_bridge_with_everything() -> None:
    bridge = Bridge(
        name="v1",
        role=LinkRole.VNET,
        addresses=(iface("10.0.0.1/24"),),
        routes=(ipaddress.ip_network("10.0.0.9/32"),),
        hwaddress="02:00:00:00:00:01",
        ports=("vxlan_v1",),
        vlan_aware=True,
        vids="2-4094",
        mtu=1450,
        alias="db net",
        ip_forward=True,
        ip6_forward=True,
        arp_accept=True,
        vrf="vrf_z",
    )
    rule = SnatRule(
        vnet="v1",
        subnet="z-10.0.0.0-24",
        source=ipaddress.ip_network("10.0.0.0/24"),
        out_iface="vmbr0",
        to_source=ip("192.0.2.1"),
        conntrack_zone=1,
    )
    assert text(bridge, snat=(rule,)).splitlines()[4:] == [
        "\taddress 10.0.0.1/24",
        "\tup ip route add 10.0.0.9/32 dev v1",
        "\tpost-up iptables -t nat -A POSTROUTING -s '10.0.0.0/24' -o vmbr0 -j SNAT --to-source 192.0.2.1",
        "\tpost-down iptables -t nat -D POSTROUTING -s '10.0.0.0/24' -o vmbr0 -j SNAT --to-source 192.0.2.1",
        "\tpost-up iptables -t raw -I PREROUTING -i fwbr+ -j CT --zone 1",
        "\tpost-down iptables -t raw -D PREROUTING -i fwbr+ -j CT --zone 1",
        "\thwaddress 02:00:00:00:00:01",
        "\tbridge_ports vxlan_v1",
        "\tbridge_stp off",
        "\tbridge_fd 0",
        "\tbridge-vlan-aware yes",
        "\tbridge-vids 2-4094",
        "\tmtu 1450",
        "\talias db net",
        "\tip-forward on",
        "\tip6-forward on",
        "\tarp-accept on",
        "\tvrf vrf_z",
    ]


def test_snat_without_conntrack_zone_and_ipv6() -> None:
    rule = SnatRule(
        vnet="v1",
        subnet="z-2001:db8::-64",
        source=ipaddress.ip_network("2001:db8::/64"),
        out_iface="eth0",
        to_source=ip("2001:db8:ff::1"),
    )
    lines = text(Bridge(name="v1", role=LinkRole.VNET), snat=(rule,)).splitlines()
    nat = "-t nat {} POSTROUTING -s '2001:db8::/64' -o eth0 -j SNAT --to-source 2001:db8:ff::1"
    assert [x for x in lines if "tables" in x] == [
        f"\tpost-up ip6tables {nat.format('-A')}",
        f"\tpost-down ip6tables {nat.format('-D')}",
    ]


@pytest.mark.parametrize(
    ("link", "body"),
    [
        (
            Bridge(name="vmbr0v5", role=LinkRole.LEGACY_BRIDGE, ports=("eth0.5", "eth1.5", "pr_v"), mtu=9000),
            ["bridge_ports  eth0.5 eth1.5 pr_v", "bridge_stp off", "bridge_fd 0", "mtu 9000"],
        ),
        (
            Bridge(
                name="z_q", role=LinkRole.ZONE_BRIDGE, ports=("sv_q", "ln_q"), vlan_aware=True, vids="2-4094"
            ),
            [
                "bridge-stp off",
                "bridge-ports sv_q ln_q",
                "bridge-fd 0",
                "bridge-vlan-aware yes",
                "bridge-vids 2-4094",
            ],
        ),
        (
            Bridge(name="vrfbr_z", role=LinkRole.L3VNI, ports=("vrfvx_z",), mtu=1450, vrf="vrf_z"),
            ["bridge-ports vrfvx_z", "bridge_stp off", "bridge_fd 0", "mtu 1450", "vrf vrf_z"],
        ),
        (
            Vxlan(
                name="vx", vni=5, remote_ips=(ip("192.0.2.2"),), local_ip=ip("192.0.2.1"), port=4790, mtu=1450
            ),
            [
                "vxlan-id 5",
                "vxlan_remoteip 192.0.2.2",
                "vxlan-local-tunnelip 192.0.2.1",
                "vxlan-port 4790",
                "mtu 1450",
            ],
        ),
        (
            Vxlan(name="vx", vni=5, learning=False, arp_nd_suppress=True),
            ["vxlan-id 5", "bridge-learning off", "bridge-arp-nd-suppress on"],
        ),
        (
            Veth(name="xv", peer="xp", addresses=(iface("10.255.255.2/30"),), vrf="vrf_z", mtu=1500),
            ["link-type veth", "address 10.255.255.2/30", "veth-peer-name xp", "vrf vrf_z", "mtu 1500"],
        ),
        (
            Vlan(name="sv_q", raw_device="eth0", vlan_id=10, protocol="802.1ad"),
            ["vlan-raw-device eth0", "vlan-id 10", "vlan-protocol 802.1ad"],
        ),
        (
            Vlan(name="vmbr0.10", raw_device="vmbr0", vlan_id=10, protocol="802.1ad", implicit=True),
            ["vlan-protocol 802.1ad"],
        ),
        (
            Vrf(name="vrf_z"),
            ["vrf-table auto", "post-up ip route del vrf vrf_z unreachable default metric 4278198272"],
        ),
        (
            OvsIntPort(name="ln_v", ovs_bridge="vmbr0", ovs_options="tag=5", mtu=9000),
            ["ovs_type OVSIntPort", "ovs_bridge vmbr0", "ovs_mtu 9000", "ovs_options tag=5"],
        ),
        (
            Existing(
                name="vmbr0",
                ovs_ports=("ln_a", "ln_b", "sv_q"),
                ovs_port_lines=(("ln_a",), ("ln_b",), ("sv_q",)),
            ),
            ["ovs_ports ln_a", "ovs_ports ln_b", "ovs_ports sv_q"],
        ),
        (Existing(name="vmbr0", ovs_ports=("sv_a", "sv_b")), ["ovs_ports sv_a sv_b"]),
        (Existing(name="vmbr0", vlan_protocol="802.1ad"), ["bridge-vlan-protocol 802.1ad"]),
    ],
)
def test_link_stanzas(link: object, body: list[str]) -> None:
    name = link.name  # type: ignore[attr-defined]
    assert text(link).splitlines()[2:] == [f"auto {name}", f"iface {name}", *(f"\t{x}" for x in body)]


def test_links_without_options_have_no_stanza() -> None:
    assert (
        text(Vlan(name="eth0.5", raw_device="eth0", vlan_id=5, implicit=True), Existing(name="vmbr0"))
        == "#version:7\n"
    )


def test_fabric_links_come_last_one_stanza_per_address() -> None:
    dummy = Dummy(
        name="dummy_f",
        role=LinkRole.FABRIC,
        addresses=(iface("10.0.0.1/32"), iface("fd00::1/128")),
        ip_forward=True,
    )
    nic = Existing(name="a1", role=LinkRole.FABRIC, addresses=(iface("10.1.0.1/31"),), ip_forward=True)
    out = text(nic, dummy, Vrf(name="vrf_z"))
    assert out.split("\n\n")[1].startswith("auto vrf_z\n")
    assert out.endswith(
        "\nauto a1\niface a1 inet static\n\taddress 10.1.0.1/31\n\tip-forward 1\n"
        "\nauto dummy_f\niface dummy_f inet static\n\taddress 10.0.0.1/32\n"
        "\tlink-type dummy\n\tip-forward 1\n"
        "\nauto dummy_f\niface dummy_f inet6 static\n\taddress fd00::1/128\n"
        "\tlink-type dummy\n\tip-forward 1\n"
    )


def test_values_cannot_inject_lines() -> None:
    with pytest.raises(ConfigError, match='interface "v1": option "alias": value contains a line break'):
        text(Bridge(name="v1", role=LinkRole.VNET, alias="x\nauto eth0"))


@pytest.mark.parametrize(
    ("link", "rule"),
    [
        (Vxlan(name="vx\nauto eth0", vni=5), None),
        (Vxlan(name="vx", vni=5, mtu="1\nauto eth0"), None),  # type: ignore[arg-type]
        (Vxlan(name="vx", vni=5, local_ip="1\nauto eth0"), None),  # type: ignore[arg-type]
        (Bridge(name="vx", role=LinkRole.VNET), "eth0\nauto eth1"),
    ],
)
def test_fast_paths_refuse_line_breaks_too(link: Vxlan | Bridge, rule: str | None) -> None:
    """VXLAN stanzas and SNAT lines are formatted as text, not line by line: same refusal."""
    snat = ()
    if rule is not None:
        snat = (
            SnatRule(
                vnet="vx",
                subnet="z-10.0.0.0-24",
                source=ipaddress.ip_network("10.0.0.0/24"),
                out_iface=rule,
                to_source=ip("192.0.2.1"),
            ),
        )
    with pytest.raises(ConfigError, match=r"value contains a line break|one word of a shell command"):
        text(link, snat=snat)
