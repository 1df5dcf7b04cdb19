"""Value formats: what each accepts, refuses, and how it writes back."""

from __future__ import annotations

import pytest

from sdnkit.config.formats import (
    IFACE,
    SECRET,
    URL,
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
from sdnkit.config.schema import DHCP_RANGE, NODES, OPTIONS, OSPF_AREA, ROUTE_TARGET, VLAN_TAG, VNI, Kind


@pytest.mark.parametrize("raw", ["a\nb", "x\ry", "tab\there", "nul\x00", "del\x7f"])
def test_control_characters_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="is not allowed \\(no control"):
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


# hostile values (issue 12 A): every class is refused, and its harmless neighbour accepted --------

REFUSED_CHARACTERS = [
    "\u2028",  # LINE SEPARATOR
    "\u2029",  # PARAGRAPH SEPARATOR
    "\x85",  # NEL, a C1 control
    "\x9b",  # CSI, a C1 control (starts terminal escape sequences)
    "\u202e",  # RIGHT-TO-LEFT OVERRIDE
    "\u2066",  # LEFT-TO-RIGHT ISOLATE
    "\u200f",  # RIGHT-TO-LEFT MARK
    "\u200b",  # ZERO WIDTH SPACE
    "\ufeff",  # BYTE ORDER MARK
    "\ud800",  # a lone surrogate (JSON "\ud800")
]


@pytest.mark.parametrize("char", REFUSED_CHARACTERS, ids=lambda c: f"U+{ord(c):04X}")
def test_separators_c1_bidi_and_invisible_characters_are_refused_everywhere(char: str) -> None:
    with pytest.raises(ValueError, match=rf"character U\+{ord(char):04X} .* is not allowed"):
        clean_text(f"my{char}net")
    with pytest.raises(ValueError, match="is not allowed"):
        Text().parse(f"my{char}net")
    assert Text().parse("my net") == "my net"


def test_free_text_may_hold_other_letters_patterned_text_may_not() -> None:
    assert Text().parse("Zürich") == "Zürich"  # a password, say
    with pytest.raises(ValueError, match=r"U\+00FC LATIN SMALL LETTER U WITH DIAERESIS is not allowed"):
        OPTIONS[Kind.VNETS]["alias"].format.parse("Zürich")


ALIAS = OPTIONS[Kind.VNETS]["alias"].format


@pytest.mark.parametrize(
    "raw",
    [
        "net\\",  # ifupdown2 joins the next line to it
        "a\\b",  # ... and the text around any backslash
        "${IFACE}",  # ifupdown2 / Mako substitution
        "<% import os %>",  # Mako code block
        "## comment",  # Mako comment
        "% for x in y:",  # Mako control line
        "tab\there",
        "x" * 256,  # the kernel takes 255 bytes
        "café",
        "\u0661\u0662",  # Arabic-Indic digits
        "a\xa0b",  # no-break space
    ],
)
def test_alias_takes_pves_ascii_characters_without_backslash(raw: str) -> None:
    with pytest.raises(ValueError):
        ALIAS.parse(raw)


def test_alias_accepts_every_character_of_its_set() -> None:
    every = "()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_abcdefghijklmnopqrstuvwxyz my net"
    assert ALIAS.parse(every) == every
    assert ALIAS.parse("x" * 255) == "x" * 255


@pytest.mark.parametrize("fmt", [IpAddress(), IpAddress(6), Cidr(), Cidr(6), ListOf(IpAddress())])
@pytest.mark.parametrize("zone", ["%eth0", "%anything goes", "%1"])
def test_ipv6_zone_ids_are_refused(fmt: object, zone: str) -> None:
    suffix = "/64" if isinstance(fmt, Cidr) else ""
    assert fmt.parse(f"fe80::1{suffix}")  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="zone ID"):
        fmt.parse(f"fe80::1{zone}{suffix}")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("fmt", "raw", "ok"),
    [
        (Integer(1, 100), "\u0661\u0662", "12"),  # Arabic-Indic 12
        (Integer(1, 100), "\uff11", "1"),  # fullwidth 1
        (Integer(1, 100), "1_0", "10"),
        (ROUTE_TARGET, "65000:\u0661", "65000:1"),
        (ROUTE_TARGET, "\u0966:1", "0:1"),  # Devanagari zero
        (OSPF_AREA, "\u0660", "0"),
        (OSPF_AREA, "0.0.0.\u0661", "0.0.0.1"),
    ],
)
def test_numbers_are_ascii_digits(fmt: object, raw: str, ok: str) -> None:
    assert str(fmt.parse(ok)) == ok  # type: ignore[attr-defined]
    with pytest.raises(ValueError):
        fmt.parse(raw)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("raw", "accepted"),
    [
        ("65535:4294967295", True),  # 2-byte ASN, 4-byte number
        ("4294967295:65535", True),  # 4-byte ASN, 2-byte number
        ("0:0", True),
        ("65536:65536", False),  # both 4 bytes: 8 bytes do not fit the 6 of a route target
        ("4294967296:1", False),
        ("1:4294967296", False),
        ("65000", False),
        ("65000:1:2", False),
    ],
)
def test_route_targets_in_range(raw: str, accepted: bool) -> None:
    if accepted:
        assert ROUTE_TARGET.parse(raw) == raw
    else:
        with pytest.raises(ValueError):
            ROUTE_TARGET.parse(raw)


@pytest.mark.parametrize(
    ("raw", "accepted"),
    [("0", True), ("4294967295", True), ("0.0.0.1", True), ("4294967296", False), ("256.0.0.1", False)],
)
def test_ospf_areas_in_range(raw: str, accepted: bool) -> None:
    if accepted:
        assert OSPF_AREA.parse(raw) == raw
    else:
        with pytest.raises(ValueError):
            OSPF_AREA.parse(raw)


@pytest.mark.parametrize(
    ("fmt", "good", "bad"),
    [
        (URL, "https://xn--mnchen-3ya.example/api", "https://münchen.example/api"),
        (URL, "http://netbox:8000/api/", 'http://netbox:8000/api/"x'),
        (SECRET, "0123abcdef!$%", "0123 abcdef"),
        (SECRET, "0123abcdef", "0123abcdéf"),
    ],
)
def test_urls_and_secrets_are_ascii(fmt: Text, good: str, bad: str) -> None:
    assert fmt.parse(good) == good
    with pytest.raises(ValueError):
        fmt.parse(bad)


def test_list_items_split_on_ascii_blanks_only() -> None:
    assert NODES.parse("n1 n2,n3;n4") == ("n1", "n2", "n3", "n4")
    with pytest.raises(ValueError, match="not allowed"):
        NODES.parse("n1\xa0n2")  # no-break space: not a separator, and not part of a node name


@pytest.mark.parametrize("raw", ["eth0:1", "_eth0", "eth 0", "eth/0"])
def test_interface_names_are_kernel_names(raw: str) -> None:
    """The kernel refuses ":" and "/"; ifupdown2 reads "eth0:1" as an address label of eth0."""
    with pytest.raises(ValueError, match="not a valid interface name"):
        IFACE.parse(raw)
    assert IFACE.parse("eth0.100") == "eth0.100"


def test_an_array_option_needs_an_element() -> None:
    """An empty array would be written as no line and read back as an unset option."""
    with pytest.raises(ValueError, match="empty list"):
        ArrayOf(DHCP_RANGE).parse([])


def test_integer_takes_an_integral_json_number_and_refuses_a_fraction() -> None:
    """JSON Schema counts 5.0 as an integer; API clients (and schemathesis) may send it so."""
    assert Integer(minimum=1, maximum=10).parse(5.0) == 5
    with pytest.raises(ValueError, match="expected a string, got float"):
        Integer().parse(5.5)
