"""Seed: "VXLAN Setup Example" on three lab nodes, through the real CLI path.

Seed: a VXLAN zone with all node IPs as peers and "the default MTU of 1450"; vnet ``vxvnet1`` with
tag 100000; vm1 on node1 (10.0.3.100/24, mtu 1450) and vm2 on node3 (10.0.3.101/24, mtu 1450)
ping each other. The seed's 192.168.0.x node addresses are the lab's 192.0.2.x, and its zone ID
"myvxlanzone" is shortened to PVE's 8-character limit.

The MTU arithmetic: a 1422-byte ICMP payload + 8 (ICMP) + 20 (IP) = 1450 bytes fits, 1423 does not.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def lab(make_lab):
    env = make_lab(nodes=3)
    env.create("zones", zone="myvxzone", type="vxlan", peers="192.0.2.1,192.0.2.2,192.0.2.3")
    env.create("vnets", vnet="vxvnet1", zone="myvxzone", tag=100000)
    env.apply()
    env.guest("vm1", node="node1", vnet="vxvnet1", ip="10.0.3.100/24", mtu=1450)
    env.guest("vm2", node="node3", vnet="vxvnet1", ip="10.0.3.101/24", mtu=1450)
    return env


def test_vnet_is_a_1450_bridge_over_vni_100000_on_every_node(lab):
    for node in ("node1", "node2", "node3"):
        links = lab.links(node)
        assert links["vxvnet1"]["mtu"] == 1450
        vxlan = [lk for lk in links.values() if lk.get("master") == "vxvnet1" and
                 lk.get("linkinfo", {}).get("info_kind") == "vxlan"]  # fmt: skip
        assert [v["linkinfo"]["info_data"]["id"] for v in vxlan] == [100000]


def test_guests_on_node1_and_node3_ping(lab):
    assert lab.ping("vm1", "10.0.3.101")
    assert lab.ping("vm2", "10.0.3.100")


def test_1422_bytes_dont_fragment_pass_and_1423_fail(lab):
    assert lab.ping("vm1", "10.0.3.101", size=1422, df=True)
    assert not lab.ping("vm1", "10.0.3.101", size=1423, df=True, wait=1)
