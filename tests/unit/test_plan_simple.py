"""Simple zones: routed, isolated vnet bridges (spec §3.2)."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # plan_support.py beside the tests

from plan_support import config, facts, link, plan, render, stanza

from sdnkit.plan.desired import Bridge


def simple(subnets: dict | None = None, **zone: object) -> object:
    return config(
        zones={"z1": {"type": "simple", "ipam": "pve", **zone}},
        vnets={"v1": {"type": "vnet", "zone": "z1"}},
        subnets=subnets or {},
    )


def test_vnet_without_subnets_is_a_portless_bridge() -> None:
    sdn, frr = render(simple())
    assert stanza(sdn, "v1") == ["bridge_ports none", "bridge_stp off", "bridge_fd 0"]
    assert frr is None


def test_gateways_are_addresses_once_each_and_enable_forwarding() -> None:
    subnets = {
        "z1-10.0.0.0-24": {"type": "subnet", "vnet": "v1", "gateway": "10.0.0.1"},
        "z1-10.0.1.0-24": {"type": "subnet", "vnet": "v1", "gateway": "10.0.0.1"},  # same gateway
        "z1-2001:db8:1::-64": {"type": "subnet", "vnet": "v1", "gateway": "2001:db8:1::1"},
        "z1-10.9.0.0-24": {"type": "subnet", "vnet": "v1"},  # no gateway: no address
    }
    sdn, _ = render(simple(subnets))
    assert stanza(sdn, "v1") == [
        "address 10.0.0.1/24",
        "address 2001:db8:1::1/64",
        "bridge_ports none",
        "bridge_stp off",
        "bridge_fd 0",
        "ip-forward on",
        "ip6-forward on",
    ]


def test_ipv6_only_gateway_forwards_ipv6_only() -> None:
    sdn, _ = render(
        simple({"z1-2001:db8:1::-64": {"type": "subnet", "vnet": "v1", "gateway": "2001:db8:1::1"}})
    )
    assert "ip6-forward on" in stanza(sdn, "v1")
    assert "ip-forward on" not in stanza(sdn, "v1")


def test_pointopoint_host_subnet_gets_a_device_route() -> None:
    """A /32 subnet with a gateway outside of it (Hetzner-style additional IP)."""
    subnets = {"z1-203.0.113.7-32": {"type": "subnet", "vnet": "v1", "gateway": "198.51.100.1"}}
    sdn, _ = render(simple(subnets))
    assert stanza(sdn, "v1")[:2] == ["address 198.51.100.1/32", "up ip route add 203.0.113.7/32 dev v1"]
    result = plan(simple(subnets))
    assert link(result, "v1").routes == (ipaddress.ip_network("203.0.113.7/32"),)


def test_snat_goes_out_of_the_underlay_with_one_conntrack_rule_per_family() -> None:
    subnets = {
        "z1-10.0.0.0-24": {"type": "subnet", "vnet": "v1", "gateway": "10.0.0.1", "snat": 1},
        "z1-10.0.1.0-24": {"type": "subnet", "vnet": "v1", "gateway": "10.0.1.1", "snat": 1},
        "z1-2001:db8:1::-64": {"type": "subnet", "vnet": "v1", "gateway": "2001:db8:1::1", "snat": 1},
    }
    sdn, _ = render(simple(subnets))
    lines = stanza(sdn, "v1")
    nat = "-t nat -A POSTROUTING -s '{}' -o vmbr0 -j SNAT --to-source {}"
    assert f"post-up iptables {nat.format('10.0.0.0/24', '192.0.2.1')}" in lines
    assert f"post-up iptables {nat.format('10.0.1.0/24', '192.0.2.1')}" in lines
    assert f"post-up ip6tables {nat.format('2001:db8:1::/64', '2001:db8::1')}" in lines
    assert lines.count("post-up iptables -t raw -I PREROUTING -i fwbr+ -j CT --zone 1") == 1
    assert lines.count("post-down ip6tables -t raw -D PREROUTING -i fwbr+ -j CT --zone 1") == 1
    assert len([x for x in lines if x.startswith("post-down") and "-t nat -D" in x]) == 3


def test_snat_family_is_the_subnets_even_without_gateway() -> None:
    """Upstream picks iptables for an IPv6 subnet without gateway (§10.9); we use ip6tables."""
    subnets = {"z1-2001:db8:1::-64": {"type": "subnet", "vnet": "v1", "snat": 1}}
    result = plan(simple(subnets))
    assert [(r.source, str(r.to_source), r.out_iface) for r in result.snat] == [
        (ipaddress.ip_network("2001:db8:1::/64"), "2001:db8::1", "vmbr0")
    ]


def test_snat_without_an_egress_route_is_left_out_with_a_warning() -> None:
    subnets = {"z1-10.0.0.0-24": {"type": "subnet", "vnet": "v1", "gateway": "10.0.0.1", "snat": 1}}
    result = plan(simple(subnets), facts(underlay_iface=None))
    assert result.snat == ()
    assert any("snat" in w and "egress" in w for w in result.warnings)


def test_zone_options_reach_the_bridge() -> None:
    cfg = config(
        zones={"z1": {"type": "simple", "mtu": 9000, "ipam": "pve"}},
        vnets={
            "v1": {"type": "vnet", "zone": "z1", "alias": "web servers", "vlanaware": 1, "isolate-ports": 1}
        },
    )
    sdn, _ = render(cfg)
    assert stanza(sdn, "v1") == [
        "bridge_ports none",
        "bridge_stp off",
        "bridge_fd 0",
        "bridge-vlan-aware yes",
        "bridge-vids 2-4094",
        "mtu 9000",
        "alias web servers",
    ]
    bridge = link(plan(cfg), "v1")
    assert isinstance(bridge, Bridge) and bridge.isolate_guest_ports and bridge.guest_port_learning


def test_zone_limited_to_other_nodes_plans_nothing_here() -> None:
    cfg = config(
        zones={"z1": {"type": "simple", "nodes": "n2,n3"}, "z2": {"type": "simple", "nodes": "n1"}},
        vnets={"v1": {"type": "vnet", "zone": "z1"}, "v2": {"type": "vnet", "zone": "z2"}},
    )
    result = plan(cfg)
    assert [x.name for x in result.links] == ["v2"]
    assert result.warnings == ()
