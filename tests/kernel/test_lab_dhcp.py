"""``sdn lab guest add --dhcp``: a guest port from the IPAM, its address by DHCP from the zone's
dnsmasq that the node agent runs; removing the guest gives the address back."""

from __future__ import annotations

import json
import subprocess

import pytest

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.needs("root", "busybox", "dnsmasq"),
]


@pytest.fixture
def lab(new_lab):
    """Each test plugs, removes or takes down: a lab of its own."""
    env = new_lab(nodes=2)
    env.create("zones", zone="dz", type="simple", ipam="pve", dhcp="dnsmasq")
    env.create("vnets", vnet="dvnet", zone="dz")
    env.create(
        "subnets", vnet="dvnet", subnet="10.0.6.0/24", gateway="10.0.6.1",
        dhcp_range=["start-address=10.0.6.100,end-address=10.0.6.150"],
    )  # fmt: skip
    env.apply()
    return env


def ports(lab):
    rc, out = lab.sdn("--output", "json", "port", "list")
    assert rc == 0
    return json.loads(out)


def dnsmasq_of(lab):
    out = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line.startswith("dnsmasq") and f"/{lab.name}/" in line]


def test_dhcp_guest_gets_an_address_from_the_range_and_reaches_the_gateway(lab):
    lab.guest("d1", node="node1", vnet="dvnet", dhcp=True)
    addr = json.loads(lab.run("d1", "ip", "-j", "-4", "addr", "show", "dev", "eth0").stdout)[0]["addr_info"][
        0
    ]
    assert addr["local"] == "10.0.6.100" and addr["prefixlen"] == 24
    assert lab.ping("d1", "10.0.6.1")
    assert [(p["guest"], p["ips"]) for p in ports(lab)] == [("100", ["10.0.6.100"])]


def test_deleting_the_guest_gives_its_address_back(lab):
    lab.guest("d1", node="node1", vnet="dvnet", dhcp=True)
    assert [p["ips"] for p in ports(lab)] == [["10.0.6.100"]]
    assert lab.lab("guest", "del", "d1")[0] == 0
    assert ports(lab) == []
    lab.guest("d2", node="node1", vnet="dvnet", dhcp=True)
    assert (
        lab.run("d2", "ip", "-4", "-br", "addr", "show", "dev", "eth0").stdout.split()[2] == "10.0.6.100/24"
    )


def test_lab_down_stops_the_nodes_dhcp_servers(lab):
    lab.guest("d1", node="node1", vnet="dvnet", dhcp=True)
    assert dnsmasq_of(lab) and ports(lab)
    assert lab.sdn("lab", "down", "--name", lab.name)[0] == 0
    assert dnsmasq_of(lab) == []
    assert ports(lab) == []  # the guest's port went with the lab
