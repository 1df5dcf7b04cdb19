"""Value formats: what each accepts, refuses, and how it writes back."""

from __future__ import annotations

import pytest

from sdnkit.config.formats import (
    ArrayOf,
    Boolean,
    Cidr,
    Enum,
    Integer,
    IpAddress,
    ListOf,
    Mac,
    PropertyString,
    Text,
    clean_text,
)
from sdnkit.config.schema import DHCP_RANGE, NODES, VLAN_TAG, VNI


@pytest.mark.parametrize("raw", ["a\nb", "x\ry", "tab\there", "nul\x00", "del\x7f"])
def test_control_characters_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="control characters"):
        clean_text(raw)


def test_surrounding_whitespace_is_stripped_like_pve_reads_it() -> None:
    assert Text().parse("  My net  ") == "My net"


@pytest.mark.parametrize(
    ("fmt", "raw", "value"), [(VLAN_TAG, "10", 10), (VLAN_TAG, 4094, 4094), (VNI, "16777215", 16777215)]
)
def test_integers_accept_numbers_and_strings(fmt: Integer, raw: object, value: int) -> None:
    assert fmt.parse(raw) == value


@pytest.mark.parametrize(
    ("fmt", "raw"), [(VLAN_TAG, 0), (VLAN_TAG, 4095), (VLAN_TAG, 4096), (VNI, 16777216), (VNI, 0)]
)
def test_integer_ranges_fix_upstream_off_by_one(fmt: Integer, raw: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        fmt.parse(raw)


@pytest.mark.parametrize("raw", ["ten", "1.5", "", True, None, "1e3"])
def test_integers_refuse_non_integers(raw: object) -> None:
    with pytest.raises(ValueError):
        Integer().parse(raw)


@pytest.mark.parametrize(
    ("raw", "value"), [("1", True), ("0", False), ("yes", True), ("off", False), (1, True), (False, False)]
)
def test_booleans(raw: object, value: bool) -> None:
    fmt = Boolean()
    assert fmt.parse(raw) is value
    assert fmt.text(value) == ("1" if value else "0")
    assert fmt.json(value) == (1 if value else 0)


@pytest.mark.parametrize("raw", ["2", "maybe", 3, ""])
def test_booleans_refuse_other_values(raw: object) -> None:
    with pytest.raises(ValueError):
        Boolean().parse(raw)


def test_enum() -> None:
    fmt = Enum(("802.1q", "802.1ad"))
    assert fmt.parse("802.1ad") == "802.1ad"
    with pytest.raises(ValueError, match="not one of"):
        fmt.parse("802.1x")


def test_ip_addresses_keep_their_spelling_and_check_family() -> None:
    assert IpAddress().parse("2001:db8::1") == "2001:db8::1"
    with pytest.raises(ValueError, match="not an IPv4"):
        IpAddress(4).parse("2001:db8::1")
    with pytest.raises(ValueError, match="not a valid"):
        IpAddress().parse("10.0.0.256")


def test_cidr_allows_host_bits_but_needs_a_prefix() -> None:
    assert Cidr().parse("192.168.0.1/24") == "192.168.0.1/24"
    with pytest.raises(ValueError, match="prefix length"):
        Cidr().parse("10.0.0.0")


@pytest.mark.parametrize(
    "raw",
    ["01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00", "32:F4:05:FE:6C", "zz:00:00:00:00:00"],
)
def test_mac_must_be_unicast_and_well_formed(raw: str) -> None:
    with pytest.raises(ValueError):
        Mac().parse(raw)


def test_mac_is_kept_as_written() -> None:
    assert Mac().parse("32:F4:05:FE:6C:0A") == "32:F4:05:FE:6C:0A"


def test_node_lists_are_sets_sorted_and_written_sorted() -> None:
    value = NODES.parse("node3,node1;node2 node1")
    assert value == ("node1", "node2", "node3")
    assert NODES.text(value) == "node1,node2,node3"
    assert NODES.json(value) == {"node1": 1, "node2": 1, "node3": 1}
    assert NODES.parse({"node2": 1, "node1": 1}) == ("node1", "node2")


def test_ordered_lists_keep_order_and_refuse_duplicates() -> None:
    fmt = ListOf(IpAddress())
    assert fmt.parse("192.0.2.3,192.0.2.1") == ("192.0.2.3", "192.0.2.1")
    with pytest.raises(ValueError, match="listed twice"):
        fmt.parse("192.0.2.1,192.0.2.1")
    with pytest.raises(ValueError, match="not a valid"):
        fmt.parse("192.0.2.1,nonsense")


def test_property_string_parses_in_schema_order() -> None:
    value = DHCP_RANGE.parse("end-address=10.0.0.20,start-address=10.0.0.10")
    assert value.text() == "start-address=10.0.0.10,end-address=10.0.0.20"
    assert dict(value) == {"start-address": "10.0.0.10", "end-address": "10.0.0.20"}
    assert DHCP_RANGE.parse({"start-address": "10.0.0.10", "end-address": "10.0.0.20"}) == value


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("start-address=10.0.0.10", "missing end-address"),
        ("start-address=10.0.0.10,end-address=x", "end-address"),
        ("start-address=10.0.0.10,end-address=10.0.0.20,foo=1", "unknown key"),
        ("start-address=10.0.0.1,start-address=10.0.0.2,end-address=10.0.0.3", "given twice"),
        ("10.0.0.1", "not key=value"),
    ],
)
def test_property_string_errors(raw: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        DHCP_RANGE.parse(raw)


def test_array_of_property_strings() -> None:
    fmt = ArrayOf(DHCP_RANGE)
    value = fmt.parse(
        ["start-address=10.0.0.1,end-address=10.0.0.2", "start-address=10.0.0.5,end-address=10.0.0.6"]
    )
    assert len(value) == 2
    assert fmt.json(value) == [
        "start-address=10.0.0.1,end-address=10.0.0.2",
        "start-address=10.0.0.5,end-address=10.0.0.6",
    ]
    assert fmt.parse("start-address=10.0.0.1,end-address=10.0.0.2") == value[:1]


def test_property_string_with_integer_key() -> None:
    fmt = PropertyString(keys=(("name", Text()), ("n", Integer(2, 100))), required=("name",))
    assert fmt.parse("name=ens19,n=50")["n"] == 50
    with pytest.raises(ValueError, match="out of range"):
        fmt.parse("name=ens19,n=1")


def test_integer_takes_an_integral_json_number_and_refuses_a_fraction() -> None:
    """JSON Schema counts 5.0 as an integer; API clients (and schemathesis) may send it so."""
    assert Integer(minimum=1, maximum=10).parse(5.0) == 5
    with pytest.raises(ValueError, match="expected a string, got float"):
        Integer().parse(5.5)
