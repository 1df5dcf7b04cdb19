"""Guests: a network namespace plugged into a vnet bridge the way Proxmox VE plugs a NIC.

PVE's ``tap_plug``/``veth_create`` (spec §3.7, pve-common ``Network.pm``), which this follows:

* the node side is a veth named ``veth<vmid>i<n>``, both ends with the bridge's MTU unless the NIC
  sets one;
* ``isolated on`` when the vnet has ``isolate-ports``; ``learning off`` plus a static FDB entry for
  the guest's MAC when the zone has ``bridge-disable-mac-learning``;
* a VLAN tag only on a VLAN-aware vnet (``bridge vlan del vid 1``, ``add vid T pvid untagged``);
  PVE refuses a tag on any other vnet, and so does the lab;
* a vnet not deployed on the node (zone ``nodes``) is refused: "vnet X is not allowed on this node".
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import subprocess
from contextlib import ExitStack
from dataclasses import dataclass

from sdnkit.config.running import RunningConfig
from sdnkit.errors import ConfigError, NotFoundError
from sdnkit.lab.batch import Batch, Line, run_batch, run_batches, wait_ready
from sdnkit.lab.state import Guest, LabState, check_guest_name
from sdnkit.lab.topology import delete_namespaces


@dataclass(frozen=True, slots=True, kw_only=True)
class GuestSpec:
    """What ``sdn lab guest add`` asks for (already parsed)."""

    name: str
    node: str
    vnet: str
    ip: ipaddress.IPv4Interface | ipaddress.IPv6Interface | None = None
    gw: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    mtu: int | None = None
    mac: str | None = None
    vlan: int | None = None
    dhcp: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class PortPolicy:
    """How the node plugs a NIC into this vnet (from the running config and the live bridge)."""

    isolated: bool
    learning: bool
    vlan_aware: bool
    bridge_mtu: int


def guest_mac(lab: str, guest: str) -> str:
    """A stable MAC in Proxmox's OUI (BC:24:11), derived from the lab and guest names."""
    digest = hashlib.sha256(f"{lab}/{guest}".encode()).digest()
    return "bc:24:11:" + ":".join(f"{b:02x}" for b in digest[:3])


def bridge_facts(netns: str, bridge: str) -> tuple[int, bool] | None:
    """(MTU, vlan-aware) of a bridge in a namespace; None when it does not exist."""
    done = subprocess.run(
        ["ip", "-n", netns, "-j", "-d", "link", "show", "dev", bridge],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    link = json.loads(done.stdout)[0]
    data = link.get("linkinfo", {}).get("info_data", {})
    return int(link["mtu"]), bool(data.get("vlan_filtering", 0))


def port_policy(state: LabState, running: RunningConfig, spec: GuestSpec) -> PortPolicy:
    config = running.config
    vnet = config.vnets.get(spec.vnet)
    if vnet is None:
        raise NotFoundError(f'vnet "{spec.vnet}" is not in the running config (sdn apply)', obj=spec.vnet)
    zone = config.zones.get(vnet.zone)
    if zone is None:
        raise NotFoundError(
            f'vnet "{spec.vnet}": zone "{vnet.zone}" is not in the running config', obj=spec.vnet
        )
    if not zone.on_node(spec.node):
        raise ConfigError(f'vnet "{spec.vnet}" is not allowed on node "{spec.node}" (zone "{zone.id}" nodes)')
    facts = bridge_facts(state.ns(spec.node), spec.vnet)
    if facts is None:
        raise NotFoundError(
            f'vnet "{spec.vnet}": no bridge on {spec.node} yet (sdn lab apply --name {state.name})',
            obj=spec.vnet,
        )
    mtu, vlan_aware = facts
    if spec.vlan is not None and not vlan_aware:
        raise ConfigError(
            f'guest "{spec.name}": vnet "{spec.vnet}" is not VLAN-aware, a VLAN tag is not allowed',
            key="vlan",
        )
    return PortPolicy(
        isolated=vnet.isolate_ports,
        learning=not zone.bridge_disable_mac_learning,
        vlan_aware=vlan_aware,
        bridge_mtu=mtu,
    )


def _node_lines(guest: Guest, policy: PortPolicy, mtu: int) -> list[Line]:
    port = guest.ifname
    flags: list[str | int] = []
    if policy.isolated:
        flags += ["isolated", "on"]
    if not policy.learning:
        flags += ["learning", "off"]
    lines: list[Line] = [("link", "set", port, "mtu", mtu), ("link", "set", port, "master", guest.vnet)]
    if flags:
        lines.append(("link", "set", "dev", port, "type", "bridge_slave", *flags))
    lines.append(("link", "set", port, "up"))
    return lines


def _bridge_lines(guest: Guest, policy: PortPolicy) -> list[Line]:
    port = guest.ifname
    lines: list[Line] = []
    if guest.vlan is not None:
        lines += [
            ("vlan", "del", "dev", port, "vid", 1),
            ("vlan", "add", "dev", port, "vid", guest.vlan, "pvid", "untagged"),
        ]
    if not policy.learning:
        lines.append(("fdb", "append", guest.mac, "dev", port, "master", "static"))
    return lines


def _guest_lines(guest: Guest, mtu: int) -> list[Line]:
    lines: list[Line] = [
        ("link", "set", "lo", "up"),
        ("link", "set", "eth0", "address", guest.mac),
        ("link", "set", "eth0", "mtu", mtu),
    ]
    if guest.ip:
        lines.append(("addr", "add", guest.ip, "dev", "eth0"))
    lines.append(("link", "set", "eth0", "up"))
    if guest.gw:
        lines.append(("route", "add", "default", "via", guest.gw))
    return lines


def plug(state: LabState, guest: Guest, policy: PortPolicy) -> None:
    """Create the guest namespace and its veth, and plug it; on any failure remove it all again."""
    mtu = guest.mtu or policy.bridge_mtu
    node_ns = state.ns(guest.node)
    with ExitStack() as undo:
        run_batch(
            None,
            [
                ("netns", "add", guest.netns),
                (
                    "link",
                    "add",
                    "eth0",
                    "netns",
                    guest.netns,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    guest.ifname,
                    "netns",
                    node_ns,
                ),
            ],
        )
        undo.callback(delete_namespaces, [guest.netns])
        # one end after the other: see topology.build about veth carrier
        run_batch(node_ns, _node_lines(guest, policy, mtu))
        run_batches([Batch(node_ns, tuple(_bridge_lines(guest, policy)), "bridge"),
                     Batch(guest.netns, tuple(_guest_lines(guest, mtu)))])  # fmt: skip
        wait_ready({node_ns: (guest.ifname,), guest.netns: ("eth0",)})
        undo.pop_all()


def make_guest(state: LabState, spec: GuestSpec) -> Guest:
    """The guest record for ``spec`` (checked: a new valid name, a lab node, coherent options)."""
    check_guest_name(spec.name)
    if spec.name in state.guests:
        raise ConfigError(f'guest "{spec.name}" already exists in lab "{state.name}"', obj=spec.name)
    state.node_index(spec.node)
    if spec.dhcp and (spec.ip or spec.gw or spec.vlan is not None or spec.mtu):
        raise ConfigError(
            f'guest "{spec.name}": --dhcp takes its address, gateway and MTU from DHCP; '
            "--ip, --gw, --mtu and --vlan do not go with it",
            obj=spec.name,
            key="dhcp",
        )
    return Guest(
        name=spec.name,
        node=spec.node,
        vnet=spec.vnet,
        vmid=state.next_vmid(),
        netns=state.guest_ns(spec.name),
        mac=(spec.mac or guest_mac(state.name, spec.name)).lower(),
        ip=str(spec.ip) if spec.ip else None,
        gw=str(spec.gw) if spec.gw else None,
        mtu=spec.mtu,
        vlan=spec.vlan,
        dhcp=spec.dhcp,
    )
