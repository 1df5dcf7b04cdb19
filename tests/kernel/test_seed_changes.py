"""Incremental apply on live nodes: a deleted vnet takes exactly its own objects along, and an
unrelated change leaves existing bridges alone (same ifindex, guests keep talking).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.kernel

PEERS = "192.0.2.1,192.0.2.2"


@pytest.fixture
def lab(new_lab):
    """Every test changes the configuration: a lab of its own."""
    env = new_lab(nodes=2)
    env.create("zones", zone="vxz", type="vxlan", peers=PEERS)
    env.create("vnets", vnet="vx1", zone="vxz", tag=2001)
    env.create("vnets", vnet="vx2", zone="vxz", tag=2002)
    env.apply()
    env.guest("g1", node="node1", vnet="vx1", ip="10.0.9.1/24")
    env.guest("g2", node="node2", vnet="vx1", ip="10.0.9.2/24")
    return env


def ifindexes(lab, node):
    return {name: link["ifindex"] for name, link in lab.links(node).items()}


def test_unrelated_change_leaves_existing_bridges_untouched(lab):
    before = ifindexes(lab, "node1")
    lab.create("vnets", vnet="vx3", zone="vxz", tag=2003)
    results = lab.apply()
    after = ifindexes(lab, "node1")
    assert {k: after[k] for k in before} == before  # nothing re-created, nothing removed
    assert {"vx3", "vxlan_vx3"} <= set(after)
    assert all(r["changes"] for r in results)  # the new vnet was added...
    assert lab.ping("g1", "10.0.9.2")  # ...and the existing one kept working


def test_deleting_a_vnet_removes_exactly_its_objects(lab):
    before = ifindexes(lab, "node1")
    assert {"vx2", "vxlan_vx2"} <= set(before)
    lab.delete("vnets", vnet="vx2")
    lab.apply()
    after = ifindexes(lab, "node1")
    assert after == {k: v for k, v in before.items() if k not in ("vx2", "vxlan_vx2")}
    assert lab.ping("g1", "10.0.9.2")


def test_a_second_apply_changes_nothing(lab):
    lab.create("vnets", vnet="vx4", zone="vxz", tag=2004)
    assert all(r["changes"] for r in lab.apply())  # the first apply of a change does change
    results = lab.apply()
    assert [r["changes"] for r in results] == [0, 0]
