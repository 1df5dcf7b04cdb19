"""``sdn lab guest add --dhcp``: a guest that gets its address the way a PVE guest in a DHCP zone
does: a port (``service.ports.add_port``: IPAM address, the node's DHCP mapping, DNS, and the veth
plugged into the vnet bridge), then a DHCP client inside the guest (busybox ``udhcpc``), which stays
running like a guest's own and releases its lease when the guest is removed.

The DHCP server is the node agent's dnsmasq of the zone (``sdn lab apply`` starts it); both use
the node's lab folder ``<lab>/<node>/dhcp``. The client runs with our own hook script, never the
stock one (it would rewrite the host's /etc/resolv.conf). The lease (address, router) is recorded
in the lab state; removing the guest removes its port (address back to the IPAM, mapping gone).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

from sdnkit.errors import RealizeError
from sdnkit.lab import children
from sdnkit.lab.batch import run_batch
from sdnkit.lab.state import Guest, LabState, LabStore
from sdnkit.lab.topology import delete_namespaces

HOOK = """#!/bin/sh
# udhcpc hook of sdn lab: configures only the guest's own interface, and records the lease
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
    echo "$ip/${mask:-24} ${router%% *}" > "$SDN_LEASE_FILE" ;;
esac
exit 0
"""


def _settings(state: LabState, node: str) -> Any:
    """The node's DHCP settings, as its agent has them (``--dhcp-root <lab>/<node>/dhcp``)."""
    from sdnkit.dhcp.base import DhcpPaths, DhcpSettings

    paths = DhcpPaths.under(LabStore(state.name).node_dir(node) / "dhcp")
    return DhcpSettings(paths=paths, netns=state.ns(node))


def stop_servers(state: LabState, node: str) -> None:
    """Stop every DHCP server the node's agent started (its instances converge to none)."""
    from sdnkit.realize.dhcp import apply_dhcp

    if (LabStore(state.name).node_dir(node) / "dhcp").exists():
        apply_dhcp((), _settings(state, node))


def _context(state: LabState, node: str) -> Any:
    """The port service's view of a lab node (a PortContext)."""
    from sdnkit.realize.nftables import NftablesNat
    from sdnkit.service.ports import PortContext
    from sdnkit.store import open_store

    return PortContext(
        store=open_store(state.config_dir),
        node=node,
        node_netns=state.ns(node),
        dhcp=_settings(state, node),
        firewall=NftablesNat.available(),  # nftables inet family (not inside UML)
    )


def _hook(state: LabState) -> Path:
    hook = LabStore(state.name).dir / "udhcpc.sh"
    if not hook.exists():
        hook.write_text(HOOK)
        hook.chmod(0o755)
    return hook


def _is_client(pid: int) -> bool:
    try:
        return b"udhcpc" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def stop_client(pid: int | None) -> None:
    """End a guest's DHCP client we started; it sends a DHCPRELEASE first (``-R``), as a guest that
    shuts down cleanly does, so the server can give the address out again."""
    if pid is None or not _is_client(pid):
        if pid is not None:
            children.forget(pid, wait=5.0)  # ours and no client any more: it is exiting
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 3
    while _is_client(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.02)
    if _is_client(pid):
        os.kill(pid, signal.SIGKILL)
    children.forget(pid, wait=5.0)


def start_client(state: LabState, guest: Guest, timeout: float = 10.0) -> tuple[int, str, str | None]:
    """Start the guest's DHCP client (it stays, renewing, like a guest's); (pid, address, router)."""
    home = LabStore(state.name).dir
    lease = home / f"{guest.name}.lease"
    lease.unlink(missing_ok=True)
    argv = ["ip", "netns", "exec", guest.netns, "busybox", "udhcpc", "-i", "eth0", "-f", "-R",
            "-t", "5", "-T", "1", "-O", "mtu", "-s", str(_hook(state))]  # fmt: skip
    env = {**os.environ, "SDN_LEASE_FILE": str(lease)}
    with open(home / f"{guest.name}.dhcp.log", "ab") as log:
        proc = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    children.keep(proc)
    deadline = time.monotonic() + timeout
    while not lease.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if not lease.exists():
        stop_client(proc.pid)
        raise RealizeError(
            f'guest "{guest.name}": no DHCP lease on vnet "{guest.vnet}" within {timeout:g} s (is the '
            f"zone's DHCP server running? sdn lab apply; log: {home / (guest.name + '.dhcp.log')})",
            obj=guest.name,
        )
    address, _, router = lease.read_text().strip().partition(" ")
    return proc.pid, address, router or None


def plug(state: LabState, guest: Guest) -> Guest:
    """Create the guest's namespace and port, and lease its address; all or nothing."""
    from sdnkit.service.ports import PortSpec, add_port, del_port

    ctx = _context(state, guest.node)
    with ExitStack() as undo:
        run_batch(None, [("netns", "add", guest.netns)])
        undo.callback(delete_namespaces, [guest.netns])
        run_batch(guest.netns, [("link", "set", "lo", "up")])
        spec = PortSpec(
            vnet=guest.vnet, guest=str(guest.vmid), mac=guest.mac, hostname=guest.name, netns=guest.netns
        )
        add_port(ctx, spec)
        undo.callback(del_port, ctx, guest.vnet, str(guest.vmid), guest.mac)
        pid, address, router = start_client(state, guest)
        undo.pop_all()
    return replace(guest, ip=address, gw=router, client_pid=pid)


def unplug(state: LabState, guest: Guest) -> None:
    """Give the guest's port back (address, DHCP mapping, device), then remove its namespace."""
    from sdnkit.errors import NotFoundError
    from sdnkit.service.ports import del_port

    stop_client(guest.client_pid)
    with contextlib.suppress(NotFoundError):  # already gone: only the namespace is left
        del_port(_context(state, guest.node), guest.vnet, str(guest.vmid), guest.mac)
    delete_namespaces([guest.netns])
    for suffix in (".lease", ".dhcp.log"):
        (LabStore(state.name).dir / f"{guest.name}{suffix}").unlink(missing_ok=True)
