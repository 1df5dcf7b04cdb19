"""Port devices on a real bridge: veth into a namespace, tap, isolation, learning off + static FDB."""

from __future__ import annotations

import itertools
import json
import os
import subprocess

import pytest

from sdnkit.errors import RealizeError
from sdnkit.realize.port_device import DeviceKind, PortDevice, link_exists, plug, unplug

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.needs("root"),
]

_COUNTER = itertools.count()


def ip(ns: str, *args: str) -> str:
    return subprocess.run(["ip", "-n", ns, *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def node():
    tag = f"pd{os.getpid() % 10000}x{next(_COUNTER)}"
    node, guest = f"{tag}n", f"{tag}g"
    for ns in (node, guest):
        subprocess.run(["ip", "netns", "add", ns], check=True)
    ip(node, "link", "add", "vb1", "mtu", "1400", "type", "bridge")
    ip(node, "link", "set", "vb1", "up")
    yield node, guest
    for ns in (node, guest):
        subprocess.run(["ip", "netns", "del", ns], check=False)


def port_info(ns: str, dev: str) -> dict:
    out = subprocess.run(
        ["bridge", "-n", ns, "-j", "-d", "link", "show", "dev", dev],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)[0]


def test_veth_takes_the_bridge_mtu_the_mac_and_the_port_flags(node):
    node_ns, guest = node
    dev = PortDevice(kind=DeviceKind.VETH, name="veth100i0", bridge="vb1", mac="bc:24:11:00:20:01",
                     node_netns=node_ns, netns=guest, isolated=True, learning=False)  # fmt: skip
    plug(dev)
    info = port_info(node_ns, "veth100i0")
    assert info["master"] == "vb1" and info["isolated"] is True and info["learning"] is False
    fdb = subprocess.run(
        ["bridge", "-n", node_ns, "fdb", "show", "dev", "veth100i0"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert any("bc:24:11:00:20:01" in line and "static" in line for line in fdb.stdout.splitlines())
    inside = json.loads(ip(guest, "-j", "link", "show", "dev", "eth0"))[0]
    assert (
        inside["address"] == "bc:24:11:00:20:01" and inside["mtu"] == 1400 and inside["operstate"] != "DOWN"
    )
    unplug(dev)
    assert not link_exists("veth100i0", node_ns) and not link_exists("eth0", guest)


def test_tap_created_or_taken_over(node):
    node_ns, _guest = node
    made = PortDevice(
        kind=DeviceKind.TAP, name="tap100i0", bridge="vb1", mac="bc:24:11:00:20:02", node_netns=node_ns
    )
    plug(made)
    assert port_info(node_ns, "tap100i0")["master"] == "vb1"
    unplug(made)
    assert not link_exists("tap100i0", node_ns)
    # a tap the hypervisor made is plugged and unplugged, never deleted
    ip(node_ns, "tuntap", "add", "dev", "tap101i0", "mode", "tap")
    theirs = PortDevice(kind=DeviceKind.TAP, name="tap101i0", bridge="vb1", mac="bc:24:11:00:20:03",
                        node_netns=node_ns, created=False)  # fmt: skip
    plug(theirs)
    unplug(theirs)
    assert link_exists("tap101i0", node_ns)
    assert "master" not in json.loads(ip(node_ns, "-j", "link", "show", "dev", "tap101i0"))[0]


def test_a_failed_plug_leaves_no_device(node):
    node_ns, guest = node
    dev = PortDevice(kind=DeviceKind.VETH, name="veth102i0", bridge="nobridge", mac="bc:24:11:00:20:04",
                     node_netns=node_ns, netns=guest)  # fmt: skip
    with pytest.raises(RealizeError, match='bridge "nobridge" is not on this node'):
        plug(dev)
    assert not link_exists("veth102i0", node_ns)
