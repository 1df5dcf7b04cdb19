"""IPAM allocation benchmark: the built-in IPAM through the service layer on a durable local store.

    .venv/bin/python bench/ipam.py [--count N] [--threads N] [--procs N] [--naive N] [--naive-tail N]

1. ``/16, 1 caller``: ``--count`` allocations in one /16, one after the other, each durable
   before the next starts (one fdatasync each: the disk's flush latency bounds this).
2. ``/16, N callers``: the same with ``--threads`` concurrent callers (an API server's request
   threads): flushes are shared (group commit), each call still returns only when durable.
3. ``/24, 16 processes``: ``--procs`` processes allocate from one /24 until it is full; the run
   fails unless there are exactly 253 allocations (256 minus network, broadcast and gateway)
   and no address twice.

Each is compared, in the same run and on the same kind of store, with a naive allocator of the
upstream kind (PVE ``PVEPlugin.pm``, spec §5.2): under the store's lock, read the whole
``pve-ipam-state.json``, scan linearly for the first free address, write the whole file back
(atomic replace with fsync). Its cost grows with the state, so it is measured on the first
``--naive`` allocations (against the journal's time for the same first allocations) and on the
last ``--naive-tail`` allocations of a full-size state. Exit status 1 if a check fails.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import multiprocessing as mp
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sdnkit.errors import IpamExhaustedError
from sdnkit.ipam.journal import JournalStorage
from sdnkit.ipam.storage import DOCUMENT
from sdnkit.service import SdnService
from sdnkit.service import ipam as svc_ipam
from sdnkit.store.local import LocalStore

NET16 = "10.64.0.0/16"
NET24 = "10.65.0.0/24"


def mac(tag: int, n: int) -> str:
    return f"02:{tag & 255:02x}:{n >> 24 & 255:02x}:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}"


def make_store(root: Path, cidr: str) -> LocalStore:
    """A store with zone z1 (built-in IPAM), vnet v1 and one applied subnet with gateway .1."""
    store = LocalStore(root)
    sdn = SdnService(store)
    sdn.create("zones", {"zone": "z1", "type": "simple", "ipam": "pve"})
    sdn.create("vnets", {"vnet": "v1", "zone": "z1"})
    gateway = str(ipaddress.ip_network(cidr).network_address + 1)
    sdn.create("subnets", {"type": "subnet", "vnet": "v1", "subnet": cidr, "gateway": gateway})
    sdn.apply({})
    return store


# -- the naive allocator of the upstream kind ---------------------------------------------------


def naive_allocate(store: LocalStore, cidr: str, hwaddr: str) -> str | None:
    """PVE's add_next_freeip: lock, read all, scan from the network address + 1, write all."""
    net = ipaddress.ip_network(cidr)
    with store.lock("ipam", 60):
        doc = store.read(DOCUMENT)
        data: dict[str, Any] = json.loads(doc.data) if doc else {}
        subnets = data.setdefault("zones", {}).setdefault("z1", {}).setdefault("subnets", {})
        ips = subnets.setdefault(cidr, {}).setdefault("ips", {})
        for value in range(int(net.network_address) + 1, int(net.broadcast_address)):
            ip = str(ipaddress.ip_address(value))
            if ip not in ips:
                ips[ip] = {"mac": hwaddr, "vmid": "100"}
                store.commit({DOCUMENT: json.dumps(data).encode()})
                return ip
    return None


def naive_store(root: Path, cidr: str, count: int = 0) -> LocalStore:
    """A store whose state holds the gateway (.1) and ``count`` allocations after it."""
    net = ipaddress.ip_network(cidr)
    first = int(net.network_address) + 1
    ips: dict[str, Any] = {str(ipaddress.ip_address(first)): {"gateway": 1}}
    ips.update(
        {str(ipaddress.ip_address(first + 1 + i)): {"mac": mac(9, i), "vmid": "100"} for i in range(count)}
    )
    store = LocalStore(root)
    store.commit({DOCUMENT: json.dumps({"zones": {"z1": {"subnets": {cidr: {"ips": ips}}}}}).encode()})
    return store


# -- runs ------------------------------------------------------------------------------------


def timed_service(store: LocalStore, count: int, threads: int) -> dict[str, Any]:
    """``count`` allocations through the service layer from ``threads`` callers."""
    ctx = svc_ipam.running_context(store)
    got: list[str] = []
    ends: list[float] = []
    lock = threading.Lock()

    def worker(tag: int, n: int) -> None:
        for i in range(n):
            (alloc,) = svc_ipam.allocate(ctx, "v1", mac=mac(tag, i), vmid=100 + tag)
            with lock:
                got.append(str(alloc.ip))
                ends.append(time.perf_counter())

    shares = [count // threads + (1 if t < count % threads else 0) for t in range(threads)]
    pool = [threading.Thread(target=worker, args=(t, n)) for t, n in enumerate(shares)]
    real_flush, flushes = os.fdatasync, [0]

    def counted_flush(fd: int) -> None:  # group commit shows as fewer flushes than allocations
        flushes[0] += 1
        real_flush(fd)

    os.fdatasync = counted_flush
    start = time.perf_counter()
    try:
        for t in pool:
            t.start()
        for t in pool:
            t.join()
    finally:
        os.fdatasync = real_flush
    return {
        "flushes": flushes[0],
        "ips": got,
        "seconds": ends[-1] - start,
        "first": lambda n: ends[n - 1] - start,  # time of the first n allocations
        "last": lambda n: ends[-1] - ends[-n - 1],  # time of the last n
    }


def naive_run(store: LocalStore, cidr: str, count: int) -> float:
    start = time.perf_counter()
    for i in range(count):
        if naive_allocate(store, cidr, mac(1, i)) is None:
            raise SystemExit(f"naive allocator: {cidr} full after {i}")
    return time.perf_counter() - start


def _proc_service(root: str, tag: int, ready: Any, go: Any, out: Any) -> None:
    ctx = svc_ipam.running_context(LocalStore(root))
    mine: list[str] = []
    ready.wait()
    go.wait()
    try:
        for i in range(1_000_000):
            mine.extend(str(a.ip) for a in svc_ipam.allocate(ctx, "v1", mac=mac(tag, i), vmid=100 + tag))
    except IpamExhaustedError:
        pass
    out.put(mine)


def _proc_naive(root: str, tag: int, ready: Any, go: Any, out: Any) -> None:
    store = LocalStore(root)
    mine: list[str] = []
    ready.wait()
    go.wait()
    for i in range(1_000_000):
        ip = naive_allocate(store, NET24, mac(tag, i))
        if ip is None:
            break
        mine.append(ip)
    out.put(mine)


def concurrent_run(root: Path, procs: int, target: Callable[..., None]) -> tuple[list[str], float]:
    ctx = mp.get_context("spawn")
    ready, go, out = ctx.Barrier(procs + 1), ctx.Barrier(procs + 1), ctx.Queue()
    workers = [ctx.Process(target=target, args=(str(root), t + 1, ready, go, out)) for t in range(procs)]
    for w in workers:
        w.start()
    ready.wait()  # every process has imported and opened the store
    start = time.perf_counter()
    go.wait()
    results = [out.get(timeout=600) for _ in workers]
    seconds = time.perf_counter() - start
    for w in workers:
        w.join()
    return [ip for r in results for ip in r], seconds


# -- report ----------------------------------------------------------------------------------


def row(
    scenario: str, allocator: str, count: int, seconds: float, ref: float | None = None
) -> dict[str, Any]:
    rate = count / seconds if seconds else float("inf")
    return {
        "scenario": scenario,
        "allocator": allocator,
        "allocations": count,
        "seconds": seconds,
        "rate": rate,
        "ratio": "" if ref is None else f"{ref / rate:.1f}x",
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    head = ("scenario", "allocator", "allocations", "seconds", "per second", "journal vs naive")
    cells = [
        (
            r["scenario"],
            r["allocator"],
            f"{r['allocations']:,}",
            f"{r['seconds']:.2f}",
            f"{r['rate']:,.0f}",
            r["ratio"],
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
    print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    for c in cells:
        print("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)))


def check(ok: bool, message: str, failures: list[str]) -> None:
    print(("ok    " if ok else "FAIL  ") + message)
    if not ok:
        failures.append(message)


def persisted(root: Path) -> int:
    """Addresses a fresh process reads back from disk (the store and the journal)."""
    storage = JournalStorage(LocalStore(root), root / svc_ipam.JOURNAL)
    try:
        return storage.run(lambda txn: sum(len(s.ips) for z in txn.state.zones.values() for s in z.values()))
    finally:
        storage.close()


def service_rows(base: Path, count: int, threads: int, failures: list[str]) -> tuple[dict[str, Any], float]:
    """One /16 run through the service layer; its row, and its time for the first ``mark``."""
    root = base / f"journal-{threads}"
    label = f"/16, {threads} caller{'s' if threads > 1 else ''}"
    run = timed_service(make_store(root, NET16), count, threads)
    check(len(set(run["ips"])) == count, f"{label}: {count:,} distinct addresses", failures)
    check(persisted(root) == count + 1, f"{label}: {count + 1:,} entries read back from disk", failures)
    print(f"      {label}: {run['flushes'] / count:.2f} fdatasync per allocation (group commit: < 1)")
    return row(label, "journal", count, run["seconds"]), run


def sequential_part(base: Path, args: argparse.Namespace, failures: list[str]) -> list[dict[str, Any]]:
    count, small = args.count, min(args.naive, args.count)
    tail = max(1, min(args.naive_tail, small))
    one, run = service_rows(base, count, 1, failures)
    many, _ = service_rows(base, count, args.threads, failures)
    first, last = run["first"](small), run["last"](tail)
    naive_first = naive_run(naive_store(base / "naive16", NET16), NET16, small)
    naive_last = naive_run(naive_store(base / "naive16-full", NET16, count - tail), NET16, tail)
    label = f"/16, {count - tail:,} to {count:,}"
    return [
        one,
        many,
        row(f"/16, first {small:,}", "journal", small, first),
        row(f"/16, first {small:,}", "naive", small, naive_first, small / first),
        row(label, "journal", tail, last),
        row(label, "naive", tail, naive_last, tail / last),
    ]


def concurrent_part(base: Path, procs: int, failures: list[str]) -> list[dict[str, Any]]:
    rows = []
    for name, target in (("journal", _proc_service), ("naive", _proc_naive)):
        root = base / f"conc-{name}"
        if name == "journal":
            make_store(root, NET24)
        else:
            naive_store(root, NET24)
        ips, seconds = concurrent_run(root, procs, target)
        label = f"/24, {procs} processes"
        check(len(ips) == len(set(ips)), f"{label}, {name}: no address allocated twice", failures)
        check(len(ips) == 253, f"{label}, {name}: exactly 253 allocations ({len(ips)})", failures)
        rows.append(row(label, name, len(ips), seconds, rows[0]["rate"] if rows else None))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=60_000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--procs", type=int, default=16)
    parser.add_argument("--naive", type=int, default=2_000, help="naive allocations from an empty /16")
    parser.add_argument("--naive-tail", type=int, default=50, help="naive allocations into a full /16")
    parser.add_argument("--dir", help="where to put the stores (default: a temporary directory on /var/tmp)")
    args = parser.parse_args()
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="sdnkit-bench-ipam-", dir=args.dir or "/var/tmp") as tmp:
        base = Path(tmp)
        rows = sequential_part(base, args, failures)
        rows += concurrent_part(base, args.procs, failures)
    print()
    print_table(rows)
    best = max(r["rate"] for r in rows[:2])
    print(
        f"\ngoal: >= 5,000 durable allocations per second in one /16 through the service layer: {best:,.0f}/s"
    )
    print(f"(fdatasync is the floor of the 1-caller row; pid {os.getpid()}, python {sys.version.split()[0]})")
    if failures:
        print(f"\n{len(failures)} check(s) failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
