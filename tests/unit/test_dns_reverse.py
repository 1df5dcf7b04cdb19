"""Reverse zones for every IPv4 mask and IPv6 nibble boundary (spec §10.12 fixed)."""

from __future__ import annotations

import ipaddress
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdnkit.dns.reverse import candidate_zones, pick_reverse_zone, ptr_name, zone_at


def test_ptr_names():
    assert ptr_name("192.0.2.10") == "10.2.0.192.in-addr.arpa."
    assert ptr_name("2001:db8::1") == "1." + "0." * 23 + "8.b.d.0.1.0.0.2.ip6.arpa."


@pytest.mark.parametrize(
    ("prefix", "zone"),
    [(24, "2.0.192.in-addr.arpa."), (16, "0.192.in-addr.arpa."), (8, "192.in-addr.arpa.")],
)
def test_ipv4_zone_at_octet_boundaries(prefix, zone):
    assert zone_at("192.0.2.10", prefix) == zone


@pytest.mark.parametrize("prefix", [0, 12, 25, 32])
def test_zone_at_refuses_non_boundaries(prefix):
    with pytest.raises(ValueError, match="multiple of 8"):
        zone_at("192.0.2.10", prefix)


def test_ipv6_zone_at_nibbles():
    assert zone_at("2001:db8:1::5", 48) == "1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
    assert zone_at("2001:db8:1::5", 32) == "8.b.d.0.1.0.0.2.ip6.arpa."
    with pytest.raises(ValueError, match="multiple of 4"):
        zone_at("2001:db8::1", 50)


HOSTED = [
    "example.com.",
    "2.0.192.in-addr.arpa",  # without the trailing dot: names are normalised
    "10.in-addr.arpa.",
    "17.172.in-addr.arpa.",
    "8.b.d.0.1.0.0.2.ip6.arpa.",
    "1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
]


@pytest.mark.parametrize(
    ("ip", "zone"),
    [
        ("192.0.2.77", "2.0.192.in-addr.arpa."),  # a /26 or /28 subnet still lands in its /24 zone
        ("10.200.3.4", "10.in-addr.arpa."),  # an RFC 1918 /8 zone serves every 10.x subnet
        ("172.17.9.1", "17.172.in-addr.arpa."),  # a /20 inside a hosted /16
        ("2001:db8:1::5", "1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."),  # most specific wins
        ("2001:db8:2::5", "8.b.d.0.1.0.0.2.ip6.arpa."),
        ("198.51.100.1", None),  # nothing hosted: the caller reports it
    ],
)
def test_pick_most_specific_hosted_zone(ip, zone):
    assert pick_reverse_zone(ip, HOSTED) == zone


def test_reversemaskv6_pins_the_zone():
    assert pick_reverse_zone("2001:db8:1::5", HOSTED, mask_v6=32) == "8.b.d.0.1.0.0.2.ip6.arpa."
    assert pick_reverse_zone("2001:db8:1::5", HOSTED, mask_v6=64) is None
    # the IPv6 mask does not apply to IPv4
    assert pick_reverse_zone("192.0.2.1", HOSTED, mask_v6=64) == "2.0.192.in-addr.arpa."


@given(st.ip_addresses())
def test_every_candidate_is_a_suffix_of_the_ptr_name(ip):
    name = ptr_name(ip)
    zones = candidate_zones(ip)
    assert len(zones) == (3 if ip.version == 4 else 31)
    assert all(name.endswith("." + z) for z in zones)
    # most specific first: every zone is a strict suffix of the one before
    assert all(a.endswith("." + b) for a, b in itertools.pairwise(zones))


@given(st.ip_addresses(v=4), st.sampled_from([8, 16, 24]))
def test_ipv4_zone_covers_exactly_its_network(ip, prefix):
    net = ipaddress.ip_network(f"{ip}/{prefix}", strict=False)
    assert zone_at(ip, prefix) == zone_at(net.network_address, prefix) == zone_at(net[-1], prefix)
