"""VNet firewall files, rules and their nftables rendering (pure: no kernel, no store)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sdnkit.config.fwfile import VnetFirewall, list_digest, object_digest, parse_fw, render_fw
from sdnkit.config.fwrule import FirewallOptions, FirewallRule, check_rule, parse_rule_fields, updated_rule
from sdnkit.config.model import SdnConfig
from sdnkit.config.running import RunningConfig
from sdnkit.errors import ConfigError, InternalError
from sdnkit.plan.desired import IpSet
from sdnkit.plan.vnet_firewall import VnetChain, VnetFirewallPlan, plan_vnet_firewall
from sdnkit.render.nftables_firewall import render_vnet_firewall

# a file as PVE writes it (pve-firewall's rule and option syntax), with a comment line PVE ignores
PVE_FILE = """\
# vnet firewall
[OPTIONS]

enable: 1
log_level_forward: info
policy_forward: DROP

[RULES]

FORWARD ACCEPT -source +sdn/vnet1-all -p tcp -dport 22,80:85 -log warning # admins: ssh & web
|FORWARD Ping(DROP) -dest 10.0.1.0/24
FORWARD DROP -p icmp -icmp-type echo-request
"""


def test_a_pve_file_is_read_and_written_back_the_same():
    fw = parse_fw("vnet1", PVE_FILE)
    assert fw.options == FirewallOptions(enable=True, policy_forward="DROP", log_level_forward="info")
    first, second, third = fw.rules
    assert (first.action, first.source, first.dport, first.log, first.comment, first.enable) == (
        "ACCEPT", "+sdn/vnet1-all", "22,80:85", "warning", "admins: ssh & web", True,
    )  # fmt: skip
    assert (second.macro, second.action, second.enable) == ("Ping", "DROP", False)
    assert third.icmp_type == "echo-request"
    assert render_fw(fw) == PVE_FILE.split("\n", 1)[1] + "\n"  # PVE ends the file with an empty line
    assert parse_fw("vnet1", render_fw(fw)) == fw
    assert render_fw(VnetFirewall()) == ""  # nothing to keep: no file


@pytest.mark.parametrize(
    "line",
    [
        "FORWARD ACCEPT -p tcp -dport",  # a flag without its value
        "FORWARD ACCEPT -bogus 1",
        "IN ACCEPT",  # not a vnet direction
        "FORWARD ACCEPT -source 10.0.0.1;rm",
    ],
)
def test_a_broken_rule_line_names_the_file_and_line(line):
    with pytest.raises(ConfigError, match=r"firewall/vnet1.fw line 3"):
        parse_fw("vnet1", f"[RULES]\n\n{line}\n")


def test_digests_are_pves():
    # copy_opject_with_digest / copy_list_with_digest: sha1 over sorted "key:value\n" lines
    import hashlib

    assert (
        object_digest({"policy_forward": "DROP", "enable": 1})
        == hashlib.sha1(b"enable:1\npolicy_forward:DROP\n").hexdigest()
    )
    rules = [{"type": "forward", "action": "DROP"}, {"action": "ACCEPT", "type": "forward"}]
    assert (
        list_digest(rules)
        == hashlib.sha1(b"action:DROP\ntype:forward\naction:ACCEPT\ntype:forward\n").hexdigest()
    )


def _rule(**fields: str) -> FirewallRule:
    return updated_rule(
        None, {k: v for k, v in parse_rule_fields({"type": "forward", **fields}).items() if v}
    )


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"action": "DROP", "dport": "22"}, "proto"),
        ({"action": "DROP", "proto": "icmp", "dport": "22"}, "dport"),
        ({"action": "DROP", "proto": "tcp", "icmp-type": "echo-request"}, "icmp-type"),
        ({"action": "DROP", "macro": "SSH", "proto": "udp"}, "proto"),
        ({"action": "DROP", "source": "10.0.0.1", "dest": "fe80::1"}, "source"),
        ({"action": "DROP", "proto": "icmpv6", "dest": "10.0.0.1"}, "source"),
    ],
)
def test_whole_rule_checks_name_the_field(fields, key):
    with pytest.raises(ConfigError) as err:
        check_rule(_rule(**fields), "vnet1")
    assert key in err.value.errors


def test_a_good_rule_passes_the_checks():
    assert check_rule(_rule(action="ACCEPT", macro="ssh", source="+sdn/vnet1-all"), "vnet1").macro == "SSH"


def config_of(**kinds: dict[str, dict[str, str]]) -> SdnConfig:
    """A running config as ``.running-config`` holds it (``zones={...}``, ``vnets={...}``)."""
    return RunningConfig.from_json({"version": 1, **{k: {"ids": v} for k, v in kinds.items()}}).config


SETS = {"vnet1-all": IpSet(name="vnet1-all", elements=("10.0.1.0/24", "2001:db8::/64"))}


def _plan(config: SdnConfig, fw: VnetFirewall, node: str = "node1") -> VnetFirewallPlan:
    return plan_vnet_firewall(config, node, {"vnet1": fw, "vnet2": fw}, SETS)


def test_the_plan_keeps_enabled_rules_of_the_nodes_vnets_in_order():
    config = config_of(
        zones={"z1": {"type": "simple", "nodes": "node1"}, "z2": {"type": "simple", "nodes": "node2"}},
        vnets={"vnet1": {"zone": "z1", "type": "vnet"}, "vnet2": {"zone": "z2", "type": "vnet"}},
    )
    fw = parse_fw("vnet1", PVE_FILE)
    plan = _plan(config, fw)
    (chain,) = plan.chains  # vnet2's zone is not on node1
    assert (chain.vnet, chain.policy, chain.policy_log) == ("vnet1", "drop", "info")
    # rule 1 uses an IP set without a family: one rule per family; the disabled Ping rule is left out
    assert [(r.version, r.verdict, r.saddr.set_name if r.saddr else None) for r in chain.rules] == [
        (4, "accept", "vnet1-all-v4"),
        (6, "accept", "vnet1-all-v6"),
        (4, "drop", None),
    ]
    assert chain.rules[0].dports == ((22, 22), (80, 85)) and chain.rules[0].log == "warn"
    assert chain.rules[2].icmp is not None and chain.rules[2].icmp.type == 8
    assert [s.name for s in plan.sets] == ["vnet1-all"]
    assert _plan(config, replace(fw, options=replace(fw.options, enable=False))).chains == ()


def test_macros_expand_and_follow_the_address_family():
    config = config_of(zones={"z1": {"type": "simple"}}, vnets={"vnet1": {"zone": "z1", "type": "vnet"}})
    ping_v4 = VnetFirewall(FirewallOptions(enable=True), (_rule(action="DROP", macro="Ping", enable="1"),))
    rules = _plan(config, ping_v4).chains[0].rules
    assert [(r.version, r.l4proto, r.icmp.type if r.icmp else None) for r in rules] == [
        (4, 1, 8),
        (6, 58, 128),
    ]
    only_v4 = VnetFirewall(
        FirewallOptions(enable=True), (_rule(action="DROP", macro="Ping", dest="10.0.0.0/8", enable="1"),)
    )
    assert [r.version for r in _plan(config, only_v4).chains[0].rules] == [4]


def test_the_table_text():
    config = config_of(zones={"z1": {"type": "simple"}}, vnets={"vnet1": {"zone": "z1", "type": "vnet"}})
    fw = VnetFirewall(
        FirewallOptions(enable=True),
        (_rule(action="REJECT", proto="tcp", dport="443", dest="10.0.0.1,10.0.0.8/29", enable="1"),),
    )
    text = render_vnet_firewall(_plan(config, fw))
    assert 'iifname "vnet1" oifname "vnet1" jump vnet-vnet1' in text
    rule = "meta nfproto ipv4 ip daddr { 10.0.0.1, 10.0.0.8/29 } meta l4proto 6 th dport 443"
    assert f"{rule} reject with tcp reset" in text
    assert text.endswith("\t\taccept\n\t}\n}\n")  # the default policy ends the vnet chain
    assert render_vnet_firewall(VnetFirewallPlan()) == ""


@pytest.mark.parametrize("vnet", ['v1" drop', "v1\n", "v1;flush", "1bad"])
def test_the_renderer_refuses_names_that_could_inject(vnet):
    chain = VnetChain(vnet=vnet, bridge=vnet, rules=(), policy="accept")
    with pytest.raises(InternalError):
        render_vnet_firewall(VnetFirewallPlan(chains=(chain,)))
