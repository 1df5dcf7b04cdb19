"""Store benchmark: service operations per second on etcd against the local directory, same run.

    .venv/bin/python bench/store.py [--sizes 1,1000] [--ops 60] [--allocations 400]

1. ``vnet create/update/delete``: ``--ops`` rounds of create, update (alias) and delete of one
   vnet through ``SdnService`` (what an API call does: lock, read, parse, validate, commit), in a
   configuration that already has N vnets, for each N of ``--sizes``;
2. ``IPAM allocations``: ``--allocations`` addresses from one /16 through the service layer
   (``service.ipam.allocate``), each durable before the call returns.

Each runs on a local directory store (the reference) and on a single-member etcd started by the
benchmark (Debian's etcd, data beside the directory store on the same file system), one after
the other. Checks (exit status 1 when one fails): every round's vnet is gone at the end and the
N others are intact; every allocation is a distinct address and all are in the store.
"""

from __future__ import annotations

import argparse
import ipaddress
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sdnkit.lab.etcd import EtcdCluster
from sdnkit.service import SdnService
from sdnkit.service import ipam as svc_ipam
from sdnkit.store import Store, open_store

NET16 = "10.64.0.0/16"


def prefilled(store: Store, vnets: int) -> SdnService:
    """Zone bz with ``vnets`` vnets, applied (written as documents: creating them one by one is slow)."""
    sdn = SdnService(store)
    sdn.create("zones", {"zone": "bz", "type": "simple", "ipam": "pve"})
    text = "".join(f"vnet: bv{i}\n\tzone bz\n\talias prefilled vnet {i}\n\n" for i in range(vnets))
    store.commit({"vnets.cfg": text.encode()})
    sdn.apply({})
    return sdn


def crud_rounds(sdn: SdnService, rounds: int) -> float:
    start = time.perf_counter()
    for i in range(rounds):
        vnet = f"cx{i}"
        sdn.create("vnets", {"vnet": vnet, "zone": "bz"})
        sdn.update("vnets", {"vnet": vnet, "alias": f"round {i}"})
        sdn.delete("vnets", {"vnet": vnet})
    return time.perf_counter() - start


def check_crud(sdn: SdnService, vnets: int) -> list[str]:
    names = {v["vnet"] for v in sdn.list("vnets")}
    expected = {f"bv{i}" for i in range(vnets)}
    return [] if names == expected else [f"vnets after the rounds: {len(names)}, expected {len(expected)}"]


def allocations(store: Store, count: int) -> tuple[float, list[str]]:
    sdn = SdnService(store)
    sdn.create("zones", {"zone": "az", "type": "simple", "ipam": "pve"})
    sdn.create("vnets", {"vnet": "av", "zone": "az"})
    sdn.create("subnets", {"type": "subnet", "vnet": "av", "subnet": NET16, "gateway": "10.64.0.1"})
    sdn.apply({})
    ctx = svc_ipam.running_context(store)
    got: list[str] = []
    start = time.perf_counter()
    for n in range(count):
        mac = f"02:00:00:00:{n >> 8 & 255:02x}:{n & 255:02x}"
        got.extend(str(a.ip) for a in svc_ipam.allocate(ctx, "av", mac=mac))
    elapsed = time.perf_counter() - start
    problems = (
        [] if len(set(got)) == count else [f"{count} allocations gave {len(set(got))} distinct addresses"]
    )
    stored = {r["ip"] for r in svc_ipam.status(svc_ipam.running_context(store), "pve")}
    if not set(got) <= stored:
        problems.append("an allocation is missing from the store")
    return elapsed, problems


def row(scenario: str, store: str, ops: int, seconds: float, ref: float | None) -> str:
    rate = ops / seconds if seconds else float("inf")
    ratio = f"{seconds / ref:.2f}x" if ref else ""
    per_op = 1000 * seconds / ops
    return f"{scenario:<34} {store:<6} {ops:>6} {seconds:>8.2f} {rate:>9,.0f} {per_op:>8.2f} {ratio:>8}"


def run(base: Path, args: argparse.Namespace) -> int:
    cluster = EtcdCluster.local(base / "etcd", names=("bench",), token="sdnkit-bench")
    cluster.start()
    counter = iter(range(1_000_000))
    stores: dict[str, Callable[[], Store]] = {
        "local": lambda: open_store(str(base / f"dir{next(counter)}")),
        "etcd": lambda: open_store(cluster.url(f"/bench/{next(counter)}")),
    }
    problems: list[str] = []
    print(
        f"{'scenario':<34} {'store':<6} {'ops':>6} {'seconds':>8} {'per s':>9} {'ms/op':>8} {'vs local':>8}"
    )
    try:
        for size in args.sizes:
            ref = None
            for kind, make in stores.items():
                sdn = prefilled(make(), size)
                seconds = crud_rounds(sdn, args.ops)
                problems += [f"{kind}, {size} vnets: {p}" for p in check_crud(sdn, size)]
                print(
                    row(f"vnet create/update/delete, {size} vnets", kind, 3 * args.ops, seconds, ref),
                    flush=True,
                )
                ref = ref or seconds
        ref = None
        for kind, make in stores.items():
            seconds, found = allocations(make(), args.allocations)
            problems += [f"{kind}, IPAM: {p}" for p in found]
            print(row("IPAM allocations, one /16", kind, args.allocations, seconds, ref), flush=True)
            ref = ref or seconds
    finally:
        cluster.stop()
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="1,1000", help="vnets already in the configuration (comma-separated)"
    )
    parser.add_argument("--ops", type=int, default=60, help="create/update/delete rounds per size and store")
    parser.add_argument("--allocations", type=int, default=400, help="IPAM allocations per store")
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    ipaddress.ip_network(NET16)
    base = Path(tempfile.mkdtemp(prefix="sdnkit-bench-store-"))
    try:
        return run(base, args)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
