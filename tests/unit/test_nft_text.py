"""nftables and iptables-restore texts refuse values that would add statements or arguments.

Values are put straight into plan objects (as a bug in validation would let them through). An
IPv6 zone ID is free text to Python's ``ipaddress``, which is what makes these reachable.
"""

from __future__ import annotations

import ipaddress
import shlex

import pytest

from sdnkit.errors import ConfigError, RealizeError
from sdnkit.plan.desired import IpSet, SnatRule
from sdnkit.realize.iptables import IptablesLegacyNat
from sdnkit.realize.nftables import NftablesNat
from sdnkit.render.nftables_sets import render_ipsets


def rule(
    to_source: str = "2001:db8::1", out_iface: str = "vmbr0", source: str = "2001:db8:1::/64"
) -> SnatRule:
    return SnatRule(
        vnet="vnet1",
        subnet="z1-2001:db8:1::-64",
        source=ipaddress.ip_network(source),
        out_iface=out_iface,
        to_source=ipaddress.ip_address(to_source),
    )


INJECTIONS = ["fe80::1%x; flush ruleset", "fe80::1%x -j ACCEPT", 'fe80::1%x"', "fe80::1%eth0"]


@pytest.mark.parametrize("to_source", INJECTIONS)
def test_nat_rules_refuse_zone_ids(to_source: str) -> None:
    with pytest.raises(ConfigError, match=r'subnet "z1-2001:db8:1::-64": option "snat": .* nftables ruleset'):
        NftablesNat().render([rule(to_source)])
    with pytest.raises(RealizeError, match="cannot be one argument of an iptables rule"):
        IptablesLegacyNat().render([rule(to_source)])


def test_nat_rules_are_one_statement_and_one_argument_per_value() -> None:
    table = NftablesNat().render([rule()])
    statements = [line.strip() for line in table.splitlines() if " snat " in line]
    comment = 'comment "subnet z1-2001:db8:1::-64"'
    assert statements == [f'ip6 saddr 2001:db8:1::/64 oifname "vmbr0" snat ip6 to 2001:db8::1 {comment}']
    lines = [line for line in IptablesLegacyNat().render([rule()]).splitlines() if "SNAT" in line]
    assert [shlex.split(line) for line in lines] == [
        [
            "-A",
            "SDNKIT-POSTROUTING",
            "-s",
            "2001:db8:1::/64",
            "-o",
            "vmbr0",
            "-j",
            "SNAT",
            "--to-source",
            "2001:db8::1",
        ]
    ]


def test_a_source_network_with_a_zone_id_is_refused() -> None:
    with pytest.raises(ConfigError, match="zone ID"):
        NftablesNat().render([rule(source="fe80::%1/64", to_source="fe80::1")])


@pytest.mark.parametrize(
    ("ipset", "problem"),
    [
        (IpSet(name="v1 { }", comment="x"), 'option "name"'),
        (IpSet(name="v1", comment='a" ; flush ruleset ; "'), 'option "comment"'),
        (IpSet(name="v1", comment="back\\slash"), 'option "comment"'),
        (IpSet(name="v1", comment="line\nbreak"), 'option "comment"'),
    ],
)
def test_ipsets_refuse_names_and_comments_nft_would_read_specially(ipset: IpSet, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        render_ipsets((ipset,))


def test_ipset_comments_keep_their_text() -> None:
    text = render_ipsets(
        (IpSet(name="v1-all", comment="All subnets of VNet v1 (#1; ok)", elements=("10.0.0.0/24",)),)
    )
    assert '\t\tcomment "All subnets of VNet v1 (#1; ok)"\n' in text
