"""An etcd lab driven by the commands a user types, and read back from the kernel.

``EtcdLabCli.up(nodes)`` runs ``sdn lab up --nodes N --etcd --name LAB``; every command after that
is the real ``sdn`` in a process of its own with the environment ``eval "$(sdn lab env)"`` gives
(``SDN_STORE``, ``SDN_LAB``), as a user runs it. What the nodes did is read from the kernel
(``ip -j``, ``bridge -j``, pings between guests), what the cluster says from ``sdn status -o json``.
``down()`` removes the lab (its agents, members, namespaces and host link).

Waits use :func:`agentproc.wait_until` (a bound that keeps a broken test from hanging, not a
timed assertion).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .agentproc import SDN, wait_until
from .conftest import unique_name

NODES3 = ("node1", "node2", "node3")


@dataclass
class EtcdLabCli:
    name: str
    nodes: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)  # what `sdn lab env` printed
    agent_env: dict[str, str] = field(default_factory=dict)  # more environment for the agents

    @classmethod
    def up(cls, nodes: int, prefix: str = "fa") -> EtcdLabCli:
        lab = cls(name=unique_name(prefix), nodes=tuple(f"node{i}" for i in range(1, nodes + 1)))
        argv = [SDN, "lab", "up", "--nodes", str(nodes), "--etcd", "--name", lab.name]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
        if done.returncode != 0:
            lab.down()
            raise AssertionError(f"sdn lab up: {done.stderr}{done.stdout}")
        printed = subprocess.run([SDN, "-o", "json", "lab", "env", "--name", lab.name],
                                 capture_output=True, text=True, timeout=60, check=True).stdout  # fmt: skip
        lab.env = dict(json.loads(printed))
        return lab

    def down(self) -> None:
        subprocess.run(
            [SDN, "lab", "down", "--name", self.name], capture_output=True, timeout=300, check=False
        )

    # the commands ---------------------------------------------------------------------------
    def run_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {**os.environ, **self.env, **(extra or {})}

    def sdn(
        self, *argv: str, check: bool = True, extra_env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([SDN, *argv], capture_output=True, text=True, timeout=300, check=False,
                              env=self.run_env(extra_env))  # fmt: skip
        if check:
            assert done.returncode == 0, f"sdn {' '.join(argv)}: {done.stderr}{done.stdout}"
        return done

    @contextlib.contextmanager
    def background(self, *argv: str) -> Iterator[subprocess.Popen[str]]:
        """``sdn ARGV`` in the background for the block (``finish`` collects it; killed if left)."""
        proc = subprocess.Popen([SDN, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.run_env())  # fmt: skip
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=60)

    @staticmethod
    def finish(proc: subprocess.Popen[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
        out, err = proc.communicate(timeout=timeout)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def json(self, *argv: str) -> Any:
        return json.loads(self.sdn("-o", "json", *argv).stdout)

    def status(self) -> dict[str, dict[str, Any]]:
        """``sdn status -o json``, by node."""
        return {r["node"]: r for r in self.json("status")}

    def members(self) -> dict[str, dict[str, Any]]:
        """``sdn lab etcd status``, by node."""
        return {r["node"]: r for r in self.json("lab", "etcd", "status")}

    def agent_pids(self) -> dict[str, int]:
        """The running agents' pids, from ``sdn lab status``."""
        found = self.json("lab", "status")["members"]
        return {m["name"]: m["agent"] for m in found if m.get("role") == "node" and m.get("agent")}

    def start_agents(self) -> dict[str, int]:
        """``sdn lab agents start`` (it starts those that do not run), then every node up."""
        self.sdn("lab", "agents", "start", extra_env=self.agent_env)
        every_up = dict.fromkeys(self.nodes, "up")
        wait_until(lambda: {n: s["state"] for n, s in self.status().items()} == every_up, "every agent up")
        return self.agent_pids()

    def kill_agent(self, node: str) -> None:
        """SIGKILL the node's agent (``kill -9`` of the pid ``sdn lab status`` shows)."""
        pid = self.agent_pids()[node]
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: node not in self.agent_pids(), f"{node}'s agent gone")

    def converged(self) -> bool:
        """Every node up and at the running version."""
        found = self.status()
        return all(
            n in found and found[n]["state"] == "up" and found[n]["applied"] == found[n]["running"]
            for n in self.nodes
        )

    def running_version(self) -> int:
        return int(next(iter(self.status().values()))["running"])

    # the kernel ---------------------------------------------------------------------------
    def ns(self, member: str) -> str:
        return f"{self.name}-{member}" if member in self.nodes else f"{self.name}-g-{member}"

    def links(self, node: str) -> dict[str, dict[str, Any]]:
        """``ip -j -d link show`` in the node, by name."""
        out = subprocess.run(["ip", "-n", self.ns(node), "-j", "-d", "link", "show"],
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
        return {lk["ifname"]: lk for lk in json.loads(out)}

    def flood(self, node: str, vnet: str) -> set[str]:
        """The VTEPs the node floods the vnet's broadcasts to (``bridge fdb``, all-zero MAC)."""
        argv = ["bridge", "-n", self.ns(node), "-j", "fdb", "show", "dev", f"vxlan_{vnet}"]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return set()
        return {
            e["dst"]
            for e in json.loads(done.stdout or "[]")
            if e["mac"] == "00:00:00:00:00:00" and "dst" in e
        }

    def ping(self, guest: str, target: str, wait: int = 3) -> bool:
        argv = ["ip", "netns", "exec", self.ns(guest), "ping", "-n", "-q", "-c", "1", "-w", str(wait), target]
        return subprocess.run(argv, capture_output=True, check=False).returncode == 0

    def etcdctl(self, node: str, *argv: str) -> str:
        """etcd's own client inside ``node``, against the members' underlay addresses."""
        endpoints = ",".join(f"http://192.0.2.{i}:2379" for i in range(1, 4))
        argv_ = ["ip", "netns", "exec", self.ns(node), "etcdctl", "--endpoints", endpoints, *argv]
        return subprocess.run(argv_, capture_output=True, text=True, check=True, timeout=60).stdout


def node_lines(output: str, nodes: tuple[str, ...]) -> dict[str, str]:
    """The ``<node>: <event>`` lines of ``sdn apply --wait``, by node (the last one of each)."""
    found = {}
    for line in output.splitlines():
        node, sep, event = line.partition(": ")
        if sep and node in nodes:
            found[node] = event
    return found


def hold_markers(hold: Path) -> set[int]:
    """Pids of the agents stopped by the realizer's test hook at ``hold`` (realize/ipbatch.py)."""
    return {int(p.name.rsplit(".", 1)[1]) for p in hold.parent.glob(f"{hold.name}.*")}
