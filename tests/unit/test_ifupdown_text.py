"""The interfaces renderer refuses what ifupdown2 would read specially, even past validation.

Values are put straight into plan objects (as a bug in validation would let them through); the
positive cases are read back by ifupdown2's own parser (``ifupdown2_reader``).
"""

from __future__ import annotations

import ipaddress

import pytest
from tests.unit.ifupdown2_reader import read_interfaces

from sdnkit.errors import ConfigError
from sdnkit.plan.desired import Bridge, LinkRole, NodePlan, SnatRule, Vrf
from sdnkit.render.ifupdown import render_interfaces
from sdnkit.render.ifupdown_text import check_interfaces_text, shell_word


def render(*links: object, snat: tuple[SnatRule, ...] = ()) -> str:
    return render_interfaces(NodePlan(node="n1", version=1, links=links, snat=snat))  # type: ignore[arg-type]


def vnet(alias: str) -> Bridge:
    return Bridge(name="vnet1", role=LinkRole.VNET, ports=("eth0",), alias=alias)


HOSTILE_ALIASES = [
    ("db net\\", "backslash"),  # ifupdown2 would join "bridge_ports ..." to the alias
    ("a\\b", "backslash"),
    ("${IFACE}", "DOLLAR SIGN"),
    ("<% import os %>", "PERCENT SIGN"),
    ("%>", "PERCENT SIGN"),
    ("x\u2028auto eth9", "LINE SEPARATOR"),
    ("x\x85auto eth9", "NEXT LINE"),
    ("x\u202eten", "RIGHT-TO-LEFT OVERRIDE"),
    ("x\rauto eth9", "line break"),
    ("caf\xe9", "LATIN SMALL LETTER E WITH ACUTE"),
]


@pytest.mark.parametrize(("alias", "named"), HOSTILE_ALIASES)
def test_values_ifupdown2_reads_specially_are_refused(alias: str, named: str) -> None:
    with pytest.raises(ConfigError) as err:
        render(vnet(alias))
    message = str(err.value)
    assert message.startswith('interface "vnet1": option "alias": ')
    assert named.lower() in message.lower() or "REVERSE SOLIDUS" in message
    assert err.value.key == "alias"


def test_every_character_pve_allows_in_an_alias_reads_back_as_written() -> None:
    alias = "()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_abcdefghijklmnopqrstuvwxyz  two  blanks"
    text = render(vnet(alias), Vrf(name="vrf_z", role=LinkRole.VRF))
    parsed = read_interfaces(text)
    assert parsed.errors == 0
    assert [s.name for s in parsed.stanzas] == ["vnet1", "vrf_z"]
    bridge = parsed.stanzas[0]
    assert bridge.get("alias") == (alias,)
    assert [key for key, _ in bridge.options] == ["bridge-ports", "bridge-stp", "bridge-fd", "alias"]


def test_a_backslash_would_swallow_the_next_line_in_ifupdown2() -> None:
    """Why the backslash is refused: what ifupdown2 makes of it (the renderer's check skipped)."""
    text = "auto vnet1\niface vnet1\n\talias db net\\\n\tmtu 1450\n"
    assert read_interfaces(text).stanzas[0].get("alias") == ("db net mtu 1450",)
    with pytest.raises(ConfigError, match='interface "vnet1": option "alias"'):
        check_interfaces_text(text)


def snat_rule(out_iface: str, to_source: str = "192.0.2.1") -> SnatRule:
    return SnatRule(
        vnet="vnet1",
        subnet="z-10.0.0.0-24",
        source=ipaddress.ip_network("10.0.0.0/24"),
        out_iface=out_iface,
        to_source=ipaddress.ip_address(to_source),
    )


@pytest.mark.parametrize(
    "out_iface", ["eth0;reboot", "eth0 -j ACCEPT", "$(reboot)", "`id`", "-eth0", "eth0|x"]
)
def test_shell_lines_take_plain_words_only(out_iface: str) -> None:
    with pytest.raises(ConfigError, match=r"cannot be one word of a shell command|cannot be written"):
        render(vnet("n"), snat=(snat_rule(out_iface),))


def test_snat_lines_read_back_as_separate_words() -> None:
    text = render(vnet("n"), snat=(snat_rule("vmbr0.10"),))
    lines = read_interfaces(text).stanzas[0].get("post-up")
    rule = "iptables -t nat -A POSTROUTING -s '10.0.0.0/24' -o vmbr0.10 -j SNAT --to-source 192.0.2.1"
    assert lines == (rule,)


def test_an_ipv6_zone_id_cannot_reach_a_shell_line() -> None:
    with pytest.raises(ConfigError, match="shell command"):
        shell_word(ipaddress.ip_address("fe80::1%eth0 -j DROP"), "vnet1", "post-up")
    assert shell_word(ipaddress.ip_address("fe80::1"), "vnet1", "post-up") == "fe80::1"
