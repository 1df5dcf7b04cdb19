"""The lab's fixed topology: nodes laid out like Proxmox VE hosts, an underlay switch, ``outside``.

::

      L-node1                   L-node2                      L-outside
    ┌──────────────────┐      ┌──────────────────┐        ┌────────────────────┐
    │ vmbr0 192.0.2.1  │      │ vmbr0 192.0.2.2  │  ...   │ eth0 192.0.2.254   │
    │  └ eth0 ─────────┼──┐   │  └ eth0 ─────────┼──┐     │ (no route to guest │
    │ default via .254 │  │   │ default via .254 │  │     │  subnets)          │
    └──────────────────┘  │   └──────────────────┘  │     └─────────┬──────────┘
                        ┌─┴─────────────────────────┴─────────────────┴─┐
                        │ L-sw: bridge br0, ports n1 n2 ... out           │
                        └─────────────────────────────────────────────────┘

The switch is a plain bridge, so VLAN and QinQ tagged frames cross it unchanged. Veth pairs are
created directly in their namespaces: the root namespace never holds a lab interface.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable

from sdnkit.lab.batch import Batch, Line, run_batch, run_batches, wait_ready
from sdnkit.lab.state import LabState

UNDERLAY_PREFIX = "192.0.2"
UNDERLAY_LEN = 24
OUTSIDE_HOST = 254


def node_address(index: int) -> str:
    return f"{UNDERLAY_PREFIX}.{index}"


def outside_address() -> str:
    return f"{UNDERLAY_PREFIX}.{OUTSIDE_HOST}"


def namespaces(state: LabState) -> tuple[str, ...]:
    return (state.ns("sw"), *(state.ns(n) for n in state.node_names), state.ns("outside"))


def _root_lines(state: LabState) -> list[Line]:
    lines: list[Line] = [("netns", "add", ns) for ns in namespaces(state)]
    sw = state.ns("sw")
    for i, node in enumerate(state.node_names, start=1):
        lines.append(
            (
                "link",
                "add",
                "eth0",
                "netns",
                state.ns(node),
                "type",
                "veth",
                "peer",
                "name",
                node_port(i),
                "netns",
                sw,
            )
        )
    lines.append(
        (
            "link",
            "add",
            "eth0",
            "netns",
            state.ns("outside"),
            "type",
            "veth",
            "peer",
            "name",
            "out",
            "netns",
            sw,
        )
    )
    return lines


def node_port(index: int) -> str:
    """The switch's port of node ``index``."""
    return f"n{index}"


def _switch_lines(state: LabState) -> list[Line]:
    ports = [node_port(i) for i in range(1, state.nodes + 1)] + ["out"]
    lines: list[Line] = [
        ("link", "set", "lo", "up"),
        ("link", "add", "br0", "type", "bridge", "stp_state", 0),
    ]
    for port in ports:
        lines += [("link", "set", port, "master", "br0"), ("link", "set", port, "up")]
    lines.append(("link", "set", "br0", "up"))
    return lines


def _node_lines(index: int) -> list[Line]:
    """A PVE host: ``vmbr0`` (stp off, fd 0) with port ``eth0`` carries the node's address."""
    return [
        ("link", "set", "lo", "up"),
        ("link", "add", "vmbr0", "type", "bridge", "stp_state", 0, "forward_delay", 0),
        ("link", "set", "eth0", "master", "vmbr0"),
        ("link", "set", "eth0", "up"),
        ("link", "set", "vmbr0", "up"),
        ("addr", "add", f"{node_address(index)}/{UNDERLAY_LEN}", "dev", "vmbr0"),
        ("route", "add", "default", "via", outside_address()),
    ]


def _outside_lines() -> list[Line]:
    return [
        ("link", "set", "lo", "up"),
        ("addr", "add", f"{outside_address()}/{UNDERLAY_LEN}", "dev", "eth0"),
        ("link", "set", "eth0", "up"),
    ]


def build(state: LabState) -> None:
    """Create every namespace and link of the lab (about 0.1 s for 3 nodes)."""
    run_batch(None, _root_lines(state))
    # the switch's ports first: bringing both ends of a veth up at the same moment from two
    # processes can leave the pair without carrier (seen on 6.18), so the two ends never race
    run_batch(state.ns("sw"), _switch_lines(state))
    batches = [Batch(state.ns("outside"), tuple(_outside_lines()))]
    batches += [Batch(state.ns(n), tuple(_node_lines(i))) for i, n in enumerate(state.node_names, start=1)]
    run_batches(batches)
    wait_ready({state.ns(n): ("vmbr0", "eth0") for n in state.node_names} | {state.ns("outside"): ("eth0",)})
    for name in state.node_names:
        _host_forwarding(state.ns(name))


def _host_forwarding(netns: str) -> None:
    """What ifupdown2 does on a PVE host for vmbr0, a bridge with an address: forwarding on, so
    that replies to a guest's SNAT'ed traffic are routed back in from the uplink."""
    knobs = ("net.ipv4.conf.vmbr0.forwarding=1", "net.ipv6.conf.vmbr0.forwarding=1")
    subprocess.run(["ip", "netns", "exec", netns, "sysctl", "-qw", *knobs], check=True, capture_output=True)


def existing_namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def delete_namespaces(names: Iterable[str]) -> None:
    """Delete the namespaces that exist (their links go with them, asynchronously in the kernel)."""
    present = existing_namespaces()
    lines: list[Line] = [("netns", "del", ns) for ns in names if ns in present]
    if lines:
        run_batch(None, lines)


def set_node_port(state: LabState, node: str, up: bool) -> None:
    """Cut a node off the underlay (its switch port down: no carrier on its ``eth0``), or reconnect it."""
    run_batch(state.ns("sw"), [("link", "set", node_port(state.node_index(node)), "up" if up else "down")])
    if up:
        wait_ready({state.ns(node): ("eth0",), state.ns("sw"): (node_port(state.node_index(node)),)})


def connected_nodes(state: LabState) -> set[str]:
    """The nodes whose switch port is up."""
    done = subprocess.run(
        ["ip", "-n", state.ns("sw"), "-j", "link", "show"], capture_output=True, text=True, check=False
    )
    up = {lk["ifname"] for lk in json.loads(done.stdout or "[]") if "UP" in lk.get("flags", ())}
    return {n for i, n in enumerate(state.node_names, start=1) if node_port(i) in up}
