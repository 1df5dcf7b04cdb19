"""The planner's orchestration: contributors, per-vnet failures, safety checks, link merging."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # plan_support.py beside the tests

import pytest
from plan_support import config, facts, plan

from sdnkit.plan import planner
from sdnkit.plan.context import PlanContext
from sdnkit.plan.desired import Existing, IpSet, LinkRole, NodePlan
from sdnkit.plan.links import merge_links


def test_a_contributor_is_one_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, ...]] = []

    def ipsets(ctx: PlanContext, so_far: NodePlan) -> NodePlan:
        seen.append(tuple(link.name for link in so_far.links))  # later parts read earlier ones
        return replace(so_far, ipsets=(IpSet(name=f"{ctx.node}-all"),))

    monkeypatch.setattr(planner, "CONTRIBUTORS", (*planner.CONTRIBUTORS, ipsets))
    result = plan(config(zones={"z1": {"type": "simple"}}, vnets={"v1": {"type": "vnet", "zone": "z1"}}))
    assert result.ipsets == (IpSet(name="n1-all"),)
    assert seen == [("v1",)]


def test_plan_carries_node_and_version_and_no_frr_without_controllers() -> None:
    result = plan(config(version=9, zones={"z1": {"type": "simple"}}))
    assert (result.node, result.version, result.frr, result.frr_daemons, result.dhcp) == (
        "n1",
        9,
        None,
        (),
        (),
    )


def test_vnet_of_a_missing_zone_is_skipped_with_a_warning() -> None:
    result = plan(config(vnets={"v1": {"type": "vnet", "zone": "gone"}}))
    assert result.links == () and result.warnings == ('vnet "v1": zone "gone" does not exist',)


def test_a_vnet_may_not_take_over_a_node_interface() -> None:
    """A vnet named like one of the node's own interfaces would replace it: refused."""
    cfg = config(
        zones={"z1": {"type": "simple"}},
        vnets={"eth0": {"type": "vnet", "zone": "z1"}, "ok1": {"type": "vnet", "zone": "z1"}},
    )
    result = plan(cfg, facts(bridge_ports={"vmbr0": ["eth0"]}))
    assert [x.name for x in result.links] == ["ok1"]
    assert result.warnings == (
        'zone "z1": vnet "eth0": interface "eth0" already exists on the node and is not ours',
    )


def test_a_vlan_device_the_node_has_is_used_not_owned() -> None:
    node = (
        "auto vmbr0\niface vmbr0 inet manual\n\tbridge-ports eth0\n\nauto eth0.5\niface eth0.5 inet manual\n"
    )
    cfg = config(
        zones={"z1": {"type": "vlan", "bridge": "vmbr0"}},
        vnets={"v1": {"type": "vnet", "zone": "z1", "tag": 5}},
    )
    result = plan(cfg, facts(node))
    assert result.link("eth0.5") == Existing(name="eth0.5", role=LinkRole.UPLINK)
    assert not result.link("eth0.5").owned  # type: ignore[union-attr]


def test_first_definition_wins_and_existing_links_merge() -> None:
    merged = merge_links(
        [
            Existing(name="vmbr0", ovs_ports=("sv_a",)),
            Existing(name="vmbr0", ovs_ports=("ln_x",), ovs_port_lines=(("ln_x",),)),
            Existing(name="vmbr0", ovs_ports=("sv_b", "sv_a"), vlan_protocol="802.1ad"),
            Existing(name="vmbr0", vlan_protocol="802.1q"),
        ]
    )
    assert merged == (
        Existing(
            name="vmbr0",
            ovs_ports=("sv_a", "ln_x", "sv_b"),
            ovs_port_lines=(("sv_a", "sv_b"), ("ln_x",)),
            vlan_protocol="802.1ad",
        ),
    )
