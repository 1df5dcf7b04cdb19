"""The built-in IPAM on etcd: one document per address, compare-and-swap, many writers, kill -9."""

from __future__ import annotations

import base64
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
from collections.abc import Callable

import pytest

from sdnkit.config.model import Subnet
from sdnkit.ipam.base import IpEntry
from sdnkit.ipam.keyed import RECENT, SEQUENCE, KeyedStorage
from sdnkit.ipam.pve import PveIpam
from sdnkit.lab.etcd import EtcdCluster
from sdnkit.store.etcd import EtcdStore
from sdnkit.store.etcd_client import parse_url

OpenIpam = Callable[[str], tuple[KeyedStorage, PveIpam]]
Entries = Callable[[str], dict[str, dict]]

pytestmark = pytest.mark.services

ip = ipaddress.ip_address
NET16 = Subnet(id="z1-10.20.0.0-16", vnet="v1", zone="z1", cidr="10.20.0.0/16", gateway=ip("10.20.0.1"))
NET6 = Subnet(id="z1-fd00--64", vnet="v1", zone="z1", cidr="fd00::/64", gateway=ip("fd00::1"))


@pytest.fixture
def open_ipam(make_etcd_store: Callable[..., EtcdStore]) -> OpenIpam:
    """The built-in IPAM on a store of its own: its own connections, as another process's."""

    def open_(url: str) -> tuple[KeyedStorage, PveIpam]:
        storage = KeyedStorage(make_etcd_store(url))
        return storage, PveIpam("pve", storage)

    return open_


@pytest.fixture
def entries(open_ipam: OpenIpam) -> Entries:
    """The addresses of NET16 as a fresh reader sees them."""

    def read(url: str) -> dict[str, dict[str, object]]:
        storage, _ = open_ipam(url)
        doc = storage.run(lambda txn: txn.state.to_json())
        return doc["zones"].get("z1", {}).get("subnets", {}).get(NET16.cidr, {}).get("ips", {})

    return read


def etcd_values(cluster: EtcdCluster, prefix: str) -> dict[str, bytes]:
    argv = ["etcdctl", f"--endpoints={cluster.endpoints[0]}", "get", "--prefix", prefix, "-w", "json"]
    done = subprocess.run(
        argv, capture_output=True, text=True, check=True, env={**os.environ, "ETCDCTL_API": "3"}
    )
    kvs = json.loads(done.stdout).get("kvs", [])
    return {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv.get("value", "")) for kv in kvs}


def test_one_small_document_per_address(
    etcd_single: EtcdCluster, etcd_url: str, open_ipam: OpenIpam, entries: Entries
) -> None:
    _storage, pve = open_ipam(etcd_url)
    got = [pve.next_free_ip(NET16, IpEntry(mac=f"02:00:00:00:00:{i:02x}", vmid="100")) for i in range(50)]
    v6 = pve.next_free_ip(NET6, IpEntry(mac="02:00:00:00:00:01", hostname="web"))
    heads = etcd_values(etcd_single, parse_url(etcd_url).prefix + "doc/ipam/")
    addresses = {k.rsplit("/", 1)[1] for k in heads if "/z1/10.20.0.0_16/" in k} - {"subnet"}
    assert addresses == {str(a) for a in got}  # one document per address, named by it
    assert f"{parse_url(etcd_url).prefix}doc/ipam/z1/fd00--_64/{str(v6).replace(':', '-')}" in heads
    assert max(len(v) for v in heads.values()) < 4096  # no value grows with the number of addresses
    assert entries(etcd_url)[str(got[3])] == {"mac": "02:00:00:00:00:03", "vmid": "100"}


def test_two_writers_see_each_other_and_catch_up(
    etcd_url: str, open_ipam: OpenIpam, entries: Entries
) -> None:
    s1, p1 = open_ipam(etcd_url)
    _s2, p2 = open_ipam(etcd_url)
    got = []
    for i in range(120):  # alternating: every call of one follows a change of the other
        pve = p1 if i % 3 else p2
        got.append(pve.next_free_ip(NET16, IpEntry(mac=f"02:00:00:00:{i >> 8:02x}:{i & 255:02x}")))
    for _ in range(RECENT + 5):  # more than the sequence remembers: p2 reads everything again
        got.append(p1.next_free_ip(NET16, IpEntry(mac=f"02:00:00:01:00:{len(got) & 255:02x}")))
    got.append(p2.next_free_ip(NET16, IpEntry(mac="02:00:00:02:00:00")))
    assert len(set(got)) == len(got) == 120 + RECENT + 6
    assert len(entries(etcd_url)) == len(got)
    p2.del_ip(NET16, got[0])
    assert str(got[0]) not in {str(a.ip) for a in p1.allocations([NET16])}  # p1 sees the release
    assert json.loads(s1._store.read(SEQUENCE).data)["n"] >= len(got)  # type: ignore[union-attr]


def test_concurrent_threads_and_storages_lose_nothing(
    etcd_url: str, open_ipam: OpenIpam, entries: Entries
) -> None:
    pairs = [open_ipam(etcd_url) for _ in range(2)]
    got: list[object] = []
    errors: list[BaseException] = []

    def caller(tag: int) -> None:
        pve = pairs[tag % 2][1]
        try:
            for i in range(25):
                got.append(pve.next_free_ip(NET16, IpEntry(mac=f"02:00:00:00:{tag:02x}:{i:02x}")))
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=caller, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(set(got)) == len(got) == 200
    assert len(entries(etcd_url)) == 200


def test_a_failed_transaction_leaves_nothing(etcd_url: str, open_ipam: OpenIpam, entries: Entries) -> None:
    storage, pve = open_ipam(etcd_url)
    pve.add_subnet(NET16)

    def half(txn):  # type: ignore[no-untyped-def]
        from sdnkit.ipam.state import PutIp

        txn.apply(PutIp("z1", NET16.cidr, "10.20.0.9", IpEntry(mac="02:00:00:00:00:09")))
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        storage.run(half)
    assert entries(etcd_url) == {}
    assert open_ipam(etcd_url)[1].allocations([NET16]) == []


CHILD = textwrap.dedent(
    """
    import ipaddress, random, sys
    from sdnkit.config.model import Subnet
    from sdnkit.ipam.base import IpEntry
    from sdnkit.ipam.pve import PveIpam
    from sdnkit.service.ipam_context import storage_for
    from sdnkit.store import open_store

    url, tag = sys.argv[1], int(sys.argv[2])
    net = Subnet(id="z1-10.20.0.0-16", vnet="v1", zone="z1", cidr="10.20.0.0/16",
                 gateway=ipaddress.ip_address("10.20.0.1"))
    pve = PveIpam("pve", storage_for(open_store(url)))
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
def test_kill_9_never_loses_or_duplicates_an_acknowledged_allocation(etcd_url: str, entries: Entries) -> None:
    rng = random.Random(4243)
    acknowledged: dict[str, str] = {}  # ip -> mac, as the killed writers reported them
    for round_ in range(6):
        children = [
            subprocess.Popen(
                [sys.executable, "-c", CHILD, etcd_url, str(round_ * 2 + k + 1)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for k in range(2)
        ]
        try:
            for child in children:
                assert child.stdout is not None
                assert child.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.2, 0.8))
        finally:
            for child in children:
                child.send_signal(signal.SIGKILL)
        for child in children:
            out, _ = child.communicate()
            for line in out.splitlines():
                word, *rest = line.split()
                if word == "add" and len(rest) == 2:
                    acknowledged[rest[0]] = rest[1]
                elif word == "del?" and rest:
                    acknowledged.pop(rest[0], None)  # may or may not have been committed
        state = entries(etcd_url)
        for addr, mac in acknowledged.items():
            assert state.get(addr, {}).get("mac") == mac, f"round {round_}: lost or overwritten {addr}"
        macs = [e["mac"] for e in state.values()]
        assert len(macs) == len(set(macs)), f"round {round_}: one MAC got two addresses"
    assert len(acknowledged) > 50  # the writers really did work between the kills
