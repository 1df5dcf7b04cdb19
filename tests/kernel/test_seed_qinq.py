"""Seed: "QinQ Setup Example", in a real lab (inside UML where this kernel has no 802.1ad devices
or VLAN filtering).

Seed: two QinQ zones on vmbr0 with service VLANs 20 and 30, a vnet with VLAN 100 in each; vm1 and
vm2 on the first vnet, vm3 and vm4 on the second, addresses 10.0.3.101-104/24: vm1-vm2 and vm3-vm4
ping, but neither vm1 nor vm2 reaches vm3 or vm4. IDs are shortened to PVE's 8-character limit;
the guests sit on two nodes so that the double tags cross the underlay.
"""

from __future__ import annotations

import pytest

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.uml,
    pytest.mark.needs("root", "kernel:qinq", "kernel:vlan_filtering"),
]


@pytest.fixture(scope="module")
def lab(make_lab):
    env = make_lab(nodes=2)
    env.create("zones", zone="qinqz1", type="qinq", bridge="vmbr0", tag=20)
    env.create("zones", zone="qinqz2", type="qinq", bridge="vmbr0", tag=30)
    env.create("vnets", vnet="qinqv1", zone="qinqz1", tag=100)
    env.create("vnets", vnet="qinqv2", zone="qinqz2", tag=100)
    env.apply()
    for name, node, vnet, ip in (
        ("vm1", "node1", "qinqv1", "10.0.3.101/24"),
        ("vm2", "node2", "qinqv1", "10.0.3.102/24"),
        ("vm3", "node1", "qinqv2", "10.0.3.103/24"),
        ("vm4", "node2", "qinqv2", "10.0.3.104/24"),
    ):
        env.guest(name, node=node, vnet=vnet, ip=ip)
    return env


def test_same_zone_guests_ping(lab):
    assert lab.ping("vm1", "10.0.3.102")
    assert lab.ping("vm3", "10.0.3.104")


def test_other_zone_guests_cannot(lab):
    assert lab.ping("vm1", "10.0.3.102") and lab.ping("vm3", "10.0.3.104")  # each zone's path works
    assert not lab.ping("vm1", "10.0.3.104", wait=1)  # other node
    assert not lab.ping("vm2", "10.0.3.103", wait=1)
    assert not lab.ping("vm1", "10.0.3.103", wait=1)  # same node
