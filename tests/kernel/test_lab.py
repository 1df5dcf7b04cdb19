"""``sdn lab``: nodes laid out like PVE hosts, an ``outside`` host, guests plugged as PVE plugs NICs."""

from __future__ import annotations

import json
import subprocess

import pytest

pytestmark = pytest.mark.kernel


def configured(env):
    """A running config with two zones (the service writes it, as `sdn apply` does); no agent ran."""
    env.create("zones", zone="lz", type="simple")
    env.create("vnets", vnet="lv1", zone="lz", isolate_ports=1)
    env.create("zones", zone="lzq", type="vlan", bridge="vmbr0", bridge_disable_mac_learning=1)
    env.create("vnets", vnet="lv2", zone="lzq", tag=10)
    env.svc.apply({})
    return env


@pytest.fixture(scope="module")
def lab(make_lab):
    """Shared by the tests that leave it as it is."""
    return configured(make_lab(nodes=2))


@pytest.fixture
def own_lab(new_lab):
    """For a test that plugs guests and makes bridges."""
    return configured(new_lab(nodes=2))


def ip_json(env, member, *argv):
    return json.loads(env.run(member, "ip", "-j", *argv).stdout)


def test_nodes_are_laid_out_like_pve_hosts(lab):
    links = lab.links("node1")
    assert links["vmbr0"]["linkinfo"]["info_kind"] == "bridge"
    assert links["eth0"]["master"] == "vmbr0"
    addrs = ip_json(lab, "node1", "-4", "addr", "show", "dev", "vmbr0")[0]["addr_info"]
    assert [(a["local"], a["prefixlen"]) for a in addrs] == [("192.0.2.1", 24)]
    assert ip_json(lab, "node2", "route", "show", "default")[0]["gateway"] == "192.0.2.254"
    assert lab.ping("node1", "192.0.2.2")
    assert lab.ping("node2", "192.0.2.254")


def test_outside_has_no_route_to_guest_subnets(lab):
    assert ip_json(lab, "outside", "route", "show", "default") == []
    assert lab.run("outside", "ip", "route", "get", "10.0.1.14", check=False).returncode != 0


def test_labs_run_side_by_side_with_the_same_node_names(lab, make_lab):
    other = make_lab(nodes=1)
    assert other.ping("node1", "192.0.2.254")
    assert lab.ping("node1", "192.0.2.254")
    rc, out = other.sdn("--output", "json", "lab", "status", "--name", other.name)
    members = {m["name"]: m for m in json.loads(out)["members"]}
    assert rc == 0 and members["node1"]["up"] and members["node1"]["netns"] == f"{other.name}-node1"
    assert other.sdn("lab", "down", "--name", other.name)[0] == 0
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert other.name + "-" not in ns
    assert lab.ping("node1", "192.0.2.2")


def test_exec_returns_the_command_exit_code(lab):
    assert lab.sdn("lab", "exec", "--name", lab.name, "node2", "--", "sh", "-c", "exit 3")[0] == 3
    assert lab.sdn("lab", "exec", "outside", "--name", lab.name, "--", "true")[0] == 0


def fails(result, capsys, message):
    rc, _ = result
    err = capsys.readouterr().err
    return rc != 0 and message in err


def test_guest_needs_an_applied_vnet_and_its_bridge(lab, capsys):
    assert fails(
        lab.lab("guest", "add", "g0", "--node", "node1", "--vnet", "nosuch"),
        capsys,
        "not in the running config",
    )
    assert fails(
        lab.lab("guest", "add", "g0", "--node", "node1", "--vnet", "lv1"), capsys, "no bridge on node1 yet"
    )
    assert fails(lab.lab("guest", "add", "g0", "--node", "node7", "--vnet", "lv1"), capsys, 'no node "node7"')
    bad = lab.lab("guest", "add", "g0;x", "--node", "node1", "--vnet", "lv1")
    assert fails(bad, capsys, 'guest "g0;x": invalid name')
    assert fails(lab.sdn("lab", "up", "--name", "Lab-1"), capsys, 'lab "Lab-1": invalid name')


def test_guest_is_plugged_as_pve_plugs_a_nic(own_lab, capsys):
    lab = own_lab
    # the vnet bridges stand in for what the agent creates (tests/kernel/test_seed_* do it for real)
    lab.run("node1", "ip", "link", "add", "lv1", "mtu", "1450", "type", "bridge")
    lab.run("node1", "ip", "link", "add", "lv2", "type", "bridge")
    lab.run("node1", "ip", "link", "set", "lv1", "up")
    lab.run("node1", "ip", "link", "set", "lv2", "up")
    lab.guest("g1", node="node1", vnet="lv1", ip="10.0.1.14/24")
    lab.guest("g2", node="node1", vnet="lv2", ip="10.0.2.14/24", mac="bc:24:11:00:00:02")
    port = lab.links("node1")["veth100i0"]
    assert port["master"] == "lv1" and port["mtu"] == 1450  # the bridge's MTU
    assert port["linkinfo"]["info_slave_data"]["isolated"] is True  # vnet isolate-ports
    assert ip_json(lab, "g1", "link", "show", "dev", "eth0")[0]["mtu"] == 1450
    port2 = lab.links("node1")["veth101i0"]
    assert port2["linkinfo"]["info_slave_data"]["learning"] is False  # zone disables MAC learning
    fdb = json.loads(lab.run("node1", "bridge", "-j", "fdb", "show", "dev", "veth101i0").stdout)
    assert any(e["mac"] == "bc:24:11:00:00:02" and "static" in e.get("state", "") for e in fdb)
    vlan = lab.lab("guest", "add", "g3", "--node", "node1", "--vnet", "lv1", "--vlan", "10")
    assert fails(vlan, capsys, "not VLAN-aware")
    assert fails(lab.lab("guest", "add", "g1", "--node", "node1", "--vnet", "lv1"), capsys, "already exists")
    assert lab.run("g3", "true", check=False).returncode != 0  # the refused guest left nothing behind


def test_guest_del_removes_its_namespace(own_lab, capsys):
    lab = own_lab
    lab.run("node2", "ip", "link", "add", "lv1", "type", "bridge")
    lab.run("node2", "ip", "link", "set", "lv1", "up")
    lab.guest("g9", node="node2", vnet="lv1")
    assert lab.run("g9", "true").returncode == 0
    assert lab.lab("guest", "del", "g9")[0] == 0
    assert lab.run("g9", "true", check=False).returncode != 0
    assert fails(lab.lab("guest", "del", "g9"), capsys, 'no guest "g9"')
