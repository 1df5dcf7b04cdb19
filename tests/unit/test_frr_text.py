"""The FRR renderer refuses values FRR would read as more than a value, even past validation."""

from __future__ import annotations

import pytest

from sdnkit.errors import ConfigError
from sdnkit.plan.frr.model import BgpRouter, EvpnFamily, FrrConfig, IsisRouter, Vrf
from sdnkit.render.frr import render_frr
from sdnkit.render.frr_text import check_frr_lines, custom_lines


def evpn(rt: str, custom: tuple[str, ...] = ()) -> FrrConfig:
    family = EvpnFamily(rt_import=(rt,), custom=custom)
    router = BgpRouter(asn=65000, router_id="10.0.0.1", l2vpn_evpn=family)
    return FrrConfig(hostname="n1", bgp_routers=(router,))


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("65000:1 ! rest", "'!', which FRR reads as the start of a comment"),
        ("65000:1#x", "'#', which FRR reads"),
        ("65000:1\nrouter bgp 1", "LINE FEED cannot be written"),
        ("65000:1\u2028router bgp 1", "LINE SEPARATOR cannot be written"),
        ("65000:1\x85x", "NEXT LINE cannot be written"),
        ("65000:\u202e1", "RIGHT-TO-LEFT OVERRIDE cannot be written"),
        ("65000:\u0661", "ARABIC-INDIC DIGIT ONE cannot be written (only printable ASCII)"),
    ],
)
def test_generated_lines_refuse_comment_and_line_characters(value: str, problem: str) -> None:
    with pytest.raises(ConfigError, match="FRR configuration: ") as err:
        render_frr(evpn(value))
    assert problem in str(err.value)
    assert "  route-target import 65000:1" in render_frr(evpn("65000:1"))


def test_lines_from_frr_conf_local_keep_their_own_text() -> None:
    """The operator's lines may hold '!' or other letters; never a line break or a control."""
    text = render_frr(evpn("65000:1", custom=("  description Zürich ! core",)))
    assert "\n  description Zürich ! core\n" in text
    with pytest.raises(ConfigError, match="LINE SEPARATOR"):
        render_frr(evpn("65000:1", custom=("  description a\u2028router bgp 1",)))


def test_custom_lines_are_found_anywhere_in_the_tree() -> None:
    cfg = FrrConfig(
        hostname="n1",
        vrfs=(Vrf(name="vrf_a", custom=(" vni 5 # a",)),),
        isis_routers=(IsisRouter(domain="d", net="49.0001.0000.0000.0001.00", custom=(" x!",)),),
        custom=("ip nht resolve-via-default",),
    )
    assert custom_lines(cfg) == {" vni 5 # a", " x!", "ip nht resolve-via-default"}


def test_separator_lines_pass_and_values_with_blanks_are_the_structural_tests_job() -> None:
    assert check_frr_lines(["!", " !", "router bgp 65000", "exit"]) == ["!", " !", "router bgp 65000", "exit"]
