"""The etcd cluster of an etcd lab (``sdn lab up --etcd``): members on the first nodes.

Three members on node1..node3 (one on node1 in a lab of one or two nodes: an etcd cluster of two
tolerates no failure and has two members that can fail), each in its node's namespace::

    client  http://192.0.2.<i>:2379      the underlay: the nodes' agents use it
            http://<subnet>.<i>:2379     the host-facing address on vmbr0 (lab/hostlink.py)
    peers   http://192.0.2.<i>:2380      the underlay

Data, log and pid file in ``<lab>/<node>/etcd/``. Members are started and stopped by their
recorded pid (checked against the process's command line, so a reused pid is never signalled);
``sdn lab down`` also finds a member whose pid was never recorded (the command that started it
crashed first) by its data directory, which only this lab's member uses.
The store's key prefix is ``/sdnkit/<lab>/``: ``sdn lab env`` prints the store URL for the host
(the host-facing addresses), the agents get the underlay one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from sdnkit.errors import ConfigError, RealizeError
from sdnkit.lab import children
from sdnkit.lab.batch import Batch
from sdnkit.lab.etcd import EtcdMember, etcd_binary, log_tail
from sdnkit.lab.hostlink import member_address
from sdnkit.lab.state import EtcdLab, LabState, LabStore
from sdnkit.lab.topology import node_address

CLIENT_PORT = 2379
PEER_PORT = 2380
MEMBERS = 3
READY_TIMEOUT = 60.0  # three members inside UML take about 6 s
STOP_TIMEOUT = 10.0
# a long-running lab (make run) must not grow without bound; a snapshot frees the write-ahead log
MEMBER_ARGS = (
    "--auto-compaction-mode", "periodic", "--auto-compaction-retention", "1h", "--snapshot-count", "10000",
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class EtcdOptions:
    """How ``sdn lab up --etcd`` makes the lab's etcd."""

    subnet: str | None = None  # the host-facing subnet; None: the first free one
    switch_port: str | None = None  # a lab inside UML: the UML's network device to the real host
    election_ms: int = 500  # inside UML (one slow CPU for everything) longer


def plan(state: LabState, subnet: str, election_ms: int = 500) -> EtcdLab:
    members = state.node_names[:MEMBERS] if state.nodes >= MEMBERS else state.node_names[:1]
    return EtcdLab(members=members, subnet=subnet, prefix=f"/sdnkit/{state.name}/", election_ms=election_ms)


def _etcd(state: LabState) -> EtcdLab:
    if state.etcd is None:
        raise ConfigError(f'lab "{state.name}" has no etcd (sdn lab up --etcd)')
    return state.etcd


def member(state: LabState, node: str) -> EtcdMember:
    etcd = _etcd(state)
    if node not in etcd.members:
        raise ConfigError(
            f'lab "{state.name}": node "{node}" runs no etcd member (members: {", ".join(etcd.members)})',
            obj=node,
        )
    index = state.node_index(node)
    return EtcdMember(
        name=node,
        data_dir=LabStore(state.name).node_dir(node) / "etcd",
        client_url=f"http://{node_address(index)}:{CLIENT_PORT}",
        also_listen=(f"http://{member_address(etcd.subnet, index)}:{CLIENT_PORT}",),
        peer_url=f"http://{node_address(index)}:{PEER_PORT}",
        netns=state.ns(node),
        election_ms=etcd.election_ms,
        extra_args=MEMBER_ARGS,
    )


def _url(state: LabState, address: Any) -> str:
    etcd = _etcd(state)
    hosts = ",".join(f"{address(state.node_index(n))}:{CLIENT_PORT}" for n in etcd.members)
    return f"etcd://{hosts}{etcd.prefix}"


def agent_url(state: LabState) -> str:
    """The store URL the nodes use: the members' underlay addresses."""
    return _url(state, node_address)


def host_url(state: LabState) -> str:
    """The store URL the host uses: the members' host-facing addresses."""
    subnet = _etcd(state).subnet
    return _url(state, lambda i: member_address(subnet, i))


def host_client_url(state: LabState, node: str) -> str:
    return f"http://{member_address(_etcd(state).subnet, state.node_index(node))}:{CLIENT_PORT}"


def address_batches(state: LabState) -> list[Batch]:
    """The members' host-facing addresses, on ``vmbr0`` beside the underlay address."""
    etcd = _etcd(state)
    prefix = etcd.subnet.split("/")[1]
    return [
        Batch(state.ns(n), (("addr", "add", f"{member_address(etcd.subnet, state.node_index(n))}/{prefix}",
                             "dev", "vmbr0"),))
        for n in etcd.members
    ]  # fmt: skip


# --- processes --------------------------------------------------------------------------------


def _pid_file(m: EtcdMember) -> Path:
    return m.data_dir / "pid"


def _is_member(pid: int, m: EtcdMember) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return f"--data-dir\0{m.data_dir / 'data'}\0".encode() in cmdline


def member_pid(state: LabState, node: str) -> int | None:
    """The pid of the node's running member, or None."""
    m = member(state, node)
    try:
        pid = int(_pid_file(m).read_text())
    except (OSError, ValueError):
        return None
    return pid if _is_member(pid, m) else None


def _initial_cluster(state: LabState) -> str:
    return ",".join(f"{n}={member(state, n).peer_url}" for n in _etcd(state).members)


def _spawn(state: LabState, node: str) -> None:
    m = member(state, node)
    m.data_dir.mkdir(parents=True, exist_ok=True)
    argv = m.argv(etcd_binary(), _initial_cluster(state), f"sdnkit-{state.name}", None)
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,  # it outlives this command; a Ctrl-C here is not its to handle
    )  # fmt: skip
    _pid_file(m).write_text(str(children.keep(proc)))
    # until it has exec'd, the child's command line is ours: member_pid() would not know it
    deadline = time.monotonic() + STOP_TIMEOUT
    while not _is_member(proc.pid, m) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)


def healthy(state: LabState, node: str) -> bool:
    """``GET /health`` through the member's host-facing address (it needs a leader to say yes)."""
    try:
        resp = httpx.get(f"{host_client_url(state, node)}/health", timeout=1.0, trust_env=False)
    except httpx.HTTPError:
        return False
    return resp.status_code == 200 and resp.json().get("health") == "true"


def wait_healthy(state: LabState, nodes: tuple[str, ...], timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    pending = list(nodes)
    while pending:
        for node in list(pending):
            if member_pid(state, node) is None:
                tail = log_tail(member(state, node))
                raise RealizeError(f'etcd member "{node}" of lab "{state.name}" exited: {tail}', obj=node)
            if healthy(state, node):
                pending.remove(node)
        if pending and time.monotonic() > deadline:
            tail = log_tail(member(state, pending[0]))
            raise RealizeError(f"etcd members {', '.join(pending)} not healthy in {timeout:g} s: {tail}")
        if pending:
            time.sleep(0.05)


def start(state: LabState, nodes: tuple[str, ...] | None = None) -> None:
    """Start the members (all by default) that are not running; return once they are healthy.
    A member with data restarts from it and rejoins (etcd ignores the initial-cluster flags then)."""
    nodes = _etcd(state).members if nodes is None else nodes
    for node in nodes:
        if member_pid(state, node) is None:
            _spawn(state, node)
    wait_healthy(state, nodes)


def stop(state: LabState, node: str, sig: int = signal.SIGTERM) -> bool:
    """Stop one member (SIGKILL if it takes over STOP_TIMEOUT); whether it was running."""
    pid = member_pid(state, node)
    if pid is None:
        return False
    m = member(state, node)
    os.kill(pid, sig)
    deadline = time.monotonic() + STOP_TIMEOUT
    while _is_member(pid, m):  # an exited child of ours has no command line (a zombie)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)  # a member whose peers are gone can take long on SIGTERM
            deadline = time.monotonic() + STOP_TIMEOUT
        time.sleep(0.02)
    children.forget(pid, wait=STOP_TIMEOUT)  # reaped when this process started it
    _pid_file(m).unlink(missing_ok=True)
    return True


def _orphans(m: EtcdMember) -> list[int]:
    """Processes serving the member's data dir, found by it: a command that crashed between
    starting a member and writing its pid file leaves one that only its data dir names."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _is_member(int(entry.name), m):
            found.append(int(entry.name))
    return found


def stop_all(state: LabState) -> None:
    """Stop every member of the lab, by pid file and by data dir (``sdn lab down``)."""
    if state.etcd is None:
        return
    for node in state.etcd.members:
        m = member(state, node)
        if not m.data_dir.exists():
            continue
        stop(state, node)
        for pid in _orphans(m):
            _pid_file(m).write_text(str(pid))
            stop(state, node)


# --- status -----------------------------------------------------------------------------------


def _member_status(state: LabState, node: str) -> dict[str, Any]:
    """What the member says about itself (``/v3/maintenance/status``), or why it cannot."""
    try:
        resp = httpx.post(f"{host_client_url(state, node)}/v3/maintenance/status", json={}, timeout=1.0,
                          trust_env=False)  # fmt: skip
        data = resp.json()
    except (httpx.HTTPError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def status(state: LabState) -> list[dict[str, Any]]:
    """Per member: pid, whether it answers, whether it leads, its raft index."""
    rows = []
    own: dict[str, str] = {}
    for node in _etcd(state).members:
        pid = member_pid(state, node)
        data = _member_status(state, node) if pid else {}
        member_id = str(data.get("header", {}).get("member_id", ""))
        if member_id:
            own[member_id] = node
        rows.append({"node": node, "pid": pid, "answers": bool(data), "raft_index": data.get("raftIndex"),
                     "client": member(state, node).client_url, "host": host_client_url(state, node),
                     "leader_id": str(data.get("leader", ""))})  # fmt: skip
    for row in rows:
        row["leader"] = own.get(row.pop("leader_id")) if row["answers"] else None
        row["state"] = _state_word(row)
    return rows


def _state_word(row: dict[str, Any]) -> str:
    if row["pid"] is None:
        return "stopped"
    if not row["answers"]:
        return "unreachable"  # running, but not from here (the node is cut off)
    return "leader" if row["leader"] == row["node"] else "follower"
