"""Benchmark: plan and render every node of a large cluster configuration.

    .venv/bin/python bench/render.py [--vnets 10000] [--nodes 20] [--repeat 3]

The configuration has ``--vnets`` vnets spread evenly over five zones (simple, vlan, qinq, vxlan,
evpn; every zone on every node; a subnet with gateway on each simple and evpn vnet, SNAT on the
simple ones, two EVPN exit nodes), an EVPN controller peering all nodes and a BGP controller on
the first node. For each node it times ``plan_node`` and the two renderers (ifupdown2 and FRR),
best of ``--repeat``, and prints one row per node and the total.

Reference, measured in the same run: parsing the running config JSON into typed sections
(``RunningConfig.loads``), which every node also has to do once per apply. The ``x ref`` column
is a node's plan+render time divided by that parse time. Correctness checks (the run fails
otherwise): every vnet has its bridge on every node, and output is identical between repeats.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from sdnkit.config.running import RunningConfig
from sdnkit.plan.factsfile import build_facts
from sdnkit.plan.interfaces_file import parse_interfaces
from sdnkit.plan.planner import plan_node
from sdnkit.render.frr import render_frr
from sdnkit.render.ifupdown import render_interfaces

ZONES = ("simple", "vlan", "qinq", "vxlan", "evpn")


def node_ip(i: int) -> str:
    return f"10.0.{i // 250}.{i % 250 + 1}"


def build_config(vnets: int, nodes: int) -> dict[str, Any]:
    peers = ",".join(node_ip(i) for i in range(nodes))
    zones = {
        "zsimple": {"type": "simple", "ipam": "pve"},
        "zvlan": {"type": "vlan", "bridge": "vmbr0"},
        "zqinq": {"type": "qinq", "bridge": "vmbr0", "tag": 4000},
        "zvxlan": {"type": "vxlan", "peers": peers},
        "zevpn": {"type": "evpn", "controller": "evpn", "vrf-vxlan": 16000000, "exitnodes": "node00,node01"},
    }
    vnet_ids: dict[str, Any] = {}
    subnets: dict[str, Any] = {}
    for n in range(vnets):
        kind = ZONES[n % len(ZONES)]
        vnet = f"v{n:05d}"
        entry: dict[str, Any] = {"type": "vnet", "zone": f"z{kind}"}
        if kind != "simple":
            entry["tag"] = 1 + n // len(ZONES) if kind in ("vlan", "qinq") else 100000 + n
        vnet_ids[vnet] = entry
        if kind in ("simple", "evpn"):
            net = f"{10 + n // 65536}.{n // 256 % 256}.{n % 256}.0"  # one /24 per vnet
            subnets[f"z{kind}-{net}-24"] = {
                "type": "subnet",
                "vnet": vnet,
                "gateway": net[:-1] + "1",
                **({"snat": 1} if kind == "simple" else {}),
            }
    return {
        "version": 1,
        "zones": {"ids": zones},
        "vnets": {"ids": vnet_ids},
        "subnets": {"ids": subnets},
        "controllers": {
            "ids": {
                "evpn": {"type": "evpn", "asn": 65000, "peers": peers},
                "bgp0": {"type": "bgp", "asn": 65000, "node": "node00", "peers": "192.0.2.1,192.0.2.2"},
            }
        },
    }


def interfaces(i: int) -> str:
    return (
        f"auto vmbr0\niface vmbr0 inet static\n\taddress {node_ip(i)}/16\n"
        "\tbridge-ports eno1 eno2\n\tbridge-vlan-aware yes\n\tbridge-vids 2-4094\n"
    )


def time_node(running: RunningConfig, i: int, repeat: int) -> tuple[float, float, str]:
    facts = build_facts({"node": f"node{i:02d}", "underlay_iface": "vmbr0"}, parse_interfaces(interfaces(i)))
    best_plan = best_render = float("inf")
    outputs = set()
    for _ in range(repeat):
        t0 = time.perf_counter()
        plan = plan_node(running, facts)
        t1 = time.perf_counter()
        text = render_interfaces(plan) + (render_frr(plan.frr) if plan.frr is not None else "")
        t2 = time.perf_counter()
        best_plan, best_render = min(best_plan, t1 - t0), min(best_render, t2 - t1)
        outputs.add(text)
    if len(outputs) != 1:
        raise SystemExit(f"node{i:02d}: output differs between repeats")
    return best_plan, best_render, outputs.pop()


def row(name: str, size: str, plan_s: float, render_s: float, ref: float) -> str:
    both = plan_s + render_s
    ms = f"{plan_s * 1000:>9.1f} {render_s * 1000:>10.1f} {both * 1000:>9.1f}"
    return f"{name:<8} {size:>9} {ms} {both / ref:>6.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vnets", type=int, default=10000)
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    text = json.dumps(build_config(args.vnets, args.nodes))
    ref = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        running = RunningConfig.loads(text)
        ref = min(ref, time.perf_counter() - t0)

    print(f"{args.vnets} vnets in {len(ZONES)} zones, {args.nodes} nodes; best of {args.repeat}")
    print(f"reference: parse running config {ref * 1000:.1f} ms ({len(text) // 1024} KiB)\n")
    print(f"{'node':<8} {'bytes':>9} {'plan ms':>9} {'render ms':>10} {'total ms':>9} {'x ref':>6}")
    total_plan = total_render = 0.0
    for i in range(args.nodes):
        plan_s, render_s, out = time_node(running, i, args.repeat)
        missing = [v for v in running.config.vnets if f"\nauto {v}\n" not in out]
        if missing:
            raise SystemExit(f"node{i:02d}: no bridge for {len(missing)} vnets, e.g. {missing[0]}")
        total_plan, total_render = total_plan + plan_s, total_render + render_s
        print(row(f"node{i:02d}", str(len(out)), plan_s, render_s, ref))
    total = total_plan + total_render
    print(row("total", "", total_plan, total_render, ref))
    print(f"\ngoal: all nodes under 1000 ms: {'met' if total < 1 else 'not met'} ({total * 1000:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
