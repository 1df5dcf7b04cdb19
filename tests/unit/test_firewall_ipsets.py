"""Firewall IP sets: the seed's vnet0 example, guest sets, and the nftables form of ``nomatch``."""

from __future__ import annotations

import ipaddress
import itertools

from hypothesis import given
from hypothesis import strategies as st

from sdnkit.config.running import RunningConfig
from sdnkit.ipam.base import Allocation, IpEntry
from sdnkit.plan.desired import IpSet
from sdnkit.plan.firewall import plan_ipsets
from sdnkit.render.nftables_sets import element_text, intervals, nft_sets, render_ipsets

SEED = RunningConfig.from_json(
    {
        "version": 1,
        "zones": {"ids": {"simple": {"type": "simple"}}},
        "vnets": {"ids": {"vnet0": {"type": "vnet", "zone": "simple"}}},
        "subnets": {
            "ids": {
                "simple-192.0.2.0-24": {
                    "type": "subnet",
                    "vnet": "vnet0",
                    "gateway": "192.0.2.1",
                    "dhcp-range": ["start-address=192.0.2.100,end-address=192.0.2.199"],
                },
                "simple-2001:db8::-64": {
                    "type": "subnet",
                    "vnet": "vnet0",
                    "gateway": "2001:db8::1",
                    "dhcp-range": ["start-address=2001:db8::1000,end-address=2001:db8::1999"],
                },
            }
        },
    }
).config


def by_name(sets):
    return {s.name: s for s in sets}


def test_seed_example_sets():
    sets = by_name(plan_ipsets(SEED))
    assert sets["vnet0-all"].elements == ("192.0.2.0/24", "2001:db8::/64")
    assert sets["vnet0-gateway"].elements == ("192.0.2.1", "2001:db8::1")
    assert sets["vnet0-no-gateway"].elements == ("192.0.2.0/24", "2001:db8::/64")
    assert sets["vnet0-no-gateway"].nomatch == ("192.0.2.1", "2001:db8::1")
    assert sets["vnet0-dhcp"].elements == ("192.0.2.100-192.0.2.199", "2001:db8::1000-2001:db8::1999")


def test_guest_sets_collect_every_zone_and_skip_gateways():
    sub4, sub6 = SEED.subnets["simple-192.0.2.0-24"], SEED.subnets["simple-2001:db8::-64"]
    ip = ipaddress.ip_address
    allocs = [
        Allocation(sub4, ip("192.0.2.1"), IpEntry(gateway=True)),
        Allocation(sub4, ip("192.0.2.10"), IpEntry(vmid="100", mac="m")),
        Allocation(sub6, ip("2001:db8::10"), IpEntry(vmid="100", mac="m")),
        Allocation(sub4, ip("192.0.2.11"), IpEntry(vmid="101", mac="n")),
        Allocation(sub4, ip("192.0.2.12"), IpEntry(mac="o")),  # no guest: no set
    ]
    sets = by_name(plan_ipsets(SEED, allocs))
    assert sets["guest-ipam-100"].elements == ("192.0.2.10", "2001:db8::10")
    assert sets["guest-ipam-101"].elements == ("192.0.2.11",)
    assert [n for n in sets if n.startswith("guest-")] == ["guest-ipam-100", "guest-ipam-101"]


def test_no_gateway_becomes_the_subnet_minus_the_gateway_per_family():
    v4, v6 = nft_sets(by_name(plan_ipsets(SEED))["vnet0-no-gateway"])
    assert (v4.name, v4.type, v6.name, v6.type) == (
        "vnet0-no-gateway-v4",
        "ipv4_addr",
        "vnet0-no-gateway-v6",
        "ipv6_addr",
    )
    assert [element_text(4, iv) for iv in v4.intervals] == ["192.0.2.0", "192.0.2.2-192.0.2.255"]
    assert [element_text(6, iv) for iv in v6.intervals] == [
        "2001:db8::",
        "2001:db8::2-2001:db8::ffff:ffff:ffff:ffff",
    ]


def test_rendered_table_names_every_family_even_when_empty():
    text = render_ipsets((IpSet(name="guest-ipam-7", elements=("10.0.0.5",)),))
    assert "set guest-ipam-7-v4 {" in text and "set guest-ipam-7-v6 {" in text
    assert "elements = { 10.0.0.5 }" in text
    assert text.startswith("table inet sdnkit-ipsets {")


def test_overlapping_elements_merge_and_aligned_spans_print_as_prefixes():
    s = IpSet(name="x", elements=("10.0.0.0/25", "10.0.0.128/25", "10.0.0.5", "10.0.2.0-10.0.2.9"))
    assert [element_text(4, iv) for iv in intervals(s, 4)] == ["10.0.0.0/24", "10.0.2.0-10.0.2.9"]
    # touching intervals merge too: nft refuses overlapping or adjacent duplicates otherwise
    s = IpSet(name="y", elements=("10.0.0.0/24", "10.0.1.0-10.0.1.9"))
    assert [element_text(4, iv) for iv in intervals(s, 4)] == ["10.0.0.0-10.0.1.9"]


networks = st.builds(
    lambda a, p: str(ipaddress.ip_network(f"{ipaddress.IPv4Address(a)}/{p}", strict=False)),
    st.integers(0x0A000000, 0x0A000FFF),  # a small space, so that elements and holes overlap
    st.integers(22, 32),
)
addresses = st.integers(0x0A000000, 0x0A000FFF).map(lambda a: str(ipaddress.IPv4Address(a)))


@given(st.lists(networks, max_size=4), st.lists(st.one_of(addresses, networks), max_size=4))
def test_intervals_match_exactly_elements_minus_nomatch(elements, nomatch):
    spans = intervals(IpSet(name="p", elements=tuple(elements), nomatch=tuple(nomatch)), 4)
    assert all(a[1] + 1 < b[0] for a, b in itertools.pairwise(spans))  # disjoint, not touching
    probes = [ipaddress.ip_network(e, strict=False) for e in (*elements, *nomatch)]
    for net in probes:
        first, last = int(net.network_address), int(net.broadcast_address)
        edges = {first - 1, first, last, last + 1}
        for addr in (ipaddress.IPv4Address(a) for a in edges if 0 <= a < 2**32):
            inside = any(addr in ipaddress.ip_network(e, strict=False) for e in elements)
            excluded = any(addr in ipaddress.ip_network(e, strict=False) for e in nomatch)
            in_spans = any(lo <= int(addr) <= hi for lo, hi in spans)
            assert in_spans == (inside and not excluded), addr
