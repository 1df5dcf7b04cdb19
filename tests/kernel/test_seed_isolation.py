"""Seed: isolation. "Isolate Ports" keeps guests of a vnet on one node apart (they still reach the
gateway, "the bridge itself"); vnets of different zones never reach each other, even with the
same addresses on the same nodes.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def lab(make_lab):
    env = make_lab(nodes=2)
    env.create("zones", zone="iso", type="simple")
    env.create("vnets", vnet="isonet", zone="iso", isolate_ports=1)
    env.create("subnets", vnet="isonet", subnet="10.0.7.0/24", gateway="10.0.7.1")
    peers = "192.0.2.1,192.0.2.2"
    env.create("zones", zone="za", type="vxlan", peers=peers)
    env.create("zones", zone="zb", type="vxlan", peers=peers)
    env.create("vnets", vnet="va", zone="za", tag=1001)
    env.create("vnets", vnet="vb", zone="zb", tag=1002)
    env.apply()
    env.guest("i1", node="node1", vnet="isonet", ip="10.0.7.10/24", gw="10.0.7.1")
    env.guest("i2", node="node1", vnet="isonet", ip="10.0.7.11/24", gw="10.0.7.1")
    env.create("vnets", vnet="opennet", zone="iso")  # the same without isolation: the positive pair
    env.create("subnets", vnet="opennet", subnet="10.0.17.0/24", gateway="10.0.17.1")
    env.apply()
    env.guest("n1", node="node1", vnet="opennet", ip="10.0.17.20/24", gw="10.0.17.1")
    env.guest("n2", node="node1", vnet="opennet", ip="10.0.17.21/24", gw="10.0.17.1")
    for name, node, vnet, ip in (
        ("a1", "node1", "va", "10.0.8.1/24"),
        ("a2", "node2", "va", "10.0.8.2/24"),
        ("b1", "node1", "vb", "10.0.8.3/24"),
        ("b2", "node2", "vb", "10.0.8.4/24"),
    ):
        env.guest(name, node=node, vnet=vnet, ip=ip)
    return env


def test_isolated_ports_reach_the_gateway_but_not_each_other(lab):
    assert lab.ping("i1", "10.0.7.1")
    assert lab.ping("i2", "10.0.7.1")
    assert lab.ping("n1", "10.0.17.21")  # two guests of a vnet without isolation do reach each other
    assert not lab.ping("i1", "10.0.7.11", wait=1)


def test_zones_are_isolated_from_each_other(lab):
    assert lab.ping("a1", "10.0.8.2")  # same zone, across nodes
    assert lab.ping("b1", "10.0.8.4")
    assert not lab.ping("a1", "10.0.8.4", wait=1)  # other zone, other node
    assert not lab.ping("a1", "10.0.8.3", wait=1)  # other zone, same node
