"""``sdn agent``: live facts, one pass, per-zone status, a broken zone not holding back the
others, and long-running agents picking up each new running version."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from prerequisites import not_applicable, unmet
from sdnkit.agent.facts import gather
from sdnkit.plan.facts import IfaceKind

pytestmark = pytest.mark.kernel


def simple_zone(env):
    env.create("zones", zone="simple", type="simple")
    env.create("vnets", vnet="vnet1", zone="simple")
    env.create("subnets", vnet="vnet1", subnet="10.0.1.0/24", gateway="10.0.1.1")
    env.apply()
    return env


@pytest.fixture(scope="module")
def lab(make_lab):
    """Shared by the tests that leave the configuration as it is."""
    return simple_zone(make_lab(nodes=2))


@pytest.fixture
def own_lab(new_lab):
    """For a test that changes the configuration."""
    return simple_zone(new_lab(nodes=2))


def status(lab, node=None):
    rc, out = lab.sdn("--output", "json", "status", *(["--node", node] if node else []))
    assert rc == 0
    return {r["node"]: r for r in json.loads(out)}


def test_facts_are_gathered_live(lab):
    facts = gather("node1", netns=lab.netns("node1"), peers=["192.0.2.1", "192.0.2.2"])
    assert facts.route4.iface == "vmbr0"
    assert facts.route4.src == ipaddress.ip_address("192.0.2.1")  # the route to the first remote peer
    vmbr0 = facts.interfaces["vmbr0"]
    assert vmbr0.kind is IfaceKind.LINUX_BRIDGE and vmbr0.ports == ("eth0",) and not vmbr0.vlan_aware
    assert facts.mac == vmbr0.mac == lab.links("node1")["vmbr0"]["address"]
    assert ipaddress.ip_interface("192.0.2.1/24") in vmbr0.addresses


def test_once_realizes_and_reports_per_zone_and_vnet(lab):
    records = status(lab)
    assert sorted(records) == ["node1", "node2"]
    node1 = records["node1"]
    assert node1["applied"] == node1["running"] == node1["version"]
    assert node1["zones"]["simple"] == {"status": "available", "zone-type": "simple"}
    assert node1["vnets"]["vnet1"] == {"status": "available", "zone": "simple"}
    assert "vnet1" in lab.links("node2")


def test_agent_with_netns_option_is_idempotent(lab):
    state = Path(os.environ["SDN_LAB_DIR"]) / lab.name / "node2" / "agent"  # what `sdn lab apply` uses
    argv = ["--output", "json", "agent", "--once", "--node", "node2", "--netns", lab.netns("node2"),
            "--state-dir", str(state)]  # fmt: skip
    rc, out = lab.sdn(*argv)
    assert rc == 0 and json.loads(out)["vnets"]["vnet1"]["status"] == "available"
    rc, out = lab.sdn(*argv)
    assert rc == 0 and json.loads(out)["changes"] == 0


def test_nodes_behind_the_running_version_show_pending(own_lab):
    lab = own_lab
    lab.create("vnets", vnet="vnet2", zone="simple")
    lab.svc.apply({})
    record = status(lab, "node1")["node1"]
    assert record["running"] == record["version"] + 1
    assert record["vnets"]["vnet1"]["status"] == "pending"
    lab.apply()
    assert status(lab, "node1")["node1"]["vnets"]["vnet2"]["status"] == "available"


def test_a_zone_that_cannot_be_planned_is_an_error_and_the_others_go_on(own_lab):
    lab = own_lab
    lab.create("zones", zone="bad", type="vlan", bridge="vmbr9")  # no such bridge on the nodes
    lab.create("vnets", vnet="badnet", zone="bad", tag=10)
    lab.create("vnets", vnet="vnet3", zone="simple")
    lab.svc.apply({})
    rc, _ = lab.sdn("--output", "json", "lab", "apply", "--name", lab.name)
    assert rc == 1  # not every zone is available
    record = status(lab, "node1")["node1"]
    assert record["vnets"]["badnet"]["status"] == "error"
    assert "vmbr9" in record["vnets"]["badnet"]["statusmsg"]
    assert record["zones"]["bad"]["status"] == "error"
    assert record["vnets"]["vnet3"]["status"] == "available" and "vnet3" in lab.links("node1")
    lab.delete("vnets", vnet="badnet")
    lab.delete("zones", zone="bad")
    lab.apply()


def test_a_zone_the_kernel_refuses_is_held_back_and_the_others_go_on(own_lab):
    lab = own_lab
    if unmet("kernel:vlan") is None:
        not_applicable("this kernel has 802.1Q devices: the refusal cannot be provoked here")
    lab.create("zones", zone="novlan", type="vlan", bridge="vmbr0")
    lab.create("vnets", vnet="vlnet", zone="novlan", tag=10)
    lab.create("vnets", vnet="vnet4", zone="simple")
    lab.svc.apply({})
    rc, _ = lab.sdn("lab", "apply", "--name", lab.name)
    assert rc == 1
    record = status(lab, "node1")["node1"]
    assert record["zones"]["novlan"]["status"] == "error" and record["zones"]["novlan"]["statusmsg"]
    assert record["vnets"]["vnet4"]["status"] == "available" and "vnet4" in lab.links("node1")
    assert "vlnet" not in lab.links("node1")  # the refused zone left nothing half made
    lab.delete("vnets", vnet="vlnet")
    lab.delete("zones", zone="novlan")
    lab.apply()


def test_long_running_agents_apply_each_new_version(own_lab):
    lab = own_lab
    assert lab.lab("agents", "start")[0] == 0
    try:
        lab.create("vnets", vnet="vnet5", zone="simple")
        version = lab.svc.apply({})
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            records = status(lab)
            if all(r["applied"] == version for r in records.values()):
                break
            time.sleep(0.2)
        assert all(r["applied"] == version for r in records.values())
        assert "vnet5" in lab.links("node1") and "vnet5" in lab.links("node2")
    finally:
        rc, out = lab.sdn("--output", "json", "lab", "agents", "stop", "--name", lab.name)
    assert rc == 0 and json.loads(out) == []
    _, out = lab.sdn("--output", "json", "lab", "status", "--name", lab.name)
    assert all(m.get("agent") is None for m in json.loads(out)["members"])


def test_long_running_agent_resync_repairs_a_hand_changed_node(own_lab, tmp_path):
    """``sdn agent --resync S``: what a hand removed, the next resync puts back (no new version)."""
    lab = own_lab
    home = Path(os.environ["SDN_LAB_DIR"]) / lab.name / "node1"  # the paths `sdn lab apply` used
    argv = ["ip", "netns", "exec", lab.netns("node1"), str(Path(sys.executable).with_name("sdn")),
            "--config-dir", str(lab.config_dir), "agent", "--node", "node1",
            "--state-dir", str(home / "agent"), "--frr-local", str(home / "frr.conf.local"),
            "--dhcp-root", str(home / "dhcp"), "--resync", "1"]  # fmt: skip
    gateway = {"local": "10.0.1.1", "prefixlen": 24}

    def gateway_on_vnet1() -> bool:
        done = lab.run("node1", "ip", "-j", "-4", "addr", "show", "dev", "vnet1", check=False)
        addrs = json.loads(done.stdout or "[]")
        return any({k: a.get(k) for k in gateway} == gateway for x in addrs for a in x["addr_info"])

    assert gateway_on_vnet1()  # realized by the fixture's `sdn lab apply`
    with open(tmp_path / "agent.log", "w") as log:
        agent = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    log_text = (tmp_path / "agent.log").read_text
    try:
        deadline = time.monotonic() + 30
        while log_text().count(" applied=") < 1 and time.monotonic() < deadline and agent.poll() is None:
            time.sleep(0.1)  # the agent's first pass (at start) is done: what follows is a resync
        assert log_text().count(" applied=") >= 1, log_text()
        lab.run("node1", "ip", "link", "del", "vnet1")  # by hand, behind the agent's back
        assert not gateway_on_vnet1()
        deadline = time.monotonic() + 30
        while not gateway_on_vnet1() and time.monotonic() < deadline and agent.poll() is None:
            time.sleep(0.2)
        assert gateway_on_vnet1(), log_text()
        assert lab.links("node1")["vnet1"]["linkinfo"]["info_kind"] == "bridge"
        assert status(lab, "node1")["node1"]["vnets"]["vnet1"]["status"] == "available"
    finally:
        agent.terminate()
        agent.wait(timeout=15)
    assert agent.returncode == 0, log_text()
