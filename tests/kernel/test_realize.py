"""The reconciler on a real kernel, in a fresh network namespace per test.

Every test builds NodePlans by hand (as the planner would), applies them with ``apply_plan`` and
checks the namespace with the kernel's own tools (``ip -j``, ``bridge -j``, /proc/sys).
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import multiprocessing
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import iproute_view
from prerequisites import require
from sdnkit.errors import NotSupportedError, RealizeError, RollbackError, VerifyError
from sdnkit.plan.desired import Bridge, Existing, NodePlan, OvsIntPort, StaticRoute, Veth, Vxlan
from sdnkit.realize import apply as apply_mod
from sdnkit.realize import apply_plan, ipbatch
from sdnkit.realize.ownership import OwnershipStore

pytestmark = pytest.mark.kernel

_COUNTER = itertools.count()
PEERS = ("192.0.2.2", "192.0.2.3")


# -- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def ns() -> Iterator[str]:
    require("root")
    name = f"rz{os.getpid() % 100000}n{next(_COUNTER)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
    yield name
    subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "realize"


def ipn(ns: str, *argv: str) -> str:
    return subprocess.run(["ip", "-n", ns, *argv], check=True, capture_output=True, text=True).stdout


def links(ns: str) -> dict[str, dict[str, Any]]:
    return {lk["ifname"]: lk for lk in json.loads(ipn(ns, "-j", "-d", "addr", "show"))}


def flood(ns: str) -> set[tuple[str, str]]:
    out = subprocess.run(
        ["bridge", "-n", ns, "-j", "fdb", "show"], check=True, capture_output=True, text=True
    )
    return {(e["ifname"], e["dst"]) for e in json.loads(out.stdout) if e["mac"] == "00:00:00:00:00:00"}


def sysctl(ns: str, key: str) -> str:
    out = subprocess.run(
        ["ip", "netns", "exec", ns, "sysctl", "-n", key], check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


def addrs(link: dict[str, Any]) -> set[str]:
    return {f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", ()) if a["scope"] != "link"}


def vxlan_vnet(
    name: str, vni: int, *, peers: tuple[str, ...] = PEERS, mtu: int = 1450
) -> tuple[Bridge, Vxlan]:
    port = f"vxlan_{name}"
    return (
        Bridge(name=name, ports=(port,), mtu=mtu),
        Vxlan(
            name=port,
            vni=vni,
            local_ip=ipaddress.ip_address("192.0.2.1"),
            remote_ips=tuple(ipaddress.ip_address(p) for p in peers),
            mtu=mtu,
        ),
    )


def simple_vnet(name: str, gateway: str, **kw: Any) -> Bridge:
    return Bridge(name=name, addresses=(ipaddress.ip_interface(gateway),), ip_forward=True, **kw)


def plan(*items: Any, version: int = 1, **kw: Any) -> NodePlan:
    flat: list[Any] = []
    for item in items:
        flat.extend(item if isinstance(item, tuple) else (item,))
    return NodePlan(node="node1", version=version, links=tuple(flat), **kw)


def snapshot(ns: str) -> dict[str, Any]:
    """Everything the reconciler may touch, read with iproute2 (not the product's reader), by link
    name, plus ``"routes"``; without ifindexes (a link rebuilt by an undo is equal)."""
    return iproute_view.snapshot(ns)


def ifindexes(ns: str) -> dict[str, int]:
    return {name: lk["ifindex"] for name, lk in links(ns).items()}


# -- convergence -------------------------------------------------------------------------------


def test_from_empty_builds_the_plan_and_a_second_run_changes_nothing(ns: str, state_dir: Path) -> None:
    p = plan(vxlan_vnet("vnA", 100), simple_vnet("vnB", "10.0.1.1/24", mtu=1400))
    first = apply_plan(p, netns=ns, state_dir=state_dir)
    assert first.changes

    got = links(ns)
    assert got["vnA"]["linkinfo"]["info_kind"] == "bridge" and got["vnA"]["mtu"] == 1450
    vx = got["vxlan_vnA"]
    assert vx["linkinfo"]["info_kind"] == "vxlan" and vx["master"] == "vnA" and vx["mtu"] == 1450
    assert vx["linkinfo"]["info_data"]["id"] == 100 and vx["linkinfo"]["info_data"]["port"] == 4789
    assert vx["linkinfo"]["info_data"]["local"] == "192.0.2.1"
    assert "UP" in vx["flags"] and "UP" in got["vnA"]["flags"]
    assert addrs(got["vnB"]) == {"10.0.1.1/24"} and got["vnB"]["mtu"] == 1400
    assert got["vnB"]["linkinfo"]["info_data"]["forward_delay"] == 0  # PVE's bridge_fd 0
    assert flood(ns) == {("vxlan_vnA", "192.0.2.2"), ("vxlan_vnA", "192.0.2.3")}
    assert sysctl(ns, "net.ipv4.conf.vnB.forwarding") == "1"
    assert not Path("/proc/sys/net/ipv4/conf/vnB").exists()  # per namespace, not on the host

    second = apply_plan(p, netns=ns, state_dir=state_dir)
    assert second.changes == () and second.summary() == "0 changes"


def test_a_stale_state_converges_and_unchanged_links_keep_their_ifindex(ns: str, state_dir: Path) -> None:
    apply_plan(plan(vxlan_vnet("vnA", 100), vxlan_vnet("vnB", 200)), netns=ns, state_dir=state_dir)
    before = ifindexes(ns)

    apply_plan(
        plan(vxlan_vnet("vnB", 200, peers=("192.0.2.3", "192.0.2.4")), vxlan_vnet("vnC", 300)),
        netns=ns,
        state_dir=state_dir,
    )

    after = ifindexes(ns)
    assert "vnA" not in after and "vxlan_vnA" not in after
    assert after["vnB"] == before["vnB"] and after["vxlan_vnB"] == before["vxlan_vnB"]
    assert {"vnC", "vxlan_vnC"} <= after.keys()
    assert {d for i, d in flood(ns) if i == "vxlan_vnB"} == {"192.0.2.3", "192.0.2.4"}


def test_hand_modified_objects_are_put_back(ns: str, state_dir: Path) -> None:
    p = plan(vxlan_vnet("vnA", 100), simple_vnet("vnB", "10.0.1.1/24"))
    apply_plan(p, netns=ns, state_dir=state_dir)
    before = snapshot(ns)
    ipn(ns, "link", "set", "dev", "vnA", "mtu", "1300")
    ipn(ns, "link", "set", "dev", "vxlan_vnA", "nomaster")
    ipn(ns, "link", "set", "dev", "vnB", "down")
    ipn(ns, "address", "add", "10.9.9.9/24", "dev", "vnB")
    ipn(ns, "address", "del", "10.0.1.1/24", "dev", "vnB")
    subprocess.run(
        ["bridge", "-n", ns, "fdb", "del", "00:00:00:00:00:00", "dev", "vxlan_vnA", "dst", "192.0.2.2"],
        check=True,
    )
    subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.conf.vnB.forwarding=0"], check=True)

    fixed = apply_plan(p, netns=ns, state_dir=state_dir)

    assert len(fixed.changes) == 7
    assert iproute_view.differences(before, snapshot(ns)) == {}
    assert apply_plan(p, netns=ns, state_dir=state_dir).changes == ()


def test_an_apply_killed_half_way_is_finished_or_cleaned_up_by_the_next(ns: str, state_dir: Path) -> None:
    p = plan(vxlan_vnet("vnA", 100), vxlan_vnet("vnB", 200), simple_vnet("vnC", "10.0.1.1/24"))
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=_apply_then_die, args=(p, ns, state_dir, 4))
    child.start()
    child.join(30)
    assert child.exitcode == -signal.SIGKILL
    half = links(ns)
    assert "vnA" in half and "vxlan_vnB" not in half  # a partial state

    # the written-ahead record knows every link the killed apply may have created
    assert {"vnA", "vnB", "vnC", "vxlan_vnA", "vxlan_vnB"} <= OwnershipStore(state_dir).load().owned.keys()
    apply_plan(plan(vxlan_vnet("vnB", 200)), netns=ns, state_dir=state_dir)
    assert set(links(ns)) == {"lo", "vnB", "vxlan_vnB"}
    apply_plan(p, netns=ns, state_dir=state_dir)
    assert apply_plan(p, netns=ns, state_dir=state_dir).changes == ()


def _apply_then_die(p: NodePlan, ns: str, state_dir: Path, after: int) -> None:
    real = ipbatch.Transaction.run

    def run_some_then_die(self: ipbatch.Transaction, changes: Any) -> None:
        real(self, changes[:after])
        os.kill(os.getpid(), signal.SIGKILL)

    ipbatch.Transaction.run = run_some_then_die  # type: ignore[method-assign]
    apply_plan(p, netns=ns, state_dir=state_dir)


# -- ownership ---------------------------------------------------------------------------------


@pytest.fixture
def host_links(ns: str) -> str:
    """vmbr0 with a NIC and an address, as on a PVE host, plus a guest port to plug in later."""
    ipn(ns, "link", "add", "vmbr0", "type", "bridge")
    ipn(ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p")
    ipn(ns, "link", "set", "eth0", "master", "vmbr0")
    ipn(ns, "address", "add", "192.0.2.1/24", "dev", "vmbr0")
    ipn(ns, "link", "set", "vmbr0", "up")
    ipn(ns, "link", "add", "tap100i0", "type", "veth", "peer", "name", "guest0")
    return ns


def test_foreign_links_are_never_touched(host_links: str, state_dir: Path) -> None:
    ns = host_links
    apply_plan(plan(vxlan_vnet("vnA", 100)), netns=ns, state_dir=state_dir)
    ipn(ns, "link", "set", "tap100i0", "master", "vnA")  # a guest plugged into our bridge
    host = {n: v for n, v in snapshot(ns).items() if n in ("vmbr0", "eth0", "eth0p", "guest0")}
    host_ix = {n: i for n, i in ifindexes(ns).items() if n in host}

    apply_plan(plan(vxlan_vnet("vnA", 100, mtu=1400)), netns=ns, state_dir=state_dir)
    assert links(ns)["tap100i0"]["master"] == "vnA"  # still plugged
    apply_plan(plan(), netns=ns, state_dir=state_dir)  # the vnet goes away

    now = snapshot(ns)
    assert {n: now[n] for n in host} == host
    assert {n: i for n, i in ifindexes(ns).items() if n in host} == host_ix
    assert "tap100i0" in now and "vnA" not in now


def test_a_foreign_link_in_the_way_is_refused_and_nothing_changes(host_links: str, state_dir: Path) -> None:
    ns = host_links
    apply_plan(plan(vxlan_vnet("vnA", 100)), netns=ns, state_dir=state_dir)
    before = snapshot(ns)
    # the plan wants a bridge "eth0" (a NIC of the host) next to a change of vnA
    with pytest.raises(RealizeError, match='link "eth0": exists and is not managed by sdnkit') as err:
        apply_plan(plan(vxlan_vnet("vnA", 100, mtu=1400), Bridge(name="eth0")), netns=ns, state_dir=state_dir)
    assert err.value.obj == "eth0"
    assert iproute_view.differences(before, snapshot(ns)) == {}


def test_a_bridge_of_the_same_name_made_by_someone_else_is_not_taken_over(ns: str, state_dir: Path) -> None:
    ipn(ns, "link", "add", "vnA", "type", "bridge")  # an admin's bridge that happens to be named like a vnet
    ipn(ns, "address", "add", "198.51.100.1/24", "dev", "vnA")
    with pytest.raises(RealizeError, match='link "vnA": exists and is not managed by sdnkit') as err:
        apply_plan(plan(simple_vnet("vnA", "10.0.1.1/24")), netns=ns, state_dir=state_dir)
    assert "link group 21316" in str(err.value)
    assert addrs(links(ns)["vnA"]) == {"198.51.100.1/24"}


def test_links_stay_ours_when_the_state_file_is_lost(ns: str, state_dir: Path) -> None:
    p = plan(vxlan_vnet("vnA", 100), simple_vnet("vnB", "10.0.1.1/24"))
    apply_plan(p, netns=ns, state_dir=state_dir)
    assert {lk["ifname"]: lk["group"] for lk in json.loads(ipn(ns, "-j", "link", "show"))}["vnA"] == "21316"
    (state_dir / "realize.json").unlink()

    assert apply_plan(p, netns=ns, state_dir=state_dir).changes == ()  # recognised by their mark
    apply_plan(plan(vxlan_vnet("vnA", 100)), netns=ns, state_dir=state_dir)
    assert "vnB" not in links(ns)


def test_existing_links_only_get_the_listed_settings_and_get_them_back(
    host_links: str, state_dir: Path
) -> None:
    ns = host_links
    before = snapshot(ns)["vmbr0"]
    fabric = Existing(
        name="vmbr0", addresses=(ipaddress.ip_interface("10.255.0.1/32"),), mtu=1600, arp_accept=True
    )
    apply_plan(plan(fabric), netns=ns, state_dir=state_dir)
    vmbr0 = links(ns)["vmbr0"]
    assert addrs(vmbr0) == {"192.0.2.1/24", "10.255.0.1/32"} and vmbr0["mtu"] == 1600
    assert sysctl(ns, "net.ipv4.conf.vmbr0.arp_accept") == "1"
    assert apply_plan(plan(fabric), netns=ns, state_dir=state_dir).changes == ()

    apply_plan(plan(), netns=ns, state_dir=state_dir)
    assert snapshot(ns)["vmbr0"] == before
    assert sysctl(ns, "net.ipv4.conf.vmbr0.arp_accept") == "0"


def test_deleting_a_vnet_removes_exactly_its_objects(host_links: str, state_dir: Path) -> None:
    ns = host_links
    route = StaticRoute(prefix=ipaddress.ip_network("10.0.2.5/32"), dev="vnB")
    full = plan(
        vxlan_vnet("vnA", 100), simple_vnet("vnB", "10.0.2.1/24"), vxlan_vnet("vnC", 300), routes=(route,)
    )
    apply_plan(full, netns=ns, state_dir=state_dir)
    before, ix = snapshot(ns), ifindexes(ns)

    apply_plan(plan(vxlan_vnet("vnA", 100), vxlan_vnet("vnC", 300)), netns=ns, state_dir=state_dir)

    after = snapshot(ns)
    assert set(before) - set(after) == {"vnB"}
    assert {n: v for n, v in before.items() if n not in ("vnB", "routes")} == {
        n: v for n, v in after.items() if n != "routes"
    }
    via_vnb = [r for r in before["routes"] if '"dev": "vnB"' in r]
    assert any('"dst": "10.0.2.5"' in r for r in via_vnb)  # the static route, and the subnet's
    assert sorted(set(before["routes"]) - set(via_vnb)) == after["routes"]
    assert {n: i for n, i in ifindexes(ns).items()} == {n: i for n, i in ix.items() if n != "vnB"}


# -- failures and rollback -------------------------------------------------------------------


def _two_step_plans() -> tuple[NodePlan, NodePlan]:
    first = plan(vxlan_vnet("vnA", 100), simple_vnet("vnB", "10.0.1.1/24"), Veth(name="ln_x", peer="pr_x"))
    second = plan(
        vxlan_vnet("vnB", 200, peers=("192.0.2.9",)),  # vnB becomes a vxlan vnet: re-created
        vxlan_vnet("vnC", 300),
        simple_vnet("vnD", "10.0.3.1/24", alias="a vnet, with # and 'quotes\""),
        Veth(name="ln_x", peer="pr_x", mtu=1400),
        version=2,
    )  # vnA and its vxlan are deleted
    return first, second


@pytest.mark.parametrize("fail_at", [0, 3, 9, 17, -1])
def test_a_refused_step_leaves_the_node_as_it_was(
    host_links: str, state_dir: Path, monkeypatch: pytest.MonkeyPatch, fail_at: int
) -> None:
    ns = host_links
    first, second = _two_step_plans()
    apply_plan(first, netns=ns, state_dir=state_dir)
    ipn(ns, "link", "set", "tap100i0", "master", "vnA")  # a guest on the vnet that goes away
    before, record = snapshot(ns), OwnershipStore(state_dir).load().to_json()
    real = ipbatch.Transaction.run

    def refuse_one(self: ipbatch.Transaction, changes: Any) -> None:
        index = fail_at % len(changes)
        real(self, changes[:index])
        raise ipbatch.ChangeFailed(changes[index], "Injected: Operation not permitted")

    monkeypatch.setattr(ipbatch.Transaction, "run", refuse_one)
    with pytest.raises(RealizeError, match="Injected: Operation not permitted") as err:
        apply_plan(second, netns=ns, state_dir=state_dir)
    assert err.value.obj  # names the link (or route)
    assert iproute_view.differences(before, snapshot(ns)) == {}
    assert json.dumps(OwnershipStore(state_dir).load().to_json()) == json.dumps(record)

    monkeypatch.undo()
    apply_plan(second, netns=ns, state_dir=state_dir)
    assert apply_plan(second, netns=ns, state_dir=state_dir).changes == ()


def test_the_kernel_refusing_a_step_is_reported_with_its_message(ns: str, state_dir: Path) -> None:
    apply_plan(plan(vxlan_vnet("vnA", 100)), netns=ns, state_dir=state_dir)
    ipn(ns, "link", "add", "other", "type", "vxlan", "id", "300", "local", "192.0.2.1", "dstport", "4789")
    before = snapshot(ns)
    # vnC's VNI is taken by a device sdnkit does not own: the kernel refuses the second vxlan
    with pytest.raises(RealizeError) as err:
        apply_plan(plan(vxlan_vnet("vnB", 200), vxlan_vnet("vnC", 300)), netns=ns, state_dir=state_dir)
    assert err.value.obj == "vxlan_vnC"
    assert 'link "vxlan_vnC": create vxlan failed' in str(err.value) and "exists" in str(err.value)
    assert iproute_view.differences(before, snapshot(ns)) == {}


def test_a_failing_verification_rolls_back(ns: str, state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    apply_plan(plan(vxlan_vnet("vnA", 100)), netns=ns, state_dir=state_dir)
    before = snapshot(ns)

    def disagree(*args: Any, **kw: Any) -> None:
        raise VerifyError('the node does not match the plan: link "vnB": set mtu 1450', obj="vnB")

    monkeypatch.setattr(apply_mod, "verify", disagree)
    with pytest.raises(VerifyError, match="vnB"):
        apply_plan(plan(vxlan_vnet("vnB", 200)), netns=ns, state_dir=state_dir)
    assert iproute_view.differences(before, snapshot(ns)) == {}


def test_an_undo_that_fails_too_raises_rollback_error_with_both(
    ns: str, state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ipbatch.Transaction.run

    def sabotage(self: ipbatch.Transaction, changes: Any) -> None:
        real(self, changes[:1])  # creates bridge vnA
        ipn(ns, "link", "del", "vnA")  # someone removes it: undoing the creation will fail
        raise ipbatch.ChangeFailed(changes[1], "Injected: No buffer space available")

    monkeypatch.setattr(ipbatch.Transaction, "run", sabotage)
    with pytest.raises(RollbackError) as err:
        apply_plan(plan(vxlan_vnet("vnA", 100)), netns=ns, state_dir=state_dir)
    text = str(err.value)
    assert "Injected: No buffer space available" in text
    assert 'link "vnA": create bridge: undo (ip link del dev vnA) failed: Cannot find device' in text
    assert "vnA" in OwnershipStore(state_dir).load().owned  # still on record for the next apply


# -- other kinds and inputs ------------------------------------------------------------------


def test_routes_and_veth_pairs(ns: str, state_dir: Path) -> None:
    p = plan(
        Bridge(
            name="vnA",
            addresses=(ipaddress.ip_interface("10.0.0.1/32"),),
            routes=(ipaddress.ip_network("10.0.0.0/24"),),
        ),
        Veth(name="ln_a", peer="pr_a", mtu=1400),
        Bridge(name="vnB", ports=("ln_a",)),
        routes=(StaticRoute(prefix=ipaddress.ip_network("198.51.100.0/24"), blackhole=True),),
    )
    apply_plan(p, netns=ns, state_dir=state_dir)
    got = links(ns)
    assert got["ln_a"]["master"] == "vnB" and got["ln_a"]["mtu"] == 1400 and "pr_a" in got
    routes = json.loads(ipn(ns, "-j", "route", "show", "proto", "241"))
    assert {(r.get("type", "unicast"), r["dst"]) for r in routes} == {
        ("unicast", "10.0.0.0/24"),
        ("blackhole", "198.51.100.0/24"),
    }
    assert apply_plan(p, netns=ns, state_dir=state_dir).changes == ()
    apply_plan(plan(), netns=ns, state_dir=state_dir)
    assert set(links(ns)) == {"lo"} and ipn(ns, "route", "show", "proto", "241") == ""


def test_an_alias_with_any_text_is_set_without_injection(ns: str, state_dir: Path) -> None:
    alias = "net; #1 'x' \"y\" $(id)"
    apply_plan(plan(simple_vnet("vnA", "10.0.1.1/24", alias=alias)), netns=ns, state_dir=state_dir)
    assert links(ns)["vnA"]["ifalias"] == alias


def test_a_dry_run_changes_nothing(ns: str, state_dir: Path) -> None:
    result = apply_plan(plan(vxlan_vnet("vnA", 100)), netns=ns, state_dir=state_dir, dry_run=True)
    assert result.dry_run and 'link "vnA": create bridge' in result.changes
    assert set(links(ns)) == {"lo"}


def test_open_vswitch_is_refused_before_anything_changes(ns: str, state_dir: Path) -> None:
    ovs = OvsIntPort(name="ln_vnA", ovs_bridge="vmbr0", ovs_options="tag=10")
    with pytest.raises(NotSupportedError, match='link "ln_vnA"'):
        apply_plan(plan(vxlan_vnet("vnA", 100), ovs), netns=ns, state_dir=state_dir)
    assert set(links(ns)) == {"lo"}


def test_nodes_in_several_namespaces_are_realized_from_threads(ns: str, tmp_path: Path) -> None:
    other = f"{ns}b"
    subprocess.run(["ip", "netns", "add", other], check=True)
    try:
        errors: list[BaseException] = []

        def node(name: str, vni: int) -> None:
            try:
                for _ in range(3):
                    apply_plan(plan(vxlan_vnet("vnA", vni)), netns=name, state_dir=tmp_path / name)
            except BaseException as err:  # pragma: no cover - reported below
                errors.append(err)

        threads = [threading.Thread(target=node, args=(n, v)) for n, v in ((ns, 100), (other, 200))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert links(ns)["vxlan_vnA"]["linkinfo"]["info_data"]["id"] == 100
        assert links(other)["vxlan_vnA"]["linkinfo"]["info_data"]["id"] == 200
        assert "vnA" not in {lk["ifname"] for lk in json.loads(subprocess.check_output(["ip", "-j", "link"]))}
    finally:
        subprocess.run(["ip", "netns", "del", other], check=False)


def test_a_plan_version_alone_is_recorded_without_kernel_changes(ns: str, state_dir: Path) -> None:
    p = plan(vxlan_vnet("vnA", 100))
    apply_plan(p, netns=ns, state_dir=state_dir)
    result = apply_plan(replace(p, version=7), netns=ns, state_dir=state_dir)
    assert result.changes == ()
    assert OwnershipStore(state_dir).load().plan_version == 7


# -- incremental applies -----------------------------------------------------------------------


def test_an_incremental_apply_adds_a_vnet_without_touching_the_others(ns: str, state_dir: Path) -> None:
    base = (vxlan_vnet("vnA", 100), simple_vnet("vnB", "10.0.1.1/24"))
    apply_plan(plan(*base), netns=ns, state_dir=state_dir)
    before = ifindexes(ns)

    added = apply_plan(
        plan(*base, vxlan_vnet("vnC", 300), version=2), netns=ns, state_dir=state_dir, incremental=True
    )

    assert added.changes and all("vnC" in c for c in added.changes)
    after = ifindexes(ns)
    assert {n: after[n] for n in before} == before and {"vnC", "vxlan_vnC"} <= after.keys()
    again = plan(*base, vxlan_vnet("vnC", 300), version=2)
    assert apply_plan(again, netns=ns, state_dir=state_dir, incremental=True).changes == ()
    assert apply_plan(again, netns=ns, state_dir=state_dir).changes == ()  # a full check agrees


def test_an_incremental_apply_trusts_unchanged_links_and_a_full_one_does_not(
    ns: str, state_dir: Path
) -> None:
    p = plan(vxlan_vnet("vnA", 100), simple_vnet("vnB", "10.0.1.1/24"))
    apply_plan(p, netns=ns, state_dir=state_dir)
    ipn(ns, "link", "set", "dev", "vnA", "mtu", "1300")  # a hand change to a link the plan keeps as is

    assert apply_plan(p, netns=ns, state_dir=state_dir, incremental=True).changes == ()
    assert links(ns)["vnA"]["mtu"] == 1300
    assert apply_plan(p, netns=ns, state_dir=state_dir).changes == ('link "vnA": set mtu 1450',)


def test_an_incremental_apply_that_deletes_or_follows_a_killed_one_is_a_full_one(
    ns: str, state_dir: Path
) -> None:
    apply_plan(plan(vxlan_vnet("vnA", 100), vxlan_vnet("vnB", 200)), netns=ns, state_dir=state_dir)
    apply_plan(plan(vxlan_vnet("vnA", 100)), netns=ns, state_dir=state_dir, incremental=True)
    assert set(links(ns)) == {"lo", "vnA", "vxlan_vnA"}

    ipn(ns, "link", "add", "vnZ", "type", "bridge")  # as if a killed apply had created it ...
    store = OwnershipStore(state_dir)
    with store.locked():
        record = store.load()
        record.owned["vnZ"] = "bridge"  # ... after writing its intent
        store.save(record)
    apply_plan(plan(vxlan_vnet("vnA", 100)), netns=ns, state_dir=state_dir, incremental=True)
    assert "vnZ" not in links(ns)
