"""Node agents in the lab: one pass on every node (``sdn lab apply``), or long-lived agents.

Each agent is the real ``sdn agent`` command: ``sdn lab apply`` runs ``sdn agent --once --netns
<node>`` for every node in a forked child each (in parallel); ``sdn lab agents start`` starts
``sdn agent`` processes inside the nodes' namespaces (``ip netns exec``), so they gather their
facts and realize exactly as on a real node. Only the node name, the state directory and the
``frr.conf.local`` path point into the lab's folder. On an etcd lab, every agent talks to etcd
from inside its node's namespace, over the underlay (the members' 192.0.2.x addresses), as an
agent on a real node does; the one-pass children enter their node's namespace for that.
Long-lived agents run in their own session, log to ``<lab>/<node>/agent.log``, and are stopped by
their recorded pid (after checking that the pid still is our agent).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdnkit.lab import children, etcdlab
from sdnkit.lab.state import LabState, LabStore

CLONE_NEWNET = 0x40000000


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeResult:
    node: str
    ok: bool
    seconds: float
    status: dict[str, Any] | None = None  # the agent's status record
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        st = self.status or {}
        bad = {k: v.get("statusmsg") for k, v in st.get("vnets", {}).items() if v.get("status") == "error"}
        return {
            "node": self.node,
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "version": st.get("version"),
            "applied": st.get("applied"),
            "changes": st.get("changes"),
            "error": self.error
            or st.get("error")
            or ("; ".join(f"{k}: {v}" for k, v in sorted(bad.items())) or None),
        }


def agent_args(state: LabState, node: str, *, once: bool) -> list[str]:
    """The ``sdn`` arguments of a node's agent."""
    home = LabStore(state.name).node_dir(node)
    store = etcdlab.agent_url(state) if state.etcd is not None else state.config_dir
    return [
        "--config-dir", store, "--output", "json",
        "agent", *(["--once"] if once else []), "--node", node,
        "--state-dir", str(home / "agent"), "--frr-local", str(home / "frr.conf.local"),
        "--dhcp-root", str(home / "dhcp"),
        "--frr", "direct", "--frr-confdir", str(home / "frr"), "--frr-rundir", str(home / "frr"),
    ]  # fmt: skip


def agent_argv(state: LabState, node: str) -> list[str]:
    """A long-lived agent: its own ``sdn`` process inside the node's namespace."""
    return ["ip", "netns", "exec", state.ns(node), sys.executable, "-m", "sdnkit.cli.main",
            *agent_args(state, node, once=False)]  # fmt: skip


def enter_netns(name: str) -> None:
    """Move this process into network namespace ``name`` (``os.setns`` is Python 3.12+)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into {name}: {os.strerror(err)}")
    finally:
        os.close(fd)


def _fork_agent(args: list[str], out: Path, netns: str | None = None) -> int:
    """``sdn agent --once`` in a forked child of this (already imported) process: a fresh Python
    costs 0.3 s here and over 1 s inside UML. Output goes to ``out`` (stdout) and ``out.err``.
    With ``netns``, the child runs in that namespace (its own connections start from there)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    rc = 1
    try:
        if netns is not None:
            enter_netns(netns)
        for path, fd in ((out, 1), (out.with_suffix(".err"), 2)):
            target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(target, fd)
        # the parent's sys.stdout may be redirected in-process (tests): write to the fds
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        from sdnkit.cli.main import main

        rc = main(args)
    except BaseException as exc:  # the parent reads the exit code and stderr
        print(f"agent: {exc!r}", file=sys.stderr)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)


def _result(node: str, rc: int, out: Path, seconds: float) -> NodeResult:
    text = out.read_text() if out.exists() else ""
    try:
        record = json.loads(text)
    except json.JSONDecodeError:
        err = out.with_suffix(".err")
        lines = err.read_text().strip().splitlines() if err.exists() else []
        return NodeResult(
            node=node, ok=False, seconds=seconds, error=(lines or [f"agent exited with {rc}"])[-1]
        )
    return NodeResult(node=node, ok=rc == 0, seconds=seconds, status=record)


def apply_all(state: LabState) -> list[NodeResult]:
    """Run the agent once on every node (``--netns`` of its node), all in parallel."""
    started = time.monotonic()
    store = LabStore(state.name)
    outs = {node: store.node_dir(node) / "apply.out" for node in state.node_names}
    inside = state.etcd is not None  # the store is reached over the node's underlay
    pids = {
        _fork_agent([*agent_args(state, node, once=True), "--netns", state.ns(node)], outs[node],
                    state.ns(node) if inside else None): node
        for node in state.node_names
    }  # fmt: skip
    results = {}
    while pids:  # only our children: this process may have others (a guest's DHCP client)
        for pid, node in list(pids.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                del pids[pid]
                rc = os.waitstatus_to_exitcode(status)
                results[node] = _result(node, rc, outs[node], time.monotonic() - started)
        time.sleep(0.005)
    return [results[n] for n in state.node_names]


def _is_our_agent(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"sdnkit.cli.main" in cmdline and b"agent" in cmdline


def agent_pid(state: LabState, node: str) -> int | None:
    pid = state.agents.get(node)
    return pid if pid and _is_our_agent(pid) else None


def start(state: LabState, node: str) -> int:
    log_path = LabStore(state.name).node_dir(node) / "agent.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            agent_argv(state, node),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return children.keep(proc)


def stop(pid: int, timeout: float = 5.0) -> None:
    """Stop one agent we started: SIGTERM, then SIGKILL after ``timeout``."""
    if not _is_our_agent(pid):
        children.forget(pid, wait=5.0)  # ours and no agent any more: it is exiting
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _is_our_agent(pid):
            children.forget(pid, wait=5.0)  # its cmdline goes before it can be reaped
            return
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                children.forget(pid, wait=5.0)
                return
        except ChildProcessError:
            pass  # not our child (started by an earlier `sdn lab agents start`)
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    children.forget(pid, wait=5.0)


def stop_all(state: LabState) -> None:
    for pid in state.agents.values():
        stop(pid)
