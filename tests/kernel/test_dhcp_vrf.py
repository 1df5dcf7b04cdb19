"""DHCP on EVPN-style vnets whose bridges are enslaved to a VRF (needs VRF: runs inside UML).

dnsmasq binds its DHCP socket to the one interface when an instance has one vnet; with several
it stays unbound, and an unbound socket outside a VRF never sees requests arriving on the VRF's
bridges. The instance then runs under ``ip vrf exec``; both guests must get their address.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import subprocess

import pytest

from sdnkit.dhcp.base import DhcpPaths, DhcpSettings
from sdnkit.plan.desired import DhcpHost, DhcpInstance, DhcpSubnet
from sdnkit.realize.dhcp import DhcpAction, apply_dhcp

pytestmark = [
    pytest.mark.uml,
    pytest.mark.needs("root", "dnsmasq", "busybox", "kernel:vrf"),
]

_COUNTER = itertools.count()
HOOK = """#!/bin/sh
case "$1" in bound|renew) echo "$ip" > "$LEASE_OUT" ;; esac
exit 0
"""


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True)


@pytest.fixture
def vrf_node(tmp_path):
    tag = f"dv{os.getpid() % 10000}x{next(_COUNTER)}"
    node, guests = f"{tag}n", [f"{tag}g1", f"{tag}g2"]
    made = []
    try:
        for ns in (node, *guests):
            sh("ip", "netns", "add", ns)
            made.append(ns)
        lines = ["link add vrfvx_ev type vrf table 100", "link set vrfvx_ev up"]
        for i, guest in enumerate(guests, 1):
            lines += [
                f"link add ev{i} type bridge",
                f"link set ev{i} master vrfvx_ev",
                f"addr add 10.8.{i}.1/24 dev ev{i}",
                f"link set ev{i} up",
                f"link add p{i} type veth peer name eth0 netns {guest}",
                f"link set p{i} master ev{i} up",
            ]
        subprocess.run(["ip", "-n", node, "-batch", "-"], input="\n".join(lines), text=True, check=True)
        for i, guest in enumerate(guests, 1):
            sh("ip", "-n", guest, "link", "set", "eth0", "address", f"bc:24:11:00:08:0{i}", "up")
        (tmp_path / "hook.sh").write_text(HOOK)
        (tmp_path / "hook.sh").chmod(0o755)
        yield node, guests, tmp_path
    finally:
        apply_dhcp([], DhcpSettings(paths=DhcpPaths.under(tmp_path / "dhcp"), netns=node))
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], check=False)


def test_one_server_serves_every_vnet_of_a_vrf_zone(vrf_node):
    node, guests, tmp = vrf_node
    ip = ipaddress.ip_address
    subnets = tuple(
        DhcpSubnet(subnet=f"ev-10.8.{i}.0-24", vnet=f"ev{i}", network=ipaddress.ip_network(f"10.8.{i}.0/24"),
                   gateway=ip(f"10.8.{i}.1"))
        for i in (1, 2)
    )  # fmt: skip
    hosts = tuple(DhcpHost(mac=f"bc:24:11:00:08:0{i}", ips=(ip(f"10.8.{i}.50"),)) for i in (1, 2))
    inst = DhcpInstance(
        zone="ev", mtu=1450, subnets=subnets, hosts=hosts, shared_segment=True, vrf="vrfvx_ev"
    )
    settings = DhcpSettings(paths=DhcpPaths.under(tmp / "dhcp"), netns=node)
    assert [c.action for c in apply_dhcp([inst], settings)] == [DhcpAction.START]
    for i, guest in enumerate(guests, 1):
        out = tmp / f"lease{i}"
        argv = ["ip", "netns", "exec", guest, "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f"]
        argv += ["-t", "5", "-T", "1", "-s", str(tmp / "hook.sh")]
        subprocess.run(
            argv, env={**os.environ, "LEASE_OUT": str(out)}, capture_output=True, timeout=60, check=False
        )
        assert out.exists(), f"guest {i} got no lease"
        assert out.read_text().strip() == f"10.8.{i}.50"
