"""IPAM address arithmetic: usable bounds, pools and the allocated-interval set."""

from __future__ import annotations

import ipaddress
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from sdnkit.config.model import DhcpRange
from sdnkit.ipam.ranges import IntervalSet, first_free, int_to_ip, pools, usable_bounds


def _bounds(cidr: str) -> tuple[str, str] | None:
    net = ipaddress.ip_network(cidr)
    b = usable_bounds(net)
    return None if b is None else (str(int_to_ip(net.version, b[0])), str(int_to_ip(net.version, b[1])))


def test_ipv4_excludes_network_and_broadcast() -> None:
    assert _bounds("10.0.0.0/24") == ("10.0.0.1", "10.0.0.254")
    assert _bounds("10.0.0.0/30") == ("10.0.0.1", "10.0.0.2")


def test_ipv4_point_to_point_and_host_use_every_address() -> None:
    assert _bounds("10.0.0.4/31") == ("10.0.0.4", "10.0.0.5")
    assert _bounds("10.0.0.9/32") == ("10.0.0.9", "10.0.0.9")


def test_ipv6_never_hands_out_the_subnet_router_anycast_address() -> None:
    assert _bounds("2001:db8::/64") == ("2001:db8::1", "2001:db8::ffff:ffff:ffff:ffff")
    assert _bounds("2001:db8::/127") == ("2001:db8::1", "2001:db8::1")
    assert _bounds("2001:db8::5/128") == ("2001:db8::5", "2001:db8::5")


def test_pools_are_the_dhcp_ranges_clipped_to_the_usable_bounds() -> None:
    net = ipaddress.ip_network("10.0.0.0/24")
    ranges = (
        DhcpRange(ipaddress.ip_address("10.0.0.0"), ipaddress.ip_address("10.0.0.5")),
        DhcpRange(ipaddress.ip_address("10.0.0.250"), ipaddress.ip_address("10.0.0.255")),
        DhcpRange(ipaddress.ip_address("2001:db8::1"), ipaddress.ip_address("2001:db8::9")),
    )
    base = int(net.network_address)
    assert pools(net, ranges) == ((base + 1, base + 5), (base + 250, base + 254))
    assert pools(net) == ((base + 1, base + 254),)


def test_ipv6_range_starting_on_the_network_address_skips_it() -> None:
    net = ipaddress.ip_network("2001:db8::/64")
    r = DhcpRange(ipaddress.ip_address("2001:db8::"), ipaddress.ip_address("2001:db8::2"))
    ((lo, _),) = pools(net, (r,))
    assert str(ipaddress.IPv6Address(lo)) == "2001:db8::1"


def test_first_free_fills_the_lowest_gap() -> None:
    used = IntervalSet([1, 2, 3, 5, 6, 9])
    assert used.intervals() == [(1, 3), (5, 6), (9, 9)]
    assert used.first_free(1, 10) == 4
    assert used.first_free(5, 10) == 7
    assert used.first_free(9, 9) is None
    assert first_free(used, 1, 10, reserved=[4, 7]) == 8


def test_discard_splits_and_add_merges() -> None:
    used = IntervalSet(range(10, 20))
    assert used.discard(15)
    assert used.intervals() == [(10, 14), (16, 19)]
    assert not used.discard(15)
    assert used.add(15)
    assert used.intervals() == [(10, 19)]
    assert not used.add(15)
    assert len(used) == 10


ops = st.lists(st.tuples(st.booleans(), st.integers(0, 64)), max_size=200)


@settings(max_examples=300, deadline=None)
@given(ops, st.integers(0, 64), st.integers(0, 64))
def test_interval_set_behaves_like_a_set(steps: list[tuple[bool, int]], lo: int, hi: int) -> None:
    model: set[int] = set()
    used = IntervalSet()
    for add, value in steps:
        if add:
            assert used.add(value) == (value not in model)
            model.add(value)
        else:
            assert used.discard(value) == (value in model)
            model.discard(value)
    assert sorted(used) == sorted(model)
    assert len(used) == len(model)
    assert all((v in used) == (v in model) for v in range(-1, 66))
    expected = next((v for v in range(lo, hi + 1) if v not in model), None)
    assert used.first_free(lo, hi) == expected
    # intervals stay disjoint and non-adjacent: the invariant first_free relies on
    spans = used.intervals()
    assert all(a[1] + 1 < b[0] for a, b in itertools.pairwise(spans))
