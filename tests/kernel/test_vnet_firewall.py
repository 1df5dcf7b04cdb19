"""The VNet firewall, for real: long-running agents, guests in a lab, ping and TCP, no SDN apply.

Two guests share a vnet on one node (and one on another node, over VXLAN). A DROP rule for ICMP,
written with ``sdn pvesh`` as PVE's documentation writes it, stops their pings and lets a TCP
connection through; disabling the rule brings the pings back. The running version never moves:
the agents take the firewall file up by themselves.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest

pytestmark = pytest.mark.kernel

VNET = "fwnet"
SUBNET = "10.61.0.0/24"
WAIT = 20.0  # seconds the agents get to take a change up (they poll every second)


@pytest.fixture(scope="module")
def lab(make_lab):
    env = make_lab(nodes=2)
    env.create("zones", zone="fwz", type="vxlan", peers="192.0.2.1,192.0.2.2")
    env.create("vnets", vnet=VNET, zone="fwz", tag=61000)
    env.create("subnets", vnet=VNET, subnet=SUBNET, gateway="10.61.0.1")
    env.apply()
    env.guest("fwvm1", node="node1", vnet=VNET, ip="10.61.0.11/24")
    env.guest("fwvm2", node="node1", vnet=VNET, ip="10.61.0.12/24")
    env.guest("fwvm3", node="node2", vnet=VNET, ip="10.61.0.13/24")
    return env


@pytest.fixture(scope="module")
def agents(lab) -> Iterator[None]:
    assert lab.lab("agents", "start")[0] == 0
    try:
        yield
    finally:
        rc, out = lab.sdn("--output", "json", "lab", "agents", "stop", "--name", lab.name)
        assert rc == 0 and json.loads(out) == []


def pvesh(lab, method: str, path: str, *options: str) -> str:
    rc, out = lab.sdn("pvesh", method, path, *options, "--output-format", "json")
    assert rc == 0, out
    return out


def eventually(check: Callable[[], bool]) -> bool:
    """Whether ``check`` holds within WAIT seconds (polled; the agents pick changes up on their own)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.3)
    return check()


def tcp_works(lab, client: str, server: str, address: str, port: int) -> bool:
    """A real TCP connection: ``server`` answers one line, ``client`` must read it."""
    argv = ["ip", "netns", "exec", lab.netns(server), "busybox", "nc", "-l", "-p", str(port)]
    listener = subprocess.Popen(
        [*argv, "-e", "echo", "tcp-ok"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(20):  # until the listener is up
            got = lab.run(client, "timeout", "3", "busybox", "nc", address, str(port), check=False, input="")
            if "tcp-ok" in got.stdout:
                return True
            time.sleep(0.2)
        return False
    finally:
        listener.kill()
        listener.wait()


def running_version(lab) -> int:
    return json.loads(lab.config_dir.joinpath(".running-config").read_text())["version"]


def test_a_drop_rule_for_icmp_stops_pings_lets_tcp_through_and_disabling_it_restores_pings(lab, agents):
    assert lab.ping("fwvm1", "10.61.0.12") and lab.ping("fwvm1", "10.61.0.13")  # the path works
    version = running_version(lab)

    pvesh(lab, "set", f"/cluster/sdn/vnets/{VNET}/firewall/options", "-enable", "1")
    pvesh(lab, "create", f"/cluster/sdn/vnets/{VNET}/firewall/rules",
          "-type", "forward", "-action", "DROP", "-proto", "icmp", "-enable", "1")  # fmt: skip

    assert eventually(lambda: not lab.ping("fwvm1", "10.61.0.12", wait=1))
    assert not lab.ping("fwvm2", "10.61.0.11") and not lab.ping("fwvm1", "10.61.0.13")  # across nodes too
    assert tcp_works(lab, "fwvm1", "fwvm2", "10.61.0.12", 5001)
    assert tcp_works(lab, "fwvm3", "fwvm1", "10.61.0.11", 5002)

    rule = json.loads(pvesh(lab, "get", f"/cluster/sdn/vnets/{VNET}/firewall/rules/0"))
    pvesh(
        lab, "set", f"/cluster/sdn/vnets/{VNET}/firewall/rules/0", "-enable", "0", "-digest", rule["digest"]
    )

    assert eventually(lambda: lab.ping("fwvm1", "10.61.0.12", wait=1))
    assert lab.ping("fwvm2", "10.61.0.11") and lab.ping("fwvm1", "10.61.0.13")
    assert running_version(lab) == version  # no SDN apply was needed


def test_the_table_is_one_of_ours_and_goes_away_with_the_firewall(lab, agents):
    pvesh(lab, "set", f"/cluster/sdn/vnets/{VNET}/firewall/options", "-enable", "1")
    listed = lambda: lab.run("node1", "nft", "list", "table", "inet", "sdnkit-vnetfw", check=False)  # noqa: E731
    assert eventually(lambda: listed().returncode == 0)
    assert f'iifname "{VNET}" oifname "{VNET}" jump vnet-{VNET}' in listed().stdout
    assert lab.run("node1", "sysctl", "-n", "net.bridge.bridge-nf-call-iptables").stdout.strip() == "1"

    pvesh(lab, "set", f"/cluster/sdn/vnets/{VNET}/firewall/options", "-enable", "0")
    assert eventually(lambda: listed().returncode != 0)
    assert lab.ping("fwvm1", "10.61.0.12")


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"clfw{os.getpid() % 100000}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def test_the_table_loads_once_and_again_only_when_changed_or_touched(netns, tmp_path):
    from sdnkit.plan.vnet_firewall import FilterRule, VnetChain, VnetFirewallPlan
    from sdnkit.realize.vnet_firewall import apply_vnet_firewall
    from sdnkit.render.nftables_firewall import render_vnet_firewall

    drop = FilterRule(version=4, l4proto=1, verdict="drop")
    text = render_vnet_firewall(
        VnetFirewallPlan((VnetChain(vnet="v1", bridge="v1", rules=(drop,), policy="accept"),))
    )
    listed = lambda: subprocess.run(  # noqa: E731
        ["ip", "netns", "exec", netns, "nft", "list", "table", "inet", "sdnkit-vnetfw"],
        capture_output=True,
        check=False,
        text=True,
    )
    assert apply_vnet_firewall(text, netns=netns, state_dir=tmp_path).changed
    assert "meta l4proto icmp drop" in listed().stdout
    assert not apply_vnet_firewall(text, netns=netns, state_dir=tmp_path).changed  # the same: nothing runs
    subprocess.run(
        ["ip", "netns", "exec", netns, "nft", "flush", "chain", "inet", "sdnkit-vnetfw", "vnet-v1"],
        check=True,
    )
    assert apply_vnet_firewall(text, netns=netns, state_dir=tmp_path).changed  # touched by hand: loaded again
    assert "meta l4proto icmp drop" in listed().stdout
    assert apply_vnet_firewall("", netns=netns, state_dir=tmp_path).changed
    assert listed().returncode != 0
    assert not apply_vnet_firewall("", netns=netns, state_dir=tmp_path).changed
