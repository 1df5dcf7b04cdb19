"""Firewall IP sets in a real nftables table: rules using them match exactly as the seed describes.

A "firewall" namespace holds the sets (from the seed's vnet0 example) and one rule per family
that drops echo requests from ``@vnet0-no-gateway``. A peer namespace owns both the gateway and a
guest address: pings from the guest address are dropped and counted, pings from the gateway
address pass.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import subprocess

import pytest

from sdnkit.config.running import RunningConfig
from sdnkit.ipam.base import Allocation, IpEntry
from sdnkit.plan.firewall import plan_ipsets
from sdnkit.realize.ipsets import apply_ipsets, read_sets
from sdnkit.render.nftables_sets import TABLE

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.needs("root", "nft"),
]

_COUNTER = itertools.count()


def sh(*argv: str, stdin: str | None = None) -> str:
    return subprocess.run(argv, input=stdin, check=True, capture_output=True, text=True).stdout


def config(gw4: str = "192.0.2.1", gw6: str = "2001:db8::1") -> RunningConfig:
    """The seed's "Simple Zone Example"."""
    return RunningConfig.from_json(
        {
            "version": 1,
            "zones": {"ids": {"simple": {"type": "simple"}}},
            "vnets": {"ids": {"vnet0": {"type": "vnet", "zone": "simple"}}},
            "subnets": {
                "ids": {
                    "simple-192.0.2.0-24": {
                        "type": "subnet",
                        "vnet": "vnet0",
                        "gateway": gw4,
                        "dhcp-range": ["start-address=192.0.2.100,end-address=192.0.2.199"],
                    },
                    "simple-2001:db8::-64": {
                        "type": "subnet",
                        "vnet": "vnet0",
                        "gateway": gw6,
                        "dhcp-range": ["start-address=2001:db8::1000,end-address=2001:db8::1999"],
                    },
                }
            },
        }
    )


CONFIG = config().config


def Entry(zone: str, ip, mac: str | None, vmid: str | None = None, gateway: bool = False) -> Allocation:
    """An IPAM allocation in whichever subnet of the test config holds ``ip``."""
    subnet = next(s for s in CONFIG.subnets.values() if ip in s.network)
    assert subnet.zone == zone
    return Allocation(subnet, ip, IpEntry(gateway=True) if gateway else IpEntry(mac=mac, vmid=vmid))


RULES = f"""
table inet {TABLE} {{
    chain input {{
        type filter hook input priority 0; policy accept;
        ip saddr @guest-ipam-100-v4 counter
        ip saddr @vnet0-no-gateway-v4 icmp type echo-request counter drop
        ip6 saddr @vnet0-no-gateway-v6 icmpv6 type echo-request counter drop
    }}
}}
"""


@pytest.fixture
def netns():
    tag = f"fw{os.getpid() % 10000}x{next(_COUNTER)}"
    fw, peer = f"{tag}f", f"{tag}p"
    made = []
    try:
        for ns in (fw, peer):
            sh("ip", "netns", "add", ns)
            made.append(ns)
        sh("ip", "-n", fw, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", peer)
        for ns, addrs in ((fw, ["192.0.2.50"]), (peer, ["192.0.2.1", "192.0.2.10"])):
            for a in addrs:
                sh("ip", "-n", ns, "addr", "add", f"{a}/24", "dev", "eth0")
        for ns, addrs in ((fw, ["2001:db8::50"]), (peer, ["2001:db8::1", "2001:db8::10"])):
            for a in addrs:
                sh("ip", "-n", ns, "addr", "add", f"{a}/64", "dev", "eth0", "nodad")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
        yield fw, peer
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], check=False)


def ping(peer: str, src: str, dst: str) -> bool:
    proc = subprocess.run(
        ["ip", "netns", "exec", peer, "ping", "-c1", "-W1", "-I", src, dst], capture_output=True, check=False
    )
    return proc.returncode == 0


def counters(fw: str) -> list[int]:
    text = sh("ip", "netns", "exec", fw, "nft", "list", "chain", "inet", TABLE, "input")
    return [int(line.split("packets ")[1].split()[0]) for line in text.splitlines() if "packets" in line]


GUEST = [Entry("simple", ipaddress.ip_address("192.0.2.10"), "bc:24:11:00:00:10", "100")]


def sets_and_rules(fw: str):
    """The seed's sets for one guest, and the operator's rules that use them."""
    result = apply_ipsets(plan_ipsets(config().config, GUEST), netns=fw)
    sh("ip", "netns", "exec", fw, "nft", "-f", "-", stdin=RULES)
    return result


def test_no_gateway_set_matches_guests_but_not_the_gateway(netns):
    fw, peer = netns
    result = sets_and_rules(fw)
    assert "vnet0-no-gateway-v4" in result.created and "guest-ipam-100-v4" in result.created
    sets = read_sets(fw)
    # the seed's example, element by element
    assert sets["vnet0-no-gateway-v4"].intervals == (
        (int(ipaddress.ip_address("192.0.2.0")),) * 2,
        (int(ipaddress.ip_address("192.0.2.2")), int(ipaddress.ip_address("192.0.2.255"))),
    )
    assert ping(peer, "192.0.2.1", "192.0.2.50")  # from the gateway: not in the set
    assert not ping(peer, "192.0.2.10", "192.0.2.50")  # from a guest address: dropped
    assert ping(peer, "2001:db8::1", "2001:db8::50")
    assert not ping(peer, "2001:db8::10", "2001:db8::50")
    guest, drop4, drop6 = counters(fw)
    assert (drop4, drop6) == (1, 1)
    assert guest >= 1  # the guest's set holds its IPAM address


def test_sets_follow_subnet_changes_and_a_second_apply_changes_nothing(netns):
    fw, peer = netns
    sets_and_rules(fw)
    assert ping(peer, "192.0.2.1", "192.0.2.50") and not ping(peer, "192.0.2.10", "192.0.2.50")
    plan = plan_ipsets(config(gw4="192.0.2.10", gw6="2001:db8::10").config, GUEST)
    result = apply_ipsets(plan, netns=fw)
    assert set(result.updated) == {
        "vnet0-gateway-v4",
        "vnet0-gateway-v6",
        "vnet0-no-gateway-v4",
        "vnet0-no-gateway-v6",
    }
    assert not result.created and not result.deleted
    # the gateway moved: now .10 passes and .1 is dropped; the operator's rules were kept
    assert ping(peer, "192.0.2.10", "192.0.2.50")
    assert not ping(peer, "192.0.2.1", "192.0.2.50")
    assert ping(peer, "2001:db8::10", "2001:db8::50")
    assert not ping(peer, "2001:db8::1", "2001:db8::50")
    assert not apply_ipsets(plan, netns=fw).changed


def test_removed_guest_set_is_emptied_while_a_rule_uses_it_and_deleted_after(netns):
    fw, _peer = netns
    sets_and_rules(fw)  # the input chain refers to guest-ipam-100-v4
    entries = [
        Entry("simple", ipaddress.ip_address("192.0.2.10"), "m", "100"),
        Entry("simple", ipaddress.ip_address("2001:db8::77"), "n", "101"),
    ]
    apply_ipsets(plan_ipsets(config().config, entries), netns=fw)
    assert read_sets(fw)["guest-ipam-101-v6"].intervals
    result = apply_ipsets(plan_ipsets(config().config, []), netns=fw)
    assert result.deleted == ("guest-ipam-100-v6", "guest-ipam-101-v4", "guest-ipam-101-v6")
    assert result.emptied == ("guest-ipam-100-v4",)  # the input chain still refers to it
    assert result.warnings
    sets = read_sets(fw)
    assert sets["guest-ipam-100-v4"].intervals == () and "guest-ipam-101-v6" not in sets
    sh("ip", "netns", "exec", fw, "nft", "delete", "chain", "inet", TABLE, "input")
    result = apply_ipsets(plan_ipsets(config().config, []), netns=fw)
    assert "guest-ipam-100-v4" in result.deleted
