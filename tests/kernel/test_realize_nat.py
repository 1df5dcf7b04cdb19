"""SNAT realized natively: a guest behind a vnet reaches a host that has no route back, only with SNAT.

Topology (all namespaces of this test): ``node`` (vmbr0 with eth0 and 192.0.2.1/24, forwarding on,
as a PVE host), ``outside`` (192.0.2.254/24, no route to the guest subnet) and ``guest``
(10.0.1.10/24 via 10.0.1.1, plugged into the vnet bridge the plan creates).
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

import iproute_view
from prerequisites import require
from sdnkit.errors import RealizeError
from sdnkit.plan.desired import Bridge, NodePlan, SnatRule
from sdnkit.realize import apply_plan
from sdnkit.realize.iptables import IptablesLegacyNat
from sdnkit.realize.nat import NatChange
from sdnkit.realize.nftables import NftablesNat

pytestmark = pytest.mark.kernel

_COUNTER = itertools.count()
BACKENDS = ["nftables", "iptables-legacy"]


@dataclass
class Site:
    node: str
    outside: str
    guest: str

    def run(self, ns: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, check=check)

    def ping_outside(self) -> bool:
        argv = ["ping", "-n", "-q", "-c", "1", "-w", "1", "192.0.2.254"]
        return self.run(self.guest, *argv, check=False).returncode == 0

    def seen_from_node_address(self) -> int:
        """Echo requests ``outside`` received from 192.0.2.1 (the node's address)."""
        out = self.run(self.outside, "nft", "list", "chain", "inet", "probe", "input").stdout
        return int(out.split("packets ")[1].split()[0])


@pytest.fixture
def site() -> Iterator[Site]:
    require("root", "nft", "iptables-legacy")
    base = f"rn{os.getpid() % 100000}n{next(_COUNTER)}"
    s = Site(node=f"{base}-n", outside=f"{base}-o", guest=f"{base}-g")
    try:
        for ns in (s.node, s.outside, s.guest):
            subprocess.run(["ip", "netns", "add", ns], check=True)
        _build(s)
        yield s
    finally:
        for ns in (s.guest, s.outside, s.node):
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


def _build(s: Site) -> None:
    script = f"""
        -n {s.node} link set lo up
        -n {s.node} link add vmbr0 type bridge
        -n {s.node} link add eth0 type veth peer name eth0 netns {s.outside}
        -n {s.node} link set eth0 master vmbr0 up
        -n {s.node} address add 192.0.2.1/24 dev vmbr0
        -n {s.node} link set vmbr0 up
        -n {s.outside} address add 192.0.2.254/24 dev eth0
        -n {s.outside} link set eth0 up
        -n {s.node} link add tap100i0 type veth peer name eth0 netns {s.guest}
        -n {s.node} link set tap100i0 up
        -n {s.guest} address add 10.0.1.10/24 dev eth0
        -n {s.guest} link set eth0 up
        -n {s.guest} route add default via 10.0.1.1
    """
    for line in script.strip().splitlines():
        subprocess.run(["ip", *line.split()], check=True)
    # ifupdown2 turns forwarding on for every bridge with an address (so replies come back in)
    s.run(s.node, "sysctl", "-qw", "net.ipv4.conf.vmbr0.forwarding=1")
    rule = "ip saddr 192.0.2.1 icmp type echo-request counter"
    chain = "add chain inet probe input { type filter hook input priority 0; }"
    s.run(s.outside, "nft", f"add table inet probe; {chain}; add rule inet probe input {rule}")


def snat_plan(*rules: SnatRule, version: int = 1) -> NodePlan:
    vnet = Bridge(name="vnA", addresses=(ipaddress.ip_interface("10.0.1.1/24"),), ip_forward=True)
    return NodePlan(node="node1", version=version, links=(vnet,), snat=rules)


def rule(source: str = "10.0.1.0/24", to: str = "192.0.2.1") -> SnatRule:
    return SnatRule(
        vnet="vnA",
        subnet=f"simple-{source.replace('/', '-')}",
        source=ipaddress.ip_network(source),
        out_iface="vmbr0",
        to_source=ipaddress.ip_address(to),
    )


def backend_listing(site: Site, backend: str) -> str:
    if backend == "nftables":
        return site.run(site.node, "nft", "list", "table", "inet", "sdnkit", check=False).stdout
    return site.run(site.node, "iptables-legacy-save", "-t", "nat").stdout


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_guest_reaches_outside_only_through_snat(site: Site, tmp_path: Path, backend: str) -> None:
    state = tmp_path / "realize"
    apply_plan(snat_plan(), netns=site.node, state_dir=state, nat_backend=backend)
    subprocess.run(["ip", "-n", site.node, "link", "set", "tap100i0", "master", "vnA"], check=True)
    assert not site.ping_outside()  # no SNAT: outside has no route back

    with_snat = apply_plan(snat_plan(rule()), netns=site.node, state_dir=state, nat_backend=backend)
    assert with_snat.nat_changed and with_snat.changes == ()  # only NAT changed
    assert site.ping_outside()
    assert site.seen_from_node_address() >= 1  # outside saw the node's address as source
    second = apply_plan(snat_plan(rule()), netns=site.node, state_dir=state, nat_backend=backend)
    assert not second.changed

    off = apply_plan(snat_plan(), netns=site.node, state_dir=state, nat_backend=backend)
    assert off.nat_changed
    site.run(site.node, "conntrack", "-F", check=False)
    assert not site.ping_outside()
    assert "SDNKIT" not in backend_listing(site, backend) and "sdnkit" not in backend_listing(site, backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_our_rules_are_replaced_as_a_whole_and_hand_edits_undone(
    site: Site, tmp_path: Path, backend: str
) -> None:
    state = tmp_path / "realize"
    p = snat_plan(rule(), rule("10.0.2.0/24"))
    apply_plan(p, netns=site.node, state_dir=state, nat_backend=backend)
    listing = backend_listing(site, backend)
    assert "10.0.1.0/24" in listing and "10.0.2.0/24" in listing

    apply_plan(
        snat_plan(rule(to="192.0.2.1"), version=2), netns=site.node, state_dir=state, nat_backend=backend
    )
    listing = backend_listing(site, backend)
    assert "10.0.1.0/24" in listing and "10.0.2.0/24" not in listing

    if backend == "nftables":
        site.run(
            site.node,
            "nft",
            "add",
            "rule",
            "inet",
            "sdnkit",
            "postrouting",
            "ip",
            "saddr",
            "10.9.0.0/16",
            "masquerade",
        )
    else:
        site.run(
            site.node,
            "iptables-legacy",
            "-t",
            "nat",
            "-A",
            "SDNKIT-POSTROUTING",
            "-s",
            "10.9.0.0/16",
            "-j",
            "MASQUERADE",
        )
    assert "10.9.0.0/16" in backend_listing(site, backend)
    fixed = apply_plan(snat_plan(rule(), version=3), netns=site.node, state_dir=state, nat_backend=backend)
    assert fixed.nat_changed
    assert "10.9.0.0/16" not in backend_listing(site, backend)
    assert "10.0.1.0/24" in backend_listing(site, backend)


def test_nat_failure_rolls_back_the_kernel_changes(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "realize"
    before = iproute_view.snapshot(site.node)

    def refuse(self: NatChange) -> None:
        raise RealizeError("nat: nft refused table inet sdnkit: Error: Injected", obj="nat")

    monkeypatch.setattr(NatChange, "apply", refuse)
    with pytest.raises(RealizeError, match="Injected") as err:
        apply_plan(snat_plan(rule()), netns=site.node, state_dir=state)
    assert err.value.obj == "nat"
    assert iproute_view.differences(before, iproute_view.snapshot(site.node)) == {}  # vnA came and went
    assert "sdnkit" not in backend_listing(site, "nftables")


def test_the_rendered_rules_cannot_carry_injected_text() -> None:
    bad = SnatRule(
        vnet="vnA",
        subnet='s"; flush ruleset; "',
        source=ipaddress.ip_network("10.0.1.0/24"),
        out_iface="vmbr0",
        to_source=ipaddress.ip_address("192.0.2.1"),
    )
    text = NftablesNat().render([replace(bad, conntrack_zone=1)])
    assert "flush" not in text and 'iifname "fwbr*" ct zone set 1' in text
    with pytest.raises(RealizeError, match="invalid interface name"):
        IptablesLegacyNat().render([replace(bad, out_iface="vmbr0 -j ACCEPT")])
