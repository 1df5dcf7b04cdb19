"""Seed: "Simple Zone Example" and "Source NAT Example", in a real lab, through the real CLI path.

Seed: a simple zone ``simple``, vnet ``vnet1``, a subnet with a gateway and SNAT; two VMs on the
same host with 10.0.1.14/24 and 10.0.1.15/24 communicate. SNAT: a subnet 172.16.0.0/24 with
gateway 172.16.0.1 and SNAT on vnet1; "the node itself will join this network with the gateway IP
and function as the NAT gateway for guests". The lab's ``outside`` host (192.0.2.254) has no route
to guest subnets, so only SNAT makes its replies come back; an nft counter in ``outside`` shows
which source address it saw.
"""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.kernel, pytest.mark.needs("root", "nft")]

OUTSIDE = "192.0.2.254"
NODE1 = "192.0.2.1"

# counts echo requests reaching `outside` from node1's underlay address
COUNTER = f"""
table inet seen {{
    chain input {{
        type filter hook input priority 0; policy accept;
        ip saddr {NODE1} icmp type echo-request counter name from_node
        ip saddr 172.16.0.0/16 icmp type echo-request counter name from_guest
    }}
    counter from_node {{ }}
    counter from_guest {{ }}
}}
"""


def simple_zone(env):
    env.create("zones", zone="simple", type="simple")
    env.create("vnets", vnet="vnet1", zone="simple")
    env.create("subnets", vnet="vnet1", subnet="10.0.1.0/24", gateway="10.0.1.1", snat=1)
    env.apply()
    env.guest("vm1", node="node1", vnet="vnet1", ip="10.0.1.14/24", gw="10.0.1.1")
    env.guest("vm2", node="node1", vnet="vnet1", ip="10.0.1.15/24", gw="10.0.1.1")
    return env


@pytest.fixture(scope="module")
def lab(make_lab):
    """The seed's simple zone, shared by the tests that only read it."""
    return simple_zone(make_lab(nodes=2))


@pytest.fixture
def snat_lab(new_lab):
    """The simple zone plus the seed's SNAT subnet with a guest, and the counters in ``outside``."""
    env = simple_zone(new_lab(nodes=2))
    env.create("subnets", vnet="vnet1", subnet="172.16.0.0/24", gateway="172.16.0.1", snat=1)
    env.apply()
    env.guest("vm4", node="node1", vnet="vnet1", ip="172.16.0.10/24", gw="172.16.0.1")
    env.run("outside", "nft", "-f", "-", input=COUNTER)
    return env


def counters(env):
    out = json.loads(env.run("outside", "nft", "-j", "list", "counters", "table", "inet", "seen").stdout)
    return {c["counter"]["name"]: c["counter"]["packets"] for c in out["nftables"] if "counter" in c}


def test_two_guests_on_one_node_reach_each_other_and_the_gateway(lab):
    assert lab.ping("vm1", "10.0.1.15")
    assert lab.ping("vm2", "10.0.1.14")
    assert lab.ping("vm1", "10.0.1.1")


def test_simple_zone_is_local_to_the_node(new_lab):
    lab = simple_zone(new_lab(nodes=2))
    lab.guest("vm3", node="node2", vnet="vnet1", ip="10.0.1.16/24", gw="10.0.1.1")
    assert lab.ping("vm3", "10.0.1.1")  # node2's own gateway
    assert lab.ping("vm1", "10.0.1.1")  # and node1's guests reach node1's
    assert not lab.ping("vm3", "10.0.1.14", wait=1)  # "cannot be reached on other nodes"


def test_snat_subnet_reaches_outside_with_the_node_address(snat_lab):
    assert snat_lab.ping("vm4", "172.16.0.1")
    assert snat_lab.ping("vm4", OUTSIDE)
    seen = counters(snat_lab)
    assert seen["from_node"] >= 1 and seen["from_guest"] == 0  # outside saw node1's address only


def test_snat_off_applied_incrementally_cuts_outside(snat_lab):
    lab = snat_lab
    assert lab.ping("vm4", OUTSIDE)  # with SNAT: the path works
    before = lab.links("node1")["vnet1"]["ifindex"]
    lab.update("subnets", vnet="vnet1", subnet="simple-172.16.0.0-24", snat=0)
    lab.apply()
    assert lab.ping("vm4", "172.16.0.1")  # the vnet still works
    assert not lab.ping("vm4", OUTSIDE, wait=1)  # but outside's replies have no way back
    assert lab.links("node1")["vnet1"]["ifindex"] == before  # changed in place, not re-created
