"""Durability of the built-in IPAM state: journal replay, compaction, crashes and kill -9."""

from __future__ import annotations

import ipaddress
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from sdnkit.config.model import Subnet
from sdnkit.ipam.base import IpEntry
from sdnkit.ipam.journal import DOCUMENT, MARK_KEY, JournalStorage
from sdnkit.ipam.pve import PveIpam
from sdnkit.store.local import LocalStore

ip = ipaddress.ip_address
NET16 = Subnet(id="z1-10.20.0.0-16", vnet="v1", zone="z1", cidr="10.20.0.0/16", gateway=ip("10.20.0.1"))


def open_ipam(root: Path, **kw: int) -> tuple[JournalStorage, PveIpam]:
    storage = JournalStorage(LocalStore(root), root / ".sdnkit" / "ipam.journal", **kw)
    return storage, PveIpam("pve", storage)


def entries(root: Path) -> dict[str, dict[str, object]]:
    storage, _ = open_ipam(root)
    try:
        doc = storage.run(lambda txn: txn.state.to_json())
    finally:
        storage.close()
    return doc["zones"].get("z1", {}).get("subnets", {}).get(NET16.cidr, {}).get("ips", {})


def stored_document(root: Path) -> dict[str, object]:
    doc = LocalStore(root).read(DOCUMENT)
    assert doc is not None
    return json.loads(doc.data)


def test_allocations_survive_reopening(tmp_path: Path) -> None:
    storage, pve = open_ipam(tmp_path)
    got = [pve.next_free_ip(NET16, IpEntry(mac=f"02:00:00:00:00:{i:02x}")) for i in range(20)]
    storage.close()
    assert got[0] == ip("10.20.0.2")
    again = entries(tmp_path)
    assert sorted(again, key=ip) == [str(a) for a in got]
    assert again["10.20.0.5"] == {"mac": "02:00:00:00:00:03"}


def test_compaction_writes_upstream_document_and_keeps_everything(tmp_path: Path) -> None:
    storage, pve = open_ipam(tmp_path, compact_min=48 << 10)
    for i in range(2000):
        pve.next_free_ip(NET16, IpEntry(mac=f"02:00:00:00:{i >> 8:02x}:{i & 255:02x}", vmid=str(i)))
    storage.close()
    doc = stored_document(tmp_path)
    assert doc[MARK_KEY]["generation"] > 1
    ips = doc["zones"]["z1"]["subnets"]["10.20.0.0/16"]["ips"]
    assert 1000 < len(ips) <= 2000  # the rest is in the journal
    assert ips["10.20.0.2"] == {"vmid": "0", "mac": "02:00:00:00:00:00"}
    assert len(entries(tmp_path)) == 2000


def test_document_replaced_by_hand_wins_over_the_journal(tmp_path: Path) -> None:
    storage, pve = open_ipam(tmp_path)
    pve.next_free_ip(NET16, IpEntry(mac="02:00:00:00:00:01"))
    storage.close()
    ips = {"10.20.9.9": {"mac": "02:aa:00:00:00:01"}}
    manual = {"zones": {"z1": {"subnets": {"10.20.0.0/16": {"ips": ips}}}}}
    LocalStore(tmp_path).commit({DOCUMENT: json.dumps(manual).encode()})
    assert entries(tmp_path) == {"10.20.9.9": {"mac": "02:aa:00:00:00:01"}}
    storage, pve = open_ipam(tmp_path)
    assert pve.next_free_ip(NET16, IpEntry(mac="02:00:00:00:00:02")) == ip("10.20.0.2")
    storage.close()
    assert sorted(entries(tmp_path)) == ["10.20.0.2", "10.20.9.9"]


def test_crash_between_document_write_and_new_generation(tmp_path: Path) -> None:
    """Compaction wrote the document but died before starting the next journal generation."""
    storage, pve = open_ipam(tmp_path)
    for i in range(5):
        pve.next_free_ip(NET16, IpEntry(mac=f"02:00:00:00:00:{i:02x}"))
    # what _compact does first: the document with the journal position it covers
    data = storage.run(lambda txn: txn.state.to_json())
    data[MARK_KEY] = {"generation": storage._gen, "sequence": storage._seq}
    LocalStore(tmp_path).commit({DOCUMENT: json.dumps(data).encode()})
    storage.close()
    # a process that still has the old generation appends, then a new process loads
    storage, pve = open_ipam(tmp_path)
    assert pve.next_free_ip(NET16, IpEntry(mac="02:00:00:00:01:00")) == ip("10.20.0.7")
    storage.close()
    assert sorted(entries(tmp_path), key=ip) == [f"10.20.0.{n}" for n in range(2, 8)]


def test_torn_record_is_ignored_and_overwritten(tmp_path: Path) -> None:
    storage, pve = open_ipam(tmp_path)
    pve.next_free_ip(NET16, IpEntry(mac="02:00:00:00:00:01"))
    end = storage._end
    storage.close()
    with open(tmp_path / ".sdnkit" / "ipam.journal", "r+b") as f:  # half a record: length, bad crc
        f.seek(end)
        f.write(b"\x40\x00\x00\x00garbage-garbage-garbage")
    assert list(entries(tmp_path)) == ["10.20.0.2"]
    storage, pve = open_ipam(tmp_path)
    assert pve.next_free_ip(NET16, IpEntry(mac="02:00:00:00:00:02")) == ip("10.20.0.3")
    storage.close()
    assert sorted(entries(tmp_path), key=ip) == ["10.20.0.2", "10.20.0.3"]


def test_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    storage, _ = open_ipam(tmp_path)

    def half(txn):  # type: ignore[no-untyped-def]
        from sdnkit.ipam.state import PutIp

        txn.apply(PutIp("z1", NET16.cidr, "10.20.0.9", IpEntry(mac="02:00:00:00:00:09")))
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        storage.run(half)
    assert storage.run(lambda txn: txn.state.to_json()) == {"zones": {}}
    storage.close()
    assert entries(tmp_path) == {}


def test_two_storages_on_one_store_see_each_other(tmp_path: Path) -> None:
    s1, p1 = open_ipam(tmp_path, compact_min=24 << 10)
    s2, p2 = open_ipam(tmp_path, compact_min=24 << 10)
    got = []
    for i in range(600):  # alternate writers across several compactions
        pve = p1 if i % 3 else p2
        got.append(pve.next_free_ip(NET16, IpEntry(mac=f"02:00:00:00:{i >> 8:02x}:{i & 255:02x}")))
    s1.close()
    s2.close()
    assert len(set(got)) == 600
    assert len(entries(tmp_path)) == 600


CHILD = textwrap.dedent(
    """
    import ipaddress, random, sys
    from pathlib import Path
    from sdnkit.config.model import Subnet
    from sdnkit.ipam.base import IpEntry
    from sdnkit.ipam.journal import JournalStorage
    from sdnkit.ipam.pve import PveIpam
    from sdnkit.store.local import LocalStore

    root, tag = Path(sys.argv[1]), int(sys.argv[2])
    net = Subnet(id="z1-10.20.0.0-16", vnet="v1", zone="z1", cidr="10.20.0.0/16",
                 gateway=ipaddress.ip_address("10.20.0.1"))
    storage = JournalStorage(LocalStore(root), root / ".sdnkit" / "ipam.journal", compact_min=32 << 10)
    pve = PveIpam("pve", storage)
    rng = random.Random(tag)
    mine = []
    print("ready", flush=True)
    for n in range(1_000_000):
        if mine and rng.random() < 0.2:
            victim = mine.pop(rng.randrange(len(mine)))
            print("del?", victim, flush=True)
            pve.del_ip(net, ipaddress.ip_address(victim))
            continue
        mac = "02:%02x:" % (tag & 255) + ":".join("%02x" % (n >> s & 255) for s in (24, 16, 8, 0))
        got = str(pve.next_free_ip(net, IpEntry(mac=mac, vmid=str(tag))))
        mine.append(got)
        print("add", got, mac, flush=True)
    """
)


@pytest.mark.slow
def test_kill_9_never_loses_or_duplicates_an_acknowledged_allocation(tmp_path: Path) -> None:
    """Two writers are killed at random points of their work: after a random number of
    acknowledged allocations each (not after a time: what they get done does not depend on speed)."""
    rng = random.Random(4242)
    acknowledged: dict[str, str] = {}  # ip -> mac, as the killed writers reported them
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    waited = 0
    for round_ in range(8):
        children = [
            subprocess.Popen(
                [sys.executable, "-c", CHILD, str(tmp_path), str(round_ * 2 + k + 1)],
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            for k in range(2)
        ]
        lines: list[str] = []
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
        for child in children:  # let each do some work, a different amount every time
            assert child.stdout is not None
            target = rng.randint(5, 60)
            waited += target
            adds = 0
            while adds < target and (line := child.stdout.readline()):
                lines.append(line)
                adds += line.startswith("add ")
        for child in children:
            child.send_signal(signal.SIGKILL)
        for child in children:
            out, _ = child.communicate()
            lines += out.splitlines()
        for line in lines:
            word, *rest = line.split()
            if word == "add" and len(rest) == 2:
                acknowledged[rest[0]] = rest[1]
            elif word == "del?" and rest:
                acknowledged.pop(rest[0], None)  # may or may not have been committed
        state = entries(tmp_path)
        for addr, mac in acknowledged.items():
            assert state.get(addr, {}).get("mac") == mac, f"round {round_}: lost or overwritten {addr}"
        macs = [e["mac"] for e in state.values()]
        assert len(macs) == len(set(macs)), f"round {round_}: one MAC got two addresses"
    assert waited >= 80 and acknowledged  # the writers really did work between the kills


def test_concurrent_callers_behind_a_slow_disk_lose_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Callers pile up behind slow flushes (shared flushes: bench/ipam.py counts them)."""
    storage, pve = open_ipam(tmp_path)
    real = os.fdatasync

    def slow_flush(fd: int) -> None:  # a slow disk: callers pile up behind one flush
        time.sleep(0.005)
        real(fd)

    monkeypatch.setattr(os, "fdatasync", slow_flush)
    got: list[object] = []

    def caller(tag: int) -> None:
        for i in range(40):
            got.append(pve.next_free_ip(NET16, IpEntry(mac=f"02:00:00:00:{tag:02x}:{i:02x}")))

    threads = [threading.Thread(target=caller, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    storage.close()
    assert len(set(got)) == 320
    assert len(entries(tmp_path)) == 320  # every acknowledged allocation is on disk
