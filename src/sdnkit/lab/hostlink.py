"""The host link: one interface in a root namespace, plugged into a lab's switch.

It lets the host reach the members of an etcd lab (``sdn lab up --etcd``). The members listen
on their underlay address (192.0.2.x, which the agents on the nodes use) and also on a second
address on ``vmbr0`` in a **host-facing subnet** of the lab's own (by default the first free
/24 of 198.18.0.0/15, the benchmarking range of RFC 2544). The host cannot route to 192.0.2.x:
every lab uses that underlay, and a host may use it for itself (this machine's own network is
192.0.2.0/24 with its gateway at 192.0.2.1, the address of every lab's node1).

The link is one interface with one address (the subnet's last usable one, ``.254`` of a /24):
a veth whose peer is a port of the lab's switch, or for a lab inside User-Mode-Linux, the tap
device that is UML's network card (the UML kernel plugs its end into the switch there). Nothing
else on the host changes: the subnet's route is the only new route; forwarding is off on the
interface (even on a host that forwards), so the lab can never route through the host; no IPv6
on it; ARP is answered only for its own address (``arp_ignore=1``), so the host never claims a
lab node's 192.0.2.x with one of its own addresses. ``sdn lab down`` deletes it.

A host-wide lock (not in the lab folder: labs with different ``SDN_LAB_DIR`` share the host)
serializes choosing a subnet and creating the link, so labs side by side get different
subnets. A subnet is free when no route (any table) and no address of the host overlaps it.
"""

from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import json
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sdnkit.errors import ConfigError, RealizeError
from sdnkit.lab.batch import Line, run_batch
from sdnkit.lab.state import HostLink, LabState

POOL = ipaddress.IPv4Network("198.18.0.0/15")
POOL_PREFIX = 24
UNDERLAY = ipaddress.IPv4Network("192.0.2.0/24")
LOCK = Path("/run/sdnkit/hostlink.lock")
SWITCH_PORT = "host"  # the veth peer's name in the switch namespace
MAX_PREFIX = 29  # room for three members, the host and a UML lab's inner host


def link_name(lab: str) -> str:
    """The interface name of a lab's host link: 14 characters, one per lab name."""
    return "sdnl" + hashlib.sha256(lab.encode()).hexdigest()[:10]


def member_address(subnet: str, index: int) -> str:
    """The host-facing address of node ``index`` (node1 → .1)."""
    return str(ipaddress.IPv4Network(subnet).network_address + index)


def host_address(subnet: str, *, outer: bool = False) -> str:
    """The host link's address with prefix length: the last usable address (``.254`` of a
    /24); ``outer``: the one before, for the real host of a UML lab (the UML's root namespace
    has the last one, as in any lab)."""
    net = ipaddress.IPv4Network(subnet)
    return f"{net.broadcast_address - (2 if outer else 1)}/{net.prefixlen}"


# --- choosing a subnet ------------------------------------------------------------------------


@contextmanager
def reserving() -> Iterator[None]:
    """Hold the host-wide lock while a subnet is chosen and its link created."""
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _ip_json(*args: str) -> list[dict[str, object]]:
    done = subprocess.run(["ip", "-j", "-4", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RealizeError(f"lab: ip {' '.join(args)} failed: {done.stderr.strip()}")
    return list(json.loads(done.stdout or "[]"))


def used_networks() -> list[ipaddress.IPv4Network]:
    """Every IPv4 network the host routes (any table) or has an address in; not the default."""
    nets = []
    for route in _ip_json("route", "show", "table", "all"):
        dst = str(route.get("dst", ""))
        if dst and dst != "default":
            nets.append(ipaddress.IPv4Network(dst, strict=False))
    for link in _ip_json("addr", "show"):
        for info in link.get("addr_info", ()):  # type: ignore[attr-defined]
            nets.append(ipaddress.IPv4Network(f"{info['local']}/{info['prefixlen']}", strict=False))
    return nets


def free_subnet(used: Iterable[ipaddress.IPv4Network]) -> ipaddress.IPv4Network:
    """The first /24 of the pool that overlaps nothing in ``used``."""
    used = list(used)
    for candidate in POOL.subnets(new_prefix=POOL_PREFIX):
        if not any(candidate.overlaps(net) for net in used):
            return candidate
    raise ConfigError(f"lab: every /{POOL_PREFIX} of {POOL} is in use on this host (--etcd-subnet CIDR)")


def check_subnet(text: str, used: Iterable[ipaddress.IPv4Network]) -> ipaddress.IPv4Network:
    """A subnet given with ``--etcd-subnet``: IPv4, room for its addresses, clear of the host's."""
    try:
        net = ipaddress.IPv4Network(text)
    except ValueError as err:
        raise ConfigError(
            f"--etcd-subnet: {text!r} is not an IPv4 network: {err}", key="etcd-subnet", value=text
        ) from None
    if net.prefixlen > MAX_PREFIX:
        raise ConfigError(
            f"--etcd-subnet: {net} is smaller than a /{MAX_PREFIX}", key="etcd-subnet", value=text
        )
    if net.overlaps(UNDERLAY):
        raise ConfigError(f"--etcd-subnet: {net} overlaps the lab underlay {UNDERLAY}", key="etcd-subnet")
    for other in used:
        if net.overlaps(other):
            raise ConfigError(
                f"--etcd-subnet: {net} overlaps {other}, which this host already uses", key="etcd-subnet"
            )
    return net


def choose_subnet(wanted: str | None) -> str:
    """``wanted`` checked, else the first free subnet; call it under :func:`reserving`."""
    used = used_networks()
    return str(check_subnet(wanted, used) if wanted else free_subnet(used))


# --- creating and removing it ---------------------------------------------------------------


def _isolate(ifname: str) -> None:
    """What keeps the link to itself (see the module docstring); per interface, so nothing else
    on the host changes."""
    for path, value in (
        (f"ipv6/conf/{ifname}/disable_ipv6", "1"),
        (f"ipv4/conf/{ifname}/forwarding", "0"),
        (f"ipv4/conf/{ifname}/arp_ignore", "1"),
        (f"ipv4/conf/{ifname}/arp_announce", "2"),
    ):
        Path("/proc/sys/net", path).write_text(value)


def _address_lines(link: HostLink, lab: str) -> list[Line]:
    return [
        ("link", "set", link.ifname, "alias", f"sdnkit-lab-{lab}"),
        ("addr", "add", link.address, "dev", link.ifname),
        ("link", "set", link.ifname, "up"),
    ]


def create_veth(state: LabState, link: HostLink) -> None:
    """A veth from this namespace into the lab's switch (a lab on this kernel)."""
    sw = state.ns("sw")
    run_batch(None, [("link", "add", link.ifname, "type", "veth", "peer", "name", SWITCH_PORT, "netns", sw)])
    # the switch's end first: both ends coming up at once from two processes can lose the carrier
    run_batch(sw, [("link", "set", SWITCH_PORT, "master", "br0"), ("link", "set", SWITCH_PORT, "up")])
    _isolate(link.ifname)
    run_batch(None, _address_lines(link, state.name))


def create_tap(state: LabState, link: HostLink) -> None:
    """A persistent tap for the lab's UML kernel to open (``vec0:transport=tap``)."""
    run_batch(None, [("tuntap", "add", "dev", link.ifname, "mode", "tap")])
    _isolate(link.ifname)
    run_batch(None, _address_lines(link, state.name))


def read_link(ifname: str) -> dict[str, Any] | None:
    """``ip -j link show dev IFNAME`` of this namespace, or None when there is no such link."""
    argv = ["ip", "-j", "-d", "link", "show", "dev", ifname]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return None
    links = json.loads(done.stdout or "[]")
    return dict(links[0]) if links else None


def remove(state: LabState, link: HostLink | None) -> None:
    """Delete the lab's link (its veth peer goes with it); only the interface this lab made, found
    by its recorded name and checked by its alias."""
    info = read_link(link.ifname) if link is not None else None
    if link is None or info is None:
        return
    if info.get("ifalias") not in (None, f"sdnkit-lab-{state.name}"):
        return  # not ours (a lab elsewhere made one by the same name): leave it alone
    run_batch(None, [("link", "del", link.ifname)])


def plan(state: LabState, subnet: str, *, kind: str = "veth", outer: bool = False) -> HostLink:
    return HostLink(ifname=link_name(state.name), address=host_address(subnet, outer=outer), kind=kind)


def switch_port_lines(device: str) -> list[Line]:
    """Lines, in the switch's namespace, that make a moved-in device (UML's ``vec0``) a port."""
    return [("link", "set", device, "master", "br0"), ("link", "set", device, "up")]
