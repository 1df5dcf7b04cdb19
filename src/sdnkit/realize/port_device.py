"""A guest port's device on a vnet bridge: a veth into a network namespace, or a tap.

This follows PVE's ``tap_plug``/``veth_create`` (spec §3.7): the node side takes the bridge's MTU,
joins the bridge, gets ``isolated on`` when the vnet has ``isolate-ports`` and ``learning off``
plus a static FDB entry for the guest MAC when MAC learning is disabled for the zone. The guest
side of a veth gets the port's MAC. A tap that already exists (a hypervisor made it) is only
plugged and, on removal, only unplugged; a tap we create is deleted again.

Every command is an argv list (names are checked interface names, the MAC a checked MAC). A
failure part-way removes what was created, so a device is either fully plugged or absent.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from enum import StrEnum

from sdnkit.errors import ConfigError, RealizeError

__all__ = ["DeviceKind", "PortDevice", "bridge_mtu", "link_exists", "netns_exists", "plug", "unplug"]

_IFNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,14}")
_NETNS = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")


class DeviceKind(StrEnum):
    VETH = "veth"
    TAP = "tap"


@dataclass(frozen=True, slots=True, kw_only=True)
class PortDevice:
    kind: DeviceKind
    name: str  # node side
    bridge: str
    mac: str
    node_netns: str | None = None  # namespace of the node's bridges; None: ours
    netns: str | None = None  # veth: the guest namespace
    ifname: str = "eth0"  # veth: the name inside the guest namespace
    isolated: bool = False
    learning: bool = True
    created: bool = True  # tap: False when it existed before (only plugged)

    def check(self) -> None:
        for key, value in (("device", self.name), ("ifname", self.ifname), ("bridge", self.bridge)):
            if not _IFNAME.fullmatch(value):
                raise ConfigError(f"invalid interface name {value!r} for {key}", key=key, value=value)
        for key, value in (("netns", self.netns), ("node netns", self.node_netns)):
            if value is not None and not _NETNS.fullmatch(value):
                raise ConfigError(f"invalid network namespace name {value!r}", key=key, value=value)
        if self.kind is DeviceKind.VETH and not self.netns:
            raise ConfigError("a veth port needs the guest network namespace", key="netns")


def _ip(netns: str | None, *args: str) -> list[str]:
    return ["ip", *(("-n", netns) if netns else ()), *args]


def _run(argv: list[str], what: str) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise RealizeError(f"{what}: {err}") from err
    if proc.returncode != 0:
        raise RealizeError(f"{what}: {(proc.stderr or proc.stdout).strip()}")
    return proc.stdout


def link_exists(name: str, netns: str | None) -> bool:
    argv = _ip(netns, "link", "show", "dev", name)
    return subprocess.run(argv, capture_output=True, check=False).returncode == 0


def netns_exists(name: str) -> bool:
    return subprocess.run(["ip", "netns", "pids", name], capture_output=True, check=False).returncode == 0


def bridge_mtu(bridge: str, netns: str | None) -> int:
    out = _run(_ip(netns, "-j", "link", "show", "dev", bridge), f'bridge "{bridge}" is not on this node')
    return int(json.loads(out)[0]["mtu"])


def _create(dev: PortDevice, mtu: int) -> None:
    node = dev.node_netns
    if dev.kind is DeviceKind.VETH:
        assert dev.netns is not None
        if not netns_exists(dev.netns):
            raise RealizeError(f'network namespace "{dev.netns}" does not exist')
        add = ["link", "add", dev.name, "mtu", str(mtu), "type", "veth", "peer", "name", dev.ifname]
        _run(_ip(node, *add, "netns", dev.netns), f"cannot create veth {dev.name}")
        _run(
            _ip(dev.netns, "link", "set", dev.ifname, "address", dev.mac, "mtu", str(mtu), "up"),
            f'cannot set up {dev.ifname} in "{dev.netns}"',
        )
    elif dev.created:
        _run(_ip(node, "tuntap", "add", "dev", dev.name, "mode", "tap"), f"cannot create tap {dev.name}")
        _run(_ip(node, "link", "set", dev.name, "mtu", str(mtu)), f"cannot set the MTU of {dev.name}")


def _attach(dev: PortDevice) -> None:
    node = dev.node_netns
    _run(
        _ip(node, "link", "set", dev.name, "master", dev.bridge), f"cannot plug {dev.name} into {dev.bridge}"
    )
    flags = ["isolated", "on" if dev.isolated else "off", "learning", "on" if dev.learning else "off"]
    _run(
        _ip(node, "link", "set", "dev", dev.name, "type", "bridge_slave", *flags),
        f"cannot set port flags of {dev.name}",
    )
    if not dev.learning:
        bridge = [
            "bridge",
            *(("-n", node) if node else ()),
            "fdb",
            "append",
            dev.mac,
            "dev",
            dev.name,
            "master",
            "static",
        ]
        _run(bridge, f"cannot add the static FDB entry of {dev.mac}")
    _run(_ip(node, "link", "set", dev.name, "up"), f"cannot set {dev.name} up")


def plug(dev: PortDevice) -> None:
    """Create (or take) the device and plug it into the bridge; all or nothing."""
    dev.check()
    mtu = bridge_mtu(dev.bridge, dev.node_netns)
    if dev.kind is DeviceKind.VETH and link_exists(dev.name, dev.node_netns):
        raise RealizeError(f"device {dev.name} already exists")
    _create(dev, mtu)
    try:
        _attach(dev)
    except RealizeError as err:
        try:
            unplug(dev)
        except RealizeError as undo:
            err.add_note(f"removing {dev.name} again failed too: {undo}")
        raise


def unplug(dev: PortDevice) -> None:
    """Remove the device (a veth takes its guest end along); a tap we did not create is only unplugged."""
    if not link_exists(dev.name, dev.node_netns):
        return
    if dev.kind is DeviceKind.TAP and not dev.created:
        _run(_ip(dev.node_netns, "link", "set", dev.name, "nomaster"), f"cannot unplug {dev.name}")
        return
    _run(_ip(dev.node_netns, "link", "del", dev.name), f"cannot delete {dev.name}")
