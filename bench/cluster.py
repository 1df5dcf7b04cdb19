"""Cluster benchmark: from ``sdn apply --wait`` to "every node applied", for 1, 3 and 10 lab nodes
with agents on etcd, as ratios against the one-node lab measured in the same run.

    .venv/bin/python bench/cluster.py [--nodes 1,3,10] [--runs 5]

For each size N: ``sdn lab up --nodes N --etcd`` (one etcd member for N < 3, three on node1-3
otherwise), a VXLAN zone over every node (peers 192.0.2.1..N) with one vnet, applied, and
``sdn lab agents start``: a long-running ``sdn agent`` in every node's namespace, on etcd over the
underlay. Then ``--runs`` times: one more vnet pending (made with ``sdn vnet create``, not
timed), and the clock runs from the start of the ``sdn apply --wait`` command a user types to its
exit, which is when every node's status record says it applied the new version. The moment each
``<node>: applied version V`` line appears is kept too, to see which node came last.

The goal (issue 9.7): 10 nodes within 1.5x of one node, the nodes working in parallel. On this
2-core machine ten agents share two cores, so their passes run at most two at a time: the
report gives the agents' CPU time per pass (from ``/proc/<pid>/stat``) so the figure can be read
against what the cores allow.

It **fails** unless every run's command succeeds with every node applied at the new version, and
every node's kernel then holds each new vnet's bridge with the flood entries to the N-1 other
nodes (``ip -j link``, ``bridge -j fdb``). Service operations per second on etcd against the local
directory are ``bench/store.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

SDN = str(Path(sys.executable).with_name("sdn"))
ZONE = "bcz"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def run(argv: list[str], env: dict[str, str] | None = None) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:6])}... failed ({done.returncode}): {done.stderr}{done.stdout}")
    return done.stdout


@dataclass
class Lab:
    name: str
    nodes: int
    env: dict[str, str] = field(default_factory=dict)

    def sdn(self, *argv: str) -> str:
        return run([SDN, *argv], env={**os.environ, **self.env})

    def ns(self, node: str) -> str:
        return f"{self.name}-{node}"

    def node_names(self) -> list[str]:
        return [f"node{i}" for i in range(1, self.nodes + 1)]

    def peers(self, node: str) -> set[str]:
        index = int(node[4:])
        return {f"192.0.2.{i}" for i in range(1, self.nodes + 1) if i != index}

    def agent_pids(self) -> dict[str, int]:
        found = json.loads(self.sdn("-o", "json", "lab", "status"))["members"]
        return {m["name"]: m["agent"] for m in found if m.get("role") == "node" and m.get("agent")}

    def etcd_pids(self) -> dict[str, int]:
        rows = json.loads(self.sdn("-o", "json", "lab", "etcd", "status"))
        return {f"etcd-{r['node']}": r["pid"] for r in rows if r.get("pid")}

    def converged(self) -> bool:
        rows = json.loads(self.sdn("-o", "json", "status"))
        return len(rows) == self.nodes and all(
            r["state"] == "up" and r["applied"] == r["running"] for r in rows
        )

    def holds(self, node: str, vnet: str) -> bool:
        """The kernel of ``node`` has the vnet's bridge up and floods to every other node."""
        shown = run(["ip", "-n", self.ns(node), "-j", "link", "show"])
        links = {lk["ifname"]: lk for lk in json.loads(shown)}
        if vnet not in links or links[vnet].get("operstate") != "UP":
            return False
        fdb = json.loads(run(["bridge", "-n", self.ns(node), "-j", "fdb", "show", "dev", f"vxlan_{vnet}"]))
        return {e["dst"] for e in fdb if e["mac"] == "00:00:00:00:00:00" and "dst" in e} == self.peers(node)


@contextmanager
def etcd_lab(nodes: int) -> Iterator[Lab]:
    lab = Lab(f"bcl{os.getpid() % 10000}n{nodes}", nodes)
    try:
        run([SDN, "lab", "up", "--nodes", str(nodes), "--etcd", "--name", lab.name])
        lab.env = dict(json.loads(run([SDN, "-o", "json", "lab", "env", "--name", lab.name])))
        peers = ",".join(f"192.0.2.{i}" for i in range(1, nodes + 1))
        lab.sdn("zone", "create", ZONE, "--type", "vxlan", "--peers", peers)
        lab.sdn("vnet", "create", "bcv0", "--zone", ZONE, "--tag", "7000")
        lab.sdn("apply")
        lab.sdn("lab", "agents", "start")
        deadline = time.monotonic() + 300
        while not lab.converged():
            if time.monotonic() > deadline:
                raise SystemExit(f"lab {lab.name}: the agents did not converge")
            time.sleep(0.5)
        yield lab
    finally:
        argv = [SDN, "lab", "down", "--name", lab.name]
        subprocess.run(argv, capture_output=True, check=False, timeout=600)


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """CPU time of each agent so far, its own and its finished children's (``ip``, ``bridge``,
    ``nft``, ``ping``): ``/proc/<pid>/stat`` fields 14 to 17."""
    found = {}
    for node, pid in pids.items():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        found[node] = sum(int(f) for f in fields[11:15]) / CLK_TCK
    return found


@dataclass(frozen=True)
class Run:
    total: float  # the command, start to exit
    commit: float  # to "running version V committed": the command's start-up and the commit
    first: float  # to the first node's "applied" line
    last: float  # to the last node's
    cpu: float  # the agents' CPU seconds for the pass, mean per node
    cli: float  # the CPU seconds of the sdn apply --wait process
    etcd: float  # the etcd members' CPU seconds meanwhile, all members


def one_apply(
    lab: Lab, vnet: str, tag: int, pids: dict[str, int], members: dict[str, int]
) -> tuple[Run, list[str]]:
    lab.sdn("vnet", "create", vnet, "--zone", ZONE, "--tag", str(tag))
    before = cpu_seconds({**pids, **members})
    seen: dict[str, float] = {}
    start = time.monotonic()
    proc = subprocess.Popen([SDN, "apply", "--wait", "--timeout", "120"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **lab.env})  # fmt: skip
    assert proc.stdout is not None
    lines, commit = [], 0.0
    for line in proc.stdout:
        node, sep, event = line.rstrip("\n").partition(": ")
        if line.startswith("running version ") and " committed" in line:
            commit = time.monotonic() - start
        elif sep and node in pids:
            seen[node] = time.monotonic() - start
            lines.append(f"{node}: {event}")
    err = proc.stderr.read() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    total = time.monotonic() - start
    proc.returncode = rc = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    if proc.stderr:
        proc.stderr.close()
    after = cpu_seconds({**pids, **members})
    problems = [] if rc == 0 and commit else [f"{vnet}: sdn apply --wait exited {rc}: {err.strip()}"]
    applied = [line for line in lines if line.split(": ", 1)[1].startswith("applied version ")]
    if len(seen) != lab.nodes or len(applied) != len(lines):
        problems.append(f"{vnet}: not every node applied: {lines}")
    problems += [f"{vnet}: {n}'s kernel lacks it" for n in lab.node_names() if not lab.holds(n, vnet)]
    spent = statistics.mean(after[n] - before[n] for n in pids)
    values = sorted(seen.values()) or [total]
    etcd = sum(after[m] - before[m] for m in members)
    return Run(total, commit, values[0], values[-1], spent, usage.ru_utime + usage.ru_stime, etcd), problems


def measure(nodes: int, runs: int) -> tuple[list[Run], list[str]]:
    results, problems = [], []
    with etcd_lab(nodes) as lab:
        pids, members = lab.agent_pids(), lab.etcd_pids()
        if set(pids) != set(lab.node_names()):
            raise SystemExit(f"lab {lab.name}: agents on {sorted(pids)}")
        one_apply(lab, "bcw", 7999, pids, members)  # a warm-up: the first incremental pass of each agent
        for i in range(1, runs + 1):
            result, found = one_apply(lab, f"bcv{i}", 7000 + i, pids, members)
            results.append(result)
            problems += found
            print(f"  {nodes:>2} nodes, run {i}: {result.total:.2f} s", flush=True)
    return results, problems


def report(measured: dict[int, list[Run]]) -> None:
    """Medians per size; ratios against the smallest lab (one node by default)."""
    ref_size = min(measured)

    def med(nodes: int, what: str) -> float:
        runs = measured[nodes]
        if what == "agents":  # from the commit to the last node's report: the nodes' part
            return statistics.median(r.last - r.commit for r in runs)
        return statistics.median(getattr(r, what) for r in runs)

    print(f"\nmedian of {len(measured[ref_size])} runs, seconds; x: against {ref_size} node(s)")
    print(f"{'nodes':>5} {'apply --wait':>12} {'x':>6} {'commit':>7} {'commit to last node':>20} {'x':>6}"
          f" {'first node':>10} {'last node':>9} {'CPU: agent/pass':>15} {'agents':>6}"
          f" {'etcd':>5} {'sdn':>5}")  # fmt: skip
    for nodes in measured:
        total, agents = med(nodes, "total"), med(nodes, "agents")
        commit = med(nodes, "commit")
        print(f"{nodes:>5} {total:>12.2f} {total / med(ref_size, 'total'):>5.2f}x {commit:>7.2f}"
              f" {agents:>20.2f} {agents / med(ref_size, 'agents'):>5.2f}x {med(nodes, 'first'):>10.2f}"
              f" {med(nodes, 'last'):>9.2f} {med(nodes, 'cpu'):>15.3f} {nodes * med(nodes, 'cpu'):>6.2f}"
              f" {med(nodes, 'etcd'):>5.2f} {med(nodes, 'cli'):>5.2f}")  # fmt: skip
    if 10 in measured and 1 in measured:
        ratio = med(10, "total") / med(1, "total")
        print(f"\n10 nodes / 1 node (sdn apply --wait): {ratio:.2f}x (goal <= 1.5x): "
              + ("met" if ratio <= 1.5 else "NOT met"))  # fmt: skip
        cores = os.cpu_count() or 1
        floor = med(1, "total") + (10 / cores - 1) * med(10, "cpu")
        print(f"what {cores} cores allow for 10 agents' passes (1 node's time + the other agents' CPU "
              f"spread over the cores): {floor:.2f} s, {floor / med(1, 'total'):.2f}x")  # fmt: skip
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/cluster.py")
    parser.add_argument("--nodes", default="1,3,10", help="lab sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(n) for n in args.nodes.split(",")]
    root = Path(tempfile.mkdtemp(prefix="sdnkit-bench-cluster-"))
    root.chmod(0o755)
    os.environ["SDN_LAB_DIR"] = str(root)
    measured: dict[int, list[Run]] = {}
    problems: list[str] = []
    try:
        for nodes in sizes:
            measured[nodes], found = measure(nodes, args.runs)
            problems += found
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report(measured)
    for p in problems:
        print(f"FAILED: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
