"""The equivalence checker itself: order and spelling are free, every other change is caught."""

from __future__ import annotations

import pytest
from equivalence import diff_frr, diff_interfaces, dropped_local_statements

from prerequisites import pve_cases

IFACES = """#version:3

auto vnet1
iface vnet1
\taddress 10.0.0.1/24
\tbridge_ports vxlan_vnet1
\tbridge_stp off
\tmtu 1450

auto vxlan_vnet1
iface vxlan_vnet1
\tvxlan-id 100
\tvxlan_remoteip 192.0.2.2
\tvxlan_remoteip 192.0.2.3

auto dummy_f
iface dummy_f inet static
\taddress 198.51.100.1/32
\tip-forward 1
"""

FRR = """frr version 10.4.1
hostname n1
!
router bgp 65000
 bgp router-id 192.0.2.1
 neighbor VTEP peer-group
 !
 address-family l2vpn evpn
  neighbor VTEP activate
  advertise-all-vni
 exit-address-family
exit
!
interface eth0
 ip ospf area 0
exit
!
ip prefix-list only_default seq 1 permit 0.0.0.0/0
!
route-map MAP_VTEP_IN permit 1
exit
!
line vty
!
"""


def _swap(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


def test_interfaces_order_and_spelling_are_free() -> None:
    reordered = _swap(
        IFACES,
        "\tbridge_ports vxlan_vnet1\n\tbridge_stp off\n",
        "\tbridge-stp off\n\tbridge-ports  vxlan_vnet1\n",
    )
    stanzas = reordered.split("\n\n")
    assert diff_interfaces(IFACES, "\n\n".join([stanzas[0], *reversed(stanzas[1:])])) == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("\tmtu 1450\n", ""),  # a missing option
        ("\tmtu 1450\n", "\tmtu 1450\n\tmtu 1450\n"),  # a repeated one
        ("\tmtu 1450\n", "\tmtu 1500\n"),  # another value
        ("vxlan_remoteip 192.0.2.3", "vxlan_remoteip 192.0.2.4"),
        ("#version:3", "#version:4"),
        ("auto vxlan_vnet1\n", ""),
        ("iface dummy_f inet static", "iface dummy_f inet6 static"),
        ("iface vnet1\n", "iface vnet2\n"),  # options land on another interface
    ],
)
def test_interfaces_changes_are_caught(old: str, new: str) -> None:
    assert diff_interfaces(IFACES, _swap(IFACES, old, new)) != []


def test_frr_order_within_and_across_blocks_is_free() -> None:
    moved = _swap(
        FRR,
        "  neighbor VTEP activate\n  advertise-all-vni\n",
        "  advertise-all-vni\n  neighbor VTEP activate\n",
    )
    iface = "!\ninterface eth0\n ip ospf area 0\nexit\n"
    reordered = _swap(_swap(moved, iface, ""), "!\nrouter bgp", iface + "!\nrouter bgp")
    assert reordered != FRR
    assert diff_frr(FRR, reordered) == []


def test_frr_blocks_with_one_header_count_together() -> None:
    split = _swap(
        FRR, " ip ospf area 0\nexit\n", " ip ospf area 0\nexit\n!\ninterface eth0\n ip ospf passive\nexit\n"
    )
    merged = _swap(FRR, " ip ospf area 0\n", " ip ospf area 0\n ip ospf passive\n")
    assert diff_frr(split, merged) == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("  advertise-all-vni\n", ""),  # missing in an address family
        ("  advertise-all-vni\n", "  advertise-all-vni\n  advertise-all-vni\n"),
        (
            "  advertise-all-vni\n exit-address-family\n",
            " exit-address-family\n advertise-all-vni\n",
        ),  # left the AF
        (" neighbor VTEP peer-group\n", ""),
        ("route-map MAP_VTEP_IN permit 1", "route-map MAP_VTEP_IN permit 2"),  # another sequence
        ("seq 1 permit 0.0.0.0/0", "seq 1 permit ::/0"),
        ("interface eth0", "interface eth1"),  # the statement moves to another block
        ("hostname n1", "hostname n2"),
        ("line vty\n", ""),
    ],
)
def test_frr_changes_are_caught(old: str, new: str) -> None:
    assert diff_frr(FRR, _swap(FRR, old, new)) != []


def test_allowed_extra_statements_are_top_level_and_counted() -> None:
    extra = FRR + "ip nht resolve-via-default\n"
    assert diff_frr(FRR, extra, allowed_extra=["ip nht resolve-via-default"]) == []
    assert (
        diff_frr(FRR, extra + "ip nht resolve-via-default\n", allowed_extra=["ip nht resolve-via-default"])
        != []
    )
    in_block = _swap(FRR, " ip ospf area 0\n", " ip ospf area 0\n ip nht resolve-via-default\n")
    assert diff_frr(FRR, in_block, allowed_extra=["ip nht resolve-via-default"]) != []


def test_dropped_local_statements_are_the_ones_upstream_drops() -> None:
    local = "\n".join(
        [
            "ip nht resolve-via-default",
            "!",
            "ip prefix-list A seq 5 permit 10.0.0.0/8",
            "ip prefix-list B permit 10.0.0.0/8",
            "bgp community-list standard C permit 1:1",
            "access-list D seq 5 permit any",
            "router bgp 1",
            " neighbor x",
            "exit",
        ]
    )
    assert dropped_local_statements(local) == [
        "ip nht resolve-via-default",
        "ip prefix-list B permit 10.0.0.0/8",
    ]


def _opens_block(lines: list[str], i: int) -> bool:
    following = lines[i + 1] if i + 1 < len(lines) else ""
    return lines[i][:1] not in (" ", "\t") and (
        lines[i].split()[0] in ("router", "vrf", "interface", "route-map", "line") or following[:1] == " "
    )


@pytest.mark.needs("pve-fixtures")
def test_every_fixture_line_matters() -> None:
    """Dropping or repeating any configuring line of any expected file is a difference."""
    checked = 0
    for case in pve_cases("expected_sdn_interfaces"):
        for name, diff in (
            ("expected_sdn_interfaces", diff_interfaces),
            ("expected_controller_config", diff_frr),
        ):
            path = case / name
            if not path.is_file():
                continue
            text = path.read_text()
            lines = text.splitlines(keepends=True)
            assert diff(text, text) == []
            for i, line in enumerate(lines):
                word = line.strip()
                if not word or word.startswith(("!", "exit", "auto ")):
                    continue
                if word.startswith(("iface ", "address-family")):
                    continue  # structure: checked by the inline cases above
                dropped = "".join(lines[:i] + lines[i + 1 :])
                assert diff(text, dropped) != [], f"{path}: dropping line {i + 1} {line!r} went unnoticed"
                if _opens_block(lines, i):
                    continue  # FRR merges blocks with one header: repeating a header changes nothing
                repeated = "".join(lines[: i + 1] + lines[i:])
                assert diff(text, repeated) != [], f"{path}: repeating line {i + 1} {line!r} went unnoticed"
                checked += 1
    assert checked > 500
