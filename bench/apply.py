"""Benchmark of the reconciler (``sdnkit.realize.apply_plan``) on a real kernel, as root.

For N VXLAN vnets (each a bridge with an address + a vxlan device + 2 peer flood entries), each in a
fresh network namespace:

* floor: ``ip -batch`` + ``bridge -batch`` creating exactly the same objects, and ``sysctl -p``
  setting their forwarding switches (IPv4 and IPv6 on each bridge, as ifupdown2 does);
* ours from empty, then a no-op re-apply, then +1 vnet on top of N, and +1 vnet on an empty node;
* ifupdown2 ``ifreload -a`` on the rendered interfaces file: from empty, no-op, +1 vnet;
* with ``--mechanisms``: pyroute2's IPRoute creating the same objects (the alternative to batches).

Each "ours" run is a fresh process (``python bench/apply.py _apply ...``): interpreter start-up,
imports and building the plan count, as they do for ``sdn agent``. Kernel events during the no-op
runs are counted with ``ip monitor``. The median of ``--runs`` runs is printed, with the ratios the
goals are stated in (bench/README.md, "apply").

    .venv/bin/python bench/apply.py [--n 1000] [--runs 5] [--no-ifupdown2] [--mechanisms]
"""

from __future__ import annotations

import argparse
import ipaddress
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported lazily: the parent process does not need sdnkit loaded
    from sdnkit.plan.desired import NodePlan

REPO = Path(__file__).resolve().parent.parent
IFUPDOWN2 = REPO / "scripts" / "ifupdown2.sh"
PEERS = ("192.0.2.2", "192.0.2.3")
_COUNTER = itertools.count()


# -- the workload ------------------------------------------------------------------------------


def make_plan(n: int, version: int = 1) -> NodePlan:
    from sdnkit.plan.desired import Bridge, LinkRole, NodePlan, Vxlan

    peers = tuple(ipaddress.ip_address(p) for p in PEERS)
    links = []
    for i in range(n):
        name = f"vn{i}"
        gateway = ipaddress.ip_interface(f"10.{i // 250}.{i % 250}.1/24")
        links.append(
            Bridge(name=name, ports=(f"vxlan_{name}",), mtu=1450, addresses=(gateway,), role=LinkRole.VNET)
        )
        links.append(
            Vxlan(name=f"vxlan_{name}", vni=1000 + i, remote_ips=peers, mtu=1450, role=LinkRole.VNET_PORT)
        )
    return NodePlan(node="bench", version=version, links=tuple(sorted(links, key=lambda lk: lk.name)))


def floor_batches(n: int) -> tuple[str, str]:
    """The same objects as ``make_plan(n)``, as the shortest ip/bridge batches."""
    ip_lines, bridge_lines = [], []
    for i in range(n):
        br, vx = f"vn{i}", f"vxlan_vn{i}"
        ip_lines += [
            f"link add {br} type bridge stp_state 0 forward_delay 0",
            f"link set dev {br} mtu 1450",
            f"link add {vx} mtu 1450 type vxlan id {1000 + i} dstport 4789",
            f"link set dev {vx} master {br}",
            f"link set dev {br} up",
            f"link set dev {vx} up",
            f"address add 10.{i // 250}.{i % 250}.1/24 dev {br}",
        ]
        bridge_lines += [f"fdb append 00:00:00:00:00:00 dev {vx} dst {peer}" for peer in PEERS]
    return "\n".join(ip_lines) + "\n", "\n".join(bridge_lines) + "\n"


# -- namespaces --------------------------------------------------------------------------------


class Namespaces:
    """Fresh namespaces, each destroyed and waited for before the next is made (the kernel frees
    a namespace's devices asynchronously, and that work would slow the next measurement)."""

    def __init__(self) -> None:
        self.tag = f"bap{os.getpid() % 100000}"
        self.probe = f"{self.tag}-probe"
        subprocess.run(["ip", "netns", "add", self.probe], check=True)

    @contextmanager
    def fresh(self) -> Iterator[str]:
        name = f"{self.tag}-{next(_COUNTER)}"
        canary = f"cn{next(_COUNTER)}"
        subprocess.run(["ip", "netns", "add", name], check=True)
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "-n", name, "link", "add", canary, "type", "veth", "peer", "name", canary,
                        "netns", self.probe], check=True)  # fmt: skip
        try:
            yield name
        finally:
            subprocess.run(["ip", "netns", "del", name], check=True)
            self._wait_gone(canary)

    def _wait_gone(self, canary: str, timeout: float = 900.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            argv = ["ip", "-n", self.probe, "link", "show", canary]
            gone = subprocess.run(argv, check=False, capture_output=True)
            if gone.returncode != 0:
                return
            time.sleep(0.05)
        raise TimeoutError(f"namespace with {canary} still being destroyed after {timeout} s")

    def close(self) -> None:
        subprocess.run(["ip", "netns", "del", self.probe], check=False)


@contextmanager
def kernel_events(netns: str, quiet: float = 1.0, limit: float = 30.0) -> Iterator[list[int]]:
    """Count the rtnetlink events (links, addresses, neighbours/FDB, routes) during the block.

    Waits first until the namespace has been quiet for ``quiet`` seconds: IPv6 duplicate address
    detection on fresh links reports for a while after they were made.
    """
    argv = ["ip", "-n", netns, "monitor", "link", "address", "neigh", "route"]
    mon = subprocess.Popen(argv, stdout=subprocess.PIPE)
    assert mon.stdout is not None
    fd = mon.stdout.fileno()
    os.set_blocking(fd, False)

    def drain() -> bytes:
        chunks = []
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)

    count: list[int] = []
    try:
        deadline, last = time.monotonic() + limit, time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - last < quiet:
            if drain():
                last = time.monotonic()
            time.sleep(0.05)
        yield count
        time.sleep(0.3)
        count.append(len([line for line in drain().splitlines() if line.strip()]))
    finally:
        mon.terminate()  # it holds the namespace: it must go before the namespace can
        mon.wait()


def timed(func: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


# -- the contenders ----------------------------------------------------------------------------


def floor_sysctls(n: int) -> str:
    """The forwarding switches ifupdown2 (and so sdnkit) sets on a bridge with an address."""
    return "".join(f"net.ipv{v}.conf.vn{i}.forwarding = 1\n" for i in range(n) for v in (4, 6))


def run_floor(netns: str, n: int) -> tuple[float, float]:
    """Seconds for the links alone, and for the links and their forwarding sysctls."""
    ip_text, bridge_text = floor_batches(n)
    sysctl_text = floor_sysctls(n)

    def links() -> None:
        subprocess.run(["ip", "-n", netns, "-batch", "-"], input=ip_text, text=True, check=True)
        subprocess.run(["bridge", "-n", netns, "-batch", "-"], input=bridge_text, text=True, check=True)

    def sysctls() -> None:
        argv = ["nsenter", f"--net=/run/netns/{netns}", "sysctl", "-q", "-p", "-"]
        subprocess.run(argv, input=sysctl_text, text=True, check=True)

    links_seconds = timed(links)[0]
    return links_seconds, links_seconds + timed(sysctls)[0]


def run_ours(
    netns: str, n: int, state_dir: Path, version: int = 1, incremental: bool = False
) -> tuple[float, dict[str, float]]:
    argv = [sys.executable, __file__, "_apply", "--n", str(n), "--netns", netns, "--state", str(state_dir),
            "--version", str(version), *(["--incremental"] if incremental else [])]  # fmt: skip
    seconds, done = timed(lambda: subprocess.run(argv, capture_output=True, text=True, check=False))
    if done.returncode != 0:  # type: ignore[attr-defined]
        raise RuntimeError(f"reconciler failed: {done.stderr}")  # type: ignore[attr-defined]
    return seconds, json.loads(done.stdout.splitlines()[-1])  # type: ignore[attr-defined]


def run_ifupdown2(netns: str, workdir: Path, n: int) -> float:
    from sdnkit.render.ifupdown import render_interfaces

    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "interfaces").write_text(render_interfaces(make_plan(n)))
    argv = [str(IFUPDOWN2), "run", netns, str(workdir), "ifreload", "-a"]
    seconds, done = timed(lambda: subprocess.run(argv, capture_output=True, text=True, check=False))
    if done.returncode != 0:  # type: ignore[attr-defined]
        raise RuntimeError(f"ifreload failed: {done.stderr}")  # type: ignore[attr-defined]
    return seconds


PYROUTE2 = """
import sys, time
t0 = time.perf_counter()
from pyroute2 import IPRoute
n, ns = int(sys.argv[1]), sys.argv[2]
with IPRoute(netns=ns) as ipr:
    for i in range(n):
        br, vx = f"vn{i}", f"vxlan_vn{i}"
        ipr.link("add", ifname=br, kind="bridge", br_stp_state=0, br_forward_delay=0)
        ipr.link("set", ifname=br, mtu=1450)
        ipr.link("add", ifname=vx, kind="vxlan", vxlan_id=1000 + i, vxlan_port=4789, mtu=1450)
        ipr.link("set", ifname=vx, master=ipr.link_lookup(ifname=br)[0])
        ipr.link("set", ifname=br, state="up")
        ipr.link("set", ifname=vx, state="up")
        gateway = f"10.{i // 250}.{i % 250}.1"
        ipr.addr("add", index=ipr.link_lookup(ifname=br)[0], address=gateway, prefixlen=24)
        for peer in ("192.0.2.2", "192.0.2.3"):
            ipr.fdb("append", ifindex=ipr.link_lookup(ifname=vx)[0], lladdr="00:00:00:00:00:00", dst=peer)
"""


def run_pyroute2(netns: str, n: int) -> float:
    argv = [sys.executable, "-c", PYROUTE2, str(n), netns]
    return timed(lambda: subprocess.run(argv, check=True))[0]


# -- one run, the table ------------------------------------------------------------------------


def one_run(spaces: Namespaces, args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    n, out = args.n, {}
    with spaces.fresh() as ns:
        out["floor_links"], out["floor"] = run_floor(ns, n)
    with spaces.fresh() as ns:
        state = tmp / f"state-{ns}"
        out["ours_empty"], inner = run_ours(ns, n, state)
        out["ours_empty_inner"] = inner["apply"]
        with kernel_events(ns) as events:
            out["ours_noop"], inner = run_ours(ns, n, state)
        out["ours_noop_changes"], out["ours_noop_events"] = inner["changes"], events[0]
        out["ours_plus1_on_n"], _ = run_ours(ns, n + 1, state, version=2)
        out["ours_plus1_on_n_incr"], _ = run_ours(ns, n + 2, state, version=3, incremental=True)
    with spaces.fresh() as ns:
        out["ours_plus1_on_0"], _ = run_ours(ns, 1, tmp / f"state-{ns}")
    if args.ifupdown2:
        with spaces.fresh() as ns:
            work = tmp / f"ifu-{ns}"
            out["ifu_empty"] = run_ifupdown2(ns, work, n)
            with kernel_events(ns) as events:
                out["ifu_noop"] = run_ifupdown2(ns, work, n)
            out["ifu_noop_events"] = events[0]
            out["ifu_plus1_on_n"] = run_ifupdown2(ns, work, n + 1)
    if args.mechanisms:
        with spaces.fresh() as ns:
            out["pyroute2"] = run_pyroute2(ns, n)
    return out


def report(runs: list[dict[str, float]], args: argparse.Namespace) -> None:
    import statistics  # (the child processes of the benchmark do without it: they are timed)

    med = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    print(f"\nN = {args.n} VXLAN vnets, median of {len(runs)} run(s); times in seconds\n")
    rows = [
        ("floor: ip -batch + bridge -batch", med["floor_links"]),
        ("floor: the same + sysctl -p (forwarding)", med["floor"]),
        ("ours: from empty (process)", med["ours_empty"]),
        ("ours: from empty (apply_plan only)", med["ours_empty_inner"]),
        ("ours: no-op", med["ours_noop"]),
        ("ours: +1 vnet on N (full)", med["ours_plus1_on_n"]),
        ("ours: +1 vnet on N (incremental)", med["ours_plus1_on_n_incr"]),
        ("ours: +1 vnet on 0", med["ours_plus1_on_0"]),
    ]
    if args.ifupdown2:
        rows += [
            ("ifupdown2 ifreload -a: from empty", med["ifu_empty"]),
            ("ifupdown2: no-op", med["ifu_noop"]),
            ("ifupdown2: +1 vnet on N", med["ifu_plus1_on_n"]),
        ]
    if args.mechanisms:
        rows.append(("pyroute2 IPRoute, same objects", med["pyroute2"]))
    for label, value in rows:
        print(f"  {label:<40} {value:9.3f}")
    print("\n  ratio                                      value   goal")
    goals = [
        ("ours from empty / floor with sysctls", med["ours_empty"] / med["floor"], "<= 1.3"),
        ("ours from empty / floor of links only", med["ours_empty"] / med["floor_links"], "(info)"),
    ]
    if args.ifupdown2:
        goals += [
            ("ifreload from empty / ours", med["ifu_empty"] / med["ours_empty"], ">= 20"),
            ("ifreload no-op / ours no-op", med["ifu_noop"] / med["ours_noop"], ">= 50"),
        ]
    goals.append(
        ("ours +1 on N / +1 on 0 (incremental)", med["ours_plus1_on_n_incr"] / med["ours_plus1_on_0"], "<= 2")
    )
    goals.append(("ours +1 on N / +1 on 0 (full)", med["ours_plus1_on_n"] / med["ours_plus1_on_0"], "(info)"))
    if args.mechanisms:
        goals.append(("pyroute2 / floor of links", med["pyroute2"] / med["floor_links"], "(mechanism)"))
    for label, value, goal in goals:
        print(f"  {label:<40} {value:7.2f}   {goal}")
    events = f"{med['ours_noop_changes']:.0f} changes, {med['ours_noop_events']:.0f} kernel events"
    print(f"\n  ours no-op: {events}", end="")
    print(f"; ifupdown2 no-op: {med['ifu_noop_events']:.0f} kernel events" if args.ifupdown2 else "")


def _apply(args: argparse.Namespace) -> None:
    """The child: build the plan and apply it; one JSON line with the inner timings."""
    start = time.perf_counter()
    from sdnkit.realize import apply_plan

    plan = make_plan(args.n, args.version)
    built = time.perf_counter()
    result = apply_plan(plan, netns=args.netns, state_dir=Path(args.state), incremental=args.incremental)
    done = time.perf_counter()
    print(
        json.dumps({"import_and_plan": built - start, "apply": done - built, "changes": len(result.changes)})
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="bench", choices=["bench", "_apply"])
    parser.add_argument("--n", type=int, default=1000, help="number of vnets (default 1000)")
    parser.add_argument("--runs", type=int, default=5, help="runs to take the median of (default 5)")
    parser.add_argument("--no-ifupdown2", dest="ifupdown2", action="store_false", help="skip ifupdown2")
    parser.add_argument("--mechanisms", action="store_true", help="also time pyroute2's IPRoute")
    parser.add_argument("--netns", help=argparse.SUPPRESS)
    parser.add_argument("--state", help=argparse.SUPPRESS)
    parser.add_argument("--version", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--incremental", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode == "_apply":
        _apply(args)
        return
    if os.geteuid() != 0:
        sys.exit("bench/apply.py needs root (network namespaces)")
    import shutil
    import tempfile

    if args.ifupdown2:
        subprocess.run([str(IFUPDOWN2), "prepare"], check=True, capture_output=True)
    spaces = Namespaces()
    tmp = Path(tempfile.mkdtemp(prefix="bench-apply-"))
    try:
        runs = []
        for i in range(args.runs):
            runs.append(one_run(spaces, args, tmp))
            print(
                f"run {i + 1}/{args.runs}: " + ", ".join(f"{k}={v:.3f}" for k, v in runs[-1].items()),
                flush=True,
            )
        report(runs, args)
    finally:
        spaces.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    main()
