"""Benchmark: from ``sdn apply`` to the first cross-node, cross-vnet guest ping, in the seed's
3-node EVPN example, against a floor measured in the same run.

* ours: a fresh 3-node lab, the seed's EVPN example pending in a fresh store (controller ASN 65000,
  zone ``evpnzone`` with vrf-vxlan 10000, MTU 1450, exit nodes node1 and node2; vnets 11000 and
  12000 with 10.0.1.0/24 and 10.0.2.0/24). The clock starts at ``sdn apply``; then ``sdn lab
  apply`` (every node's agent, in parallel: facts, plan, links, FRR daemons started and loaded),
  the two guests plugged (vm1 on node1 in myvnet1, vm4 on node3 in myvnet2), and it stops at the
  first reply of a ``ping -i 0.05`` from vm1 to vm4 (node1 -> node3, routed through the L3VNI).
* floor: the same in another fresh lab, by hand: per node one ``ip -batch`` making the same links
  (the VRF, the L3VNI, the vnet bridges and their VXLAN ports, addresses, the anycast MAC, the
  bridge-port flags, the unreachable default of a non-exit node, the local table's rule) and one
  ``sysctl -w`` for their switches (forwarding on the vnet bridges and the L3VNI's bridge, as
  ifupdown2 and the agent set it), FRR started fresh (the same daemons, each as the agent starts
  them: zebra, then the others side by side) and the same ``frr.conf`` the agent wrote loaded as
  FRR's init does (``vtysh -b``), the guests plugged the same way, the same ping.

It **fails** unless both reach the ping, and unless both labs hold the same links (kind, master,
MTU, MAC, addresses, bridge-port flags, VXLAN settings, forwarding and arp_accept) on every
node. EVPN zones route in VRFs: on a kernel without VRF (this project's host) the benchmark runs
itself inside User-Mode-Linux (``--kernel auto``), where everything is slower (one CPU, forks
6-15x dearer); ratios hold.

    .venv/bin/python bench/evpn.py [--runs 3] [--kernel auto|host|uml]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
NODES = ("node1", "node2", "node3")
EXIT_NODES = ("node1", "node2")
ZONE, MAC = "evpnzone", "32:F4:05:FE:6C:0A"
VNETS = (("myvnet1", 11000, "10.0.1"), ("myvnet2", 12000, "10.0.2"))
# name, node, vnet, address, gateway: the seed's vm1, and a guest on node3 in the other vnet
GUESTS = (
    ("vm1", "node1", "myvnet1", "10.0.1.100", "10.0.1.1"),
    ("vm4", "node3", "myvnet2", "10.0.2.101", "10.0.2.1"),
)
PING_TIMEOUT = 180.0
VRF_TABLE = 1001  # what the agent's VRF gets (the first free table from 1001); checked below


def sdn(*argv: str) -> str:
    """The real ``sdn`` command in this process; its output; raises when it fails."""
    from sdnkit.cli.main import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(list(argv))
    if rc != 0:
        raise SystemExit(f"sdn {' '.join(argv)} failed ({rc}): {out.getvalue()}")
    return out.getvalue()


def sh(argv: list[str], stdin: str | None = None) -> str:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:6])}... failed: {done.stderr.strip()}")
    return done.stdout


# -- a lab ---------------------------------------------------------------------------------------


class Lab:
    def __init__(self, name: str, store: Path) -> None:
        self.name, self.store = name, store
        sdn("--config-dir", str(store), "lab", "up", "--nodes", "3", "--name", name, "--kernel", "host")

    def ns(self, member: str) -> str:
        return f"{self.name}-{member}" if member in (*NODES, "outside") else f"{self.name}-b-{member}"

    def down(self) -> None:
        sdn("--config-dir", str(self.store), "lab", "down", "--name", self.name)
        for name, *_ in GUESTS:
            subprocess.run(["ip", "netns", "del", self.ns(name)], capture_output=True, check=False)

    def frr_dir(self, node: str) -> Path:
        return Path(os.environ["SDN_LAB_DIR"]) / self.name / node / "frr"

    def plug(self) -> None:
        """The guests: a namespace each, a veth into the vnet bridge, MTU, address, gateway."""
        for i, (name, node, vnet, ip, gw) in enumerate(GUESTS):
            sh(["ip", "netns", "add", self.ns(name)])
            sh(["ip", "-n", self.ns(node), "-batch", "-"], stdin=(
                f"link add bp{i} type veth peer name eth0 netns {self.ns(name)}\n"
                f"link set bp{i} mtu 1450 master {vnet} up\n"
            ))  # fmt: skip
            sh(["ip", "-n", self.ns(name), "-batch", "-"], stdin=(
                f"link set lo up\nlink set eth0 mtu 1450 up\naddr add {ip}/24 dev eth0\n"
                f"route add default via {gw}\n"
            ))  # fmt: skip

    def first_ping(self, started: float) -> float:
        """Seconds from ``started`` to vm1's first echo reply from vm4."""
        argv = ["ip", "netns", "exec", self.ns("vm1"), "ping", "-n", "-i", "0.05", "-W", "1", GUESTS[1][3]]
        ping = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        timer = threading.Timer(PING_TIMEOUT, ping.kill)
        timer.start()
        try:
            assert ping.stdout is not None
            for line in ping.stdout:
                if "bytes from" in line:
                    return time.monotonic() - started
            raise SystemExit(f"lab {self.name}: no reply from vm4 within {PING_TIMEOUT:g} s")
        finally:
            timer.cancel()
            ping.kill()
            ping.wait()

    def links(self, node: str) -> dict[str, tuple[Any, ...]]:
        """What both ways must agree on, per link (the agents' and the floor's)."""
        out = json.loads(sh(["ip", "-n", self.ns(node), "-j", "-d", "addr", "show"]))
        switches = self.switches(node)
        found = {}
        for lk in out:
            info = lk.get("linkinfo", {})
            kind = info.get("info_kind")
            if kind not in ("vrf", "bridge", "vxlan") or lk["ifname"] == "vmbr0":
                continue
            data = info.get("info_data", {})
            slave = info.get("info_slave_data", {})
            mac = lk.get("address", "").lower() if lk["ifname"].startswith("myvnet") else ""
            inet = tuple(sorted(f"{a['local']}/{a['prefixlen']}" for a in lk.get("addr_info", [])
                                if a["family"] == "inet"))  # fmt: skip
            vxlan = (data.get("id"), data.get("local"), data.get("port"), data.get("learning"))
            found[lk["ifname"]] = (
                kind, lk.get("master"), lk.get("mtu"), mac, inet, vxlan if kind == "vxlan" else (),
                (slave.get("learning"), slave.get("neigh_suppress")) if slave else (),
                data.get("table") if kind == "vrf" else None,
                switches.get(lk["ifname"], {}),
            )  # fmt: skip
        return found

    def switches(self, node: str) -> dict[str, dict[str, str]]:
        """Each link's forwarding (IPv4, IPv6) and arp_accept switches: a link without them
        does not route (the floor once missed the L3VNI bridge's and never got a reply)."""
        paths = [f"/proc/sys/net/ipv{v}/conf/*/{k}" for v, k in ((4, "forwarding"), (6, "forwarding"),
                                                                     (4, "arp_accept"))]  # fmt: skip
        out = sh(["ip", "netns", "exec", self.ns(node), "sh", "-c", f"grep -H . {' '.join(paths)}"])
        found: dict[str, dict[str, str]] = {}
        for line in out.splitlines():
            path, _, value = line.partition(":")
            *_, family, _, ifname, key = path.split("/")
            found.setdefault(ifname, {})[f"{family}.{key}"] = value
        return found


# -- ours -----------------------------------------------------------------------------------------


def configure(store: Path) -> None:
    """The seed's EVPN example, pending (what a user has typed before ``sdn apply``)."""
    from sdnkit.service import SdnService

    svc = SdnService(str(store))
    svc.create("controllers", {"controller": "myevpnctl", "type": "evpn", "asn": 65000,
                               "peers": "192.0.2.1,192.0.2.2,192.0.2.3"})  # fmt: skip
    svc.create("zones", {"zone": ZONE, "type": "evpn", "controller": "myevpnctl", "vrf-vxlan": 10000,
                         "mtu": 1450, "mac": MAC, "exitnodes": ",".join(EXIT_NODES)})  # fmt: skip
    for vnet, tag, net in VNETS:
        svc.create("vnets", {"vnet": vnet, "zone": ZONE, "tag": tag})
        svc.create("subnets", {"vnet": vnet, "subnet": f"{net}.0/24", "gateway": f"{net}.1"})


def ours(lab: Lab) -> dict[str, float]:
    from sdnkit.service import SdnService

    configure(lab.store)
    t0 = time.monotonic()
    SdnService(str(lab.store)).apply({})
    t_apply = time.monotonic()
    out = sdn("--config-dir", str(lab.store), "--output", "json", "lab", "apply", "--name", lab.name)
    if not all(r["ok"] for r in json.loads(out)):
        raise SystemExit(f"ours: an agent failed: {out}")
    t_agents = time.monotonic()
    lab.plug()
    t_guests = time.monotonic()
    total = lab.first_ping(t0)
    return {"apply": t_apply - t0, "agents": t_agents - t_apply, "guests": t_guests - t_agents,
            "converge": t0 + total - t_guests, "total": total}  # fmt: skip


# -- the floor ----------------------------------------------------------------------------------


LOCAL_RULE = "rule add pref 32765 table local\nrule del pref 0 table local\n"  # as ifupdown2 does


def floor_batch(node: str) -> tuple[str, list[str]]:
    """The node's links as ``ip -batch`` input, and its sysctl settings (ifupdown2's, by hand)."""
    i = NODES.index(node) + 1
    vx = f"dstport 4789 nolearning local 192.0.2.{i}"
    lines = [
        LOCAL_RULE.strip(),
        f"link add vrf_{ZONE} type vrf table {VRF_TABLE}", f"link set vrf_{ZONE} up",
        f"link add vrfbr_{ZONE} mtu 1450 master vrf_{ZONE} type bridge forward_delay 0",
        f"link add vrfvx_{ZONE} mtu 1450 master vrfbr_{ZONE} type vxlan id 10000 {vx}",
        f"link set vrfvx_{ZONE} type bridge_slave learning off neigh_suppress on",
        f"link set vrfvx_{ZONE} up", f"link set vrfbr_{ZONE} up",
    ]  # fmt: skip
    # ifupdown2's bridge forwarding (IPv4 and IPv6) on every bridge with an address or a VRF
    # above it: the L3VNI's bridge routes what arrives from the other VTEPs (realize/spec.py)
    sysctls = [f"net.ipv{v}.conf.vrfbr_{ZONE}.forwarding=1" for v in (4, 6)]
    for vnet, vni, net in VNETS:
        lines += [
            f"link add {vnet} address {MAC} mtu 1450 master vrf_{ZONE} type bridge forward_delay 0",
            f"link add vxlan_{vnet} mtu 1450 master {vnet} type vxlan id {vni} {vx}",
            f"link set vxlan_{vnet} type bridge_slave learning off neigh_suppress on",
            f"addr add {net}.1/24 dev {vnet}", f"link set vxlan_{vnet} up", f"link set {vnet} up",
        ]  # fmt: skip
        sysctls += [f"net.ipv{v}.conf.{vnet}.forwarding=1" for v in (4, 6)]
        sysctls.append(f"net.ipv4.conf.{vnet}.arp_accept=1")
    if node not in EXIT_NODES:
        lines.append(f"route add unreachable default vrf vrf_{ZONE} metric 4278198272")
    return "\n".join(lines) + "\n", sysctls


def floor_node(lab: Lab, node: str, conf: str, daemons: list[str]) -> None:
    from sdnkit.realize.frr import FrrInstance
    from sdnkit.realize.frr_service import DirectFrr

    batch, sysctls = floor_batch(node)
    sh(["ip", "-n", lab.ns(node), "-batch", "-"], stdin=batch)
    sh(["ip", "-n", lab.ns(node), "-6", "-batch", "-"], stdin=LOCAL_RULE)
    sh(["ip", "netns", "exec", lab.ns(node), "sysctl", "-q", "-w", *sysctls])
    d = lab.frr_dir(node)  # FRR by hand: the agent's daemons and file, not the agent
    d.mkdir(parents=True)
    shutil.chown(d, "frr", "frr")
    (d / "frr.conf").write_text(conf)
    (d / "vtysh.conf").write_text("service integrated-vtysh-config\n")
    svc = DirectFrr(instance=FrrInstance(confdir=d, rundir=d, vty_socket=d), netns=lab.ns(node))
    # zebra first, the others side by side once it is up (a daemon that finds no zebra retries
    # only after 10 s); each ``-d`` command returns when its daemon is ready
    for group in (daemons[:1], daemons[1:]):
        procs = [subprocess.Popen(svc.argv(daemon), stderr=subprocess.DEVNULL) for daemon in group]
        for proc in procs:
            proc.wait()
        while not all((d / f"{daemon}.vty").exists() for daemon in group):
            time.sleep(0.005)
    sh(["vtysh", "-b", "--config_dir", str(d), "--vty_socket", str(d)])


def floor(lab: Lab, confs: dict[str, str], daemons: dict[str, list[str]]) -> dict[str, float]:
    t0 = time.monotonic()
    errors: list[BaseException] = []

    def run(node: str) -> None:
        try:
            floor_node(lab, node, confs[node], daemons[node])
        except BaseException as err:  # reported below, after the other nodes finish
            errors.append(err)

    threads = [threading.Thread(target=run, args=(n,)) for n in NODES]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    t_nodes = time.monotonic()
    lab.plug()
    t_guests = time.monotonic()
    total = lab.first_ping(t0)
    return {"apply": 0.0, "agents": t_nodes - t0, "guests": t_guests - t_nodes,
            "converge": t0 + total - t_guests, "total": total}  # fmt: skip


# -- the runs -------------------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_lab(tag: str) -> Iterator[Lab]:
    store = Path(tempfile.mkdtemp(prefix=f"sdnkit-bench-evpn-{tag}-"))
    lab = Lab(f"bev{os.getpid() % 1000}{tag}", store)
    try:
        yield lab
    finally:
        lab.down()
        shutil.rmtree(store, ignore_errors=True)


def measure(runs: int) -> int:
    results: dict[str, list[dict[str, float]]] = {"ours": [], "floor": []}
    confs: dict[str, str] = {}
    daemons: dict[str, list[str]] = {}
    reference: dict[str, Any] = {}  # the links the first agents' run made: every run must match
    problems: list[str] = []
    for run in range(runs):
        # the floor loads the file the agents wrote, so the first run starts with ours
        for way in ("ours", "floor") if run % 2 == 0 else ("floor", "ours"):
            with fresh_lab(f"{run}{way[0]}") as lab:
                if way == "ours":
                    results[way].append(ours(lab))
                    for n in NODES:
                        confs[n] = (lab.frr_dir(n) / "frr.conf").read_text()
                        found = {p.stem for p in lab.frr_dir(n).glob("*.pid")} - {"zebra"}
                        daemons[n] = ["zebra", *sorted(found)]
                else:
                    results[way].append(floor(lab, confs, daemons))
                held = {n: lab.links(n) for n in NODES}
            reference = reference or held
            if held != reference:
                problems.append(
                    f"run {run + 1} ({way}): links differ from the first run's: {held} != {reference}"
                )
            print(f"  run {run + 1} {way:<5} {results[way][-1]['total']:.2f} s", flush=True)
    report(results)
    for p in problems:
        print(f"FAILED: {p}")
    return 1 if problems else 0


def report(results: dict[str, Any]) -> None:
    phases = ("apply", "agents", "guests", "converge", "total")
    print(
        f"\n{'median of ' + str(len(results['ours'])) + ' runs (s)':<26}"
        + "".join(f"{p:>10}" for p in phases)
    )
    med = {}
    for way in ("floor", "ours"):
        med[way] = {p: statistics.median(r[p] for r in results[way]) for p in phases}
        print(f"{way:<26}" + "".join(f"{med[way][p]:>10.2f}" for p in phases))
    ratio = med["ours"]["total"] / med["floor"]["total"]
    print(f"\nours / floor (sdn apply to the first cross-node, cross-vnet ping): {ratio:.2f}x (goal <= 1.2x)")
    print(f"ours: {med['ours']['total']:.2f} s (goal on a host kernel with VRF: under 3 s)")
    print("floor 'agents' is its ip -batch, sysctls, FRR start and vtysh -b on the three nodes in parallel")


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/evpn.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="labs per way (default 3; the median counts)")
    parser.add_argument(
        "--kernel",
        choices=("auto", "host", "uml"),
        default="auto",
        help="host: this kernel (needs VRF); uml: inside User-Mode-Linux; auto: host when it has VRF",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    from sdnkit.lab.probe import missing

    inside = os.environ.get("SDN_BENCH_EVPN_INSIDE") == "1"
    lacking = missing(["vrf"])
    if not inside and (args.kernel == "uml" or (args.kernel == "auto" and lacking)):
        why = f"this kernel lacks VRF ({lacking['vrf']})" if lacking else "--kernel uml"
        print(f"{why}: running inside User-Mode-Linux", flush=True)
        argv = [sys.executable, "-m", "sdnkit.lab.uml", "run", "--timeout", "5400",
                "--env", "SDN_BENCH_EVPN_INSIDE=1", "--", sys.executable, str(Path(__file__).resolve()),
                "--runs", str(args.runs), "--kernel", "host"]  # fmt: skip
        return subprocess.run(argv, check=False).returncode
    if lacking:
        raise SystemExit(f"this kernel lacks VRF ({lacking['vrf']}): use --kernel uml")
    root = Path(tempfile.mkdtemp(prefix="sdnkit-bench-labs-"))
    root.chmod(0o755)  # the nodes' FRR daemons (user frr) keep their files below it
    os.environ["SDN_LAB_DIR"] = str(root)
    try:
        where = "inside User-Mode-Linux" if inside else "on this kernel"
        print(f"the seed's EVPN example, 3 nodes, {where}; {args.runs} runs each", flush=True)
        return measure(args.runs)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
