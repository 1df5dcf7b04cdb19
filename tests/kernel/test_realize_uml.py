"""The reconciler with the kinds this host's kernel lacks: 802.1Q/802.1ad VLANs, VLAN-aware bridges,
VRF and dummy devices, and NAT where nftables has no ``inet`` family.

Marked ``uml``: ``make test-uml`` runs them inside a User-Mode-Linux kernel that has all of it. Each
test probes the kernel for what it needs (``needs("kernel:vlan")``): a skip with the kernel's
refusal elsewhere, a failure in CI.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import iproute_view
from prerequisites import not_applicable, require
from sdnkit.errors import RealizeError
from sdnkit.plan.desired import Bridge, Dummy, NodePlan, SnatRule, Veth, Vlan, Vrf, Vxlan
from sdnkit.realize import apply_plan, ipbatch
from sdnkit.realize.ownership import OwnershipStore

pytestmark = pytest.mark.uml

_COUNTER = itertools.count()


def needs(*features: str) -> None:
    require(*(f"kernel:{f}" for f in features))


@pytest.fixture
def ns() -> Iterator[str]:
    require("root")
    name = f"ru{os.getpid() % 100000}n{next(_COUNTER)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        ipn(name, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p")
        ipn(name, "link", "set", "eth0", "up")  # the host's NIC is up (a VLAN on it cannot go up otherwise)
        ipn(name, "link", "set", "eth0p", "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def ipn(ns: str, *argv: str) -> str:
    return subprocess.run(["ip", "-n", ns, *argv], check=True, capture_output=True, text=True).stdout


def links(ns: str) -> dict[str, dict[str, Any]]:
    return {lk["ifname"]: lk for lk in json.loads(ipn(ns, "-j", "-d", "link", "show"))}


def vids(ns: str, dev: str) -> set[int]:
    out = subprocess.run(
        ["bridge", "-n", ns, "-c", "-j", "vlan", "show", "dev", dev],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found: set[int] = set()
    for entry in json.loads(out or "[]"):
        for v in entry["vlans"]:
            found.update(range(v["vlan"], v.get("vlanEnd", v["vlan"]) + 1))
    return found


def snapshot(ns: str) -> dict[str, Any]:
    """The namespace as iproute2 shows it (not the product's reader)."""
    return iproute_view.snapshot(ns)


def qinq_plan(version: int = 1) -> NodePlan:
    """PVE's QinQ zone "zq" (service VLAN 20, 802.1ad) on a plain uplink with NIC eth0; vnets with
    customer tag 100 and without a tag."""
    return NodePlan(
        node="node1",
        version=version,
        links=(
            Bridge(name="z_zq", ports=("sv_zq", "ln_zq"), vlan_aware=True, vids="2-4094", mtu=1496),
            Vlan(name="sv_zq", raw_device="eth0", vlan_id=20, protocol="802.1ad"),
            Veth(name="ln_zq", peer="pr_zq"),
            Veth(name="pr_zq", peer="ln_zq"),
            Bridge(name="vnq1", ports=("z_zq.100",), mtu=1496),
            Bridge(name="vnq2", ports=("pr_zq",)),
        ),
    )


def test_qinq_zone_is_built_and_removed(ns: str, tmp_path: Path) -> None:
    needs("qinq", "vlan_filtering")
    state = tmp_path / "realize"
    apply_plan(qinq_plan(), netns=ns, state_dir=state)
    got = links(ns)
    sv = got["sv_zq"]["linkinfo"]["info_data"]
    assert (sv["protocol"], sv["id"], got["sv_zq"]["link"]) == ("802.1ad", 20, "eth0")
    assert got["sv_zq"]["master"] == "z_zq" and got["ln_zq"]["master"] == "z_zq"
    assert got["z_zq"]["linkinfo"]["info_data"]["vlan_filtering"] == 1
    cvlan = got["z_zq.100"]
    assert (
        cvlan["linkinfo"]["info_data"]["id"] == 100 and cvlan["link"] == "z_zq" and cvlan["master"] == "vnq1"
    )
    assert 100 in vids(ns, "z_zq")  # the c-tag reaches the bridge itself
    assert set(range(2, 4095)) <= vids(ns, "sv_zq") and set(range(2, 4095)) <= vids(ns, "ln_zq")
    assert apply_plan(qinq_plan(), netns=ns, state_dir=state).changes == ()

    apply_plan(NodePlan(node="node1", version=2), netns=ns, state_dir=state)
    assert set(links(ns)) == {"lo", "eth0", "eth0p"}


def test_a_refused_step_in_a_qinq_zone_leaves_the_node_as_it_was(
    ns: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs("qinq", "vlan_filtering")
    state = tmp_path / "realize"
    old = NodePlan(
        node="node1",
        version=1,
        links=(Bridge(name="vnq1", mtu=1400), Vlan(name="eth0.30", raw_device="eth0", vlan_id=30)),
    )
    apply_plan(old, netns=ns, state_dir=state)
    before = snapshot(ns)
    real = ipbatch.Transaction.run

    def refuse(self: ipbatch.Transaction, changes: Any) -> None:
        index = len(changes) - 2
        real(self, changes[:index])
        raise ipbatch.ChangeFailed(changes[index], "Injected: Operation not supported")

    monkeypatch.setattr(ipbatch.Transaction, "run", refuse)
    with pytest.raises(RealizeError, match="Injected"):
        apply_plan(qinq_plan(version=2), netns=ns, state_dir=state)
    assert iproute_view.differences(before, snapshot(ns)) == {}


def test_vlan_zone_on_a_vlan_aware_uplink(ns: str, tmp_path: Path) -> None:
    needs("vlan", "vlan_filtering")
    state = tmp_path / "realize"
    ipn(ns, "link", "add", "vmbr0", "type", "bridge", "vlan_filtering", "1")
    ipn(ns, "link", "set", "eth0", "master", "vmbr0")
    ipn(ns, "link", "set", "vmbr0", "up")
    plan = NodePlan(node="node1", version=1, links=(Bridge(name="vnv1", ports=("vmbr0.10",)),))
    apply_plan(plan, netns=ns, state_dir=state)
    got = links(ns)
    assert got["vmbr0.10"]["link"] == "vmbr0" and got["vmbr0.10"]["master"] == "vnv1"
    assert 10 in vids(ns, "vmbr0")
    assert apply_plan(plan, netns=ns, state_dir=state).changes == ()

    apply_plan(NodePlan(node="node1", version=2), netns=ns, state_dir=state)
    assert "vmbr0.10" not in links(ns) and 10 not in vids(ns, "vmbr0")  # the VID we added goes too


def test_vlan_zone_on_a_plain_uplink(ns: str, tmp_path: Path) -> None:
    needs("vlan")
    state = tmp_path / "realize"
    ipn(ns, "link", "add", "vmbr0", "type", "bridge")
    ipn(ns, "link", "set", "eth0", "master", "vmbr0")
    ipn(ns, "link", "set", "vmbr0", "up")
    plan = NodePlan(
        node="node1",
        version=1,
        links=(
            Bridge(name="vmbr0v10", ports=("eth0.10", "pr_vnv1")),
            Veth(name="ln_vnv1", peer="pr_vnv1"),
            Bridge(name="vnv1", ports=("ln_vnv1",)),
        ),
    )
    apply_plan(plan, netns=ns, state_dir=state)
    got = links(ns)
    assert got["eth0.10"]["master"] == "vmbr0v10" and got["pr_vnv1"]["master"] == "vmbr0v10"
    assert got["ln_vnv1"]["master"] == "vnv1" and got["eth0"]["master"] == "vmbr0"
    assert apply_plan(plan, netns=ns, state_dir=state).changes == ()


def test_vrf_with_its_unreachable_default_and_a_dummy(ns: str, tmp_path: Path) -> None:
    needs("vrf", "dummy")
    state = tmp_path / "realize"
    plan = NodePlan(
        node="node1",
        version=1,
        links=(
            Vrf(name="vrf_ze", unreachable_default=True),
            Bridge(
                name="vne1",
                ports=("vxlan_vne1",),
                vrf="vrf_ze",
                mtu=1450,
                addresses=(ipaddress.ip_interface("10.0.5.1/24"),),
            ),
            Vxlan(
                name="vxlan_vne1",
                vni=500,
                local_ip=ipaddress.ip_address("192.0.2.1"),
                learning=False,
                arp_nd_suppress=True,
                mtu=1450,
            ),
            Dummy(name="dummy_fab", addresses=(ipaddress.ip_interface("172.16.0.1/32"),)),
        ),
    )
    apply_plan(plan, netns=ns, state_dir=state)
    got = links(ns)
    table = got["vrf_ze"]["linkinfo"]["info_data"]["table"]
    assert table == 1001 and got["vne1"]["master"] == "vrf_ze"
    slave = got["vxlan_vne1"]["linkinfo"]["info_slave_data"]
    assert slave["learning"] is False and slave["neigh_suppress"] is True
    assert got["vxlan_vne1"]["linkinfo"]["info_data"]["learning"] is False
    routes = json.loads(ipn(ns, "-j", "route", "show", "table", str(table)))
    assert {"type": "unreachable", "dst": "default", "metric": 4278198272} in [
        {k: r.get(k) for k in ("type", "dst", "metric")} for r in routes
    ]
    assert apply_plan(plan, netns=ns, state_dir=state).changes == ()

    apply_plan(NodePlan(node="node1", version=2), netns=ns, state_dir=state)
    assert ipn(ns, "route", "show", "table", "all", "proto", "241") == ""
    assert set(links(ns)) == {"lo", "eth0", "eth0p"}


@pytest.mark.needs("nft", "iptables-legacy")
def test_nat_falls_back_to_iptables_legacy_without_nftables_inet(ns: str, tmp_path: Path) -> None:
    needs("vlan")  # only inside UML
    probe = subprocess.run(
        ["ip", "netns", "exec", ns, "nft", "-c", "-f", "-"],
        check=False,
        capture_output=True,
        text=True,
        input="table inet p { chain c { type nat hook postrouting priority srcnat; }; }",
    )
    if probe.returncode == 0:
        not_applicable("this kernel's nftables has the inet family: the fallback is not used")
    state = tmp_path / "realize"
    snat = SnatRule(
        vnet="vns",
        subnet="s-10.0.1.0-24",
        source=ipaddress.ip_network("10.0.1.0/24"),
        out_iface="eth0",
        to_source=ipaddress.ip_address("192.0.2.1"),
    )
    plan = NodePlan(node="node1", version=1, links=(Bridge(name="vns"),), snat=(snat,))
    assert apply_plan(plan, netns=ns, state_dir=state).nat_changed
    saved = subprocess.run(
        ["ip", "netns", "exec", ns, "iptables-legacy-save", "-t", "nat"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "-A SDNKIT-POSTROUTING -s 10.0.1.0/24 -o eth0 -j SNAT --to-source 192.0.2.1" in saved
    assert OwnershipStore(state).load().nat["backend"] == "iptables-legacy"
    assert not apply_plan(plan, netns=ns, state_dir=state).changed
