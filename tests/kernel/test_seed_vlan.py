"""Seed: "VLAN Setup Example", in a real lab (inside UML where this kernel has no 802.1Q devices).

Seed: VLAN zone on bridge vmbr0, vnet ``myvnet1`` with tag 10; vm1 on node1 (10.0.3.100/24) and
vm2 on node2 (10.0.3.101/24) "should be able to ping" each other. The zone ID "myvlanzone" is
shortened to PVE's 8-character limit. Guests on another VLAN of the same bridge stay apart.
"""

from __future__ import annotations

import subprocess

import pytest

pytestmark = [pytest.mark.kernel, pytest.mark.uml, pytest.mark.needs("root", "kernel:vlan", "tcpdump")]


@pytest.fixture(scope="module")
def lab(make_lab):
    env = make_lab(nodes=2)
    env.create("zones", zone="vlanzone", type="vlan", bridge="vmbr0")
    env.create("vnets", vnet="myvnet1", zone="vlanzone", tag=10)
    env.create("vnets", vnet="myvnet2", zone="vlanzone", tag=11)
    env.apply()
    env.guest("vm1", node="node1", vnet="myvnet1", ip="10.0.3.100/24")
    env.guest("vm2", node="node2", vnet="myvnet1", ip="10.0.3.101/24")
    env.guest("vm9", node="node2", vnet="myvnet2", ip="10.0.3.109/24")
    env.guest("vm10", node="node1", vnet="myvnet2", ip="10.0.3.110/24")
    return env


def test_vms_on_two_nodes_ping_over_vlan_10(lab):
    assert lab.ping("vm1", "10.0.3.101")
    assert lab.ping("vm2", "10.0.3.100")


def test_frames_cross_the_underlay_tagged_10(lab):
    argv = ["ip", "netns", "exec", lab.netns("sw"), "timeout", "10", "tcpdump", "-l", "-c", "1", "-nn", "-e",
            "-i", "n1", "vlan 10 and icmp"]  # fmt: skip
    dump = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while "listening on" not in (line := dump.stderr.readline()) and line:
            pass
        assert lab.ping("vm1", "10.0.3.101")
        out, _ = dump.communicate(timeout=15)
    finally:
        dump.kill()
        dump.wait()
    assert "vlan 10" in out  # node1's port on the underlay switch saw 802.1Q tag 10


def test_another_vlan_stays_apart(lab):
    assert lab.ping("vm9", "10.0.3.110")  # VLAN 11 across the nodes works...
    assert lab.ping("vm1", "10.0.3.101")  # ...and so does VLAN 10...
    assert not lab.ping("vm9", "10.0.3.100", wait=1)  # ...but not from one to the other
    assert not lab.ping("vm10", "10.0.3.101", wait=1)
