"""``Store.watch`` and ``Store.publish`` on both stores (a directory, and real etcd)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from sdnkit.store import open_store


def test_watch_wakes_for_changes_under_its_prefixes_only(store_spec: str) -> None:
    store = open_store(store_spec)
    store.commit({"nodes-status/n1.json": b"{}", "zones.cfg": b""})
    with store.watch(["nodes-status/", ".running-config"]) as watch:
        assert not watch.wait(0.3)  # what was there before the opening is no change
        store.commit({"zones.cfg": b"simple: z\n\n", "nodes-statusX": b"1"})
        assert not watch.wait(0.5)  # outside the prefixes
        store.commit({"nodes-status/n1.json": b'{"v": 2}'})
        assert watch.wait(10)
        assert not watch.wait(0.3)  # reported once
        store.commit({".running-config": b"{}", "nodes-status/n2.json": b"{}"})
        assert watch.wait(10)  # one commit of two watched documents: one wake-up
        assert not watch.wait(0.3)
        store.commit({".running-config": b'{"v": 2}'})
        store.commit({"nodes-status/n1.json": None})
        # two commits while nobody waited: not missed. They may wake it twice: etcd notifies each
        # commit on its own, and the second's notification can come after the first woke the
        # waiter (the protocol allows a wake for a change the waiter saw already: it rereads)
        assert watch.wait(10)


def test_watch_sees_a_change_by_another_process(store_spec: str) -> None:
    store = open_store(store_spec)
    code = "import sys; from sdnkit.store import open_store\n"
    code += "open_store(sys.argv[1]).commit({'ports/p1': b'x'})"
    with store.watch(["ports/"]) as watch:
        subprocess.run([sys.executable, "-c", code, store_spec], check=True, timeout=60)
        assert watch.wait(10)
    assert store.read("ports/p1").data == b"x"  # type: ignore[union-attr]


def test_a_waiting_watch_returns_when_the_change_comes(store_spec: str) -> None:
    store = open_store(store_spec)
    results: list[bool] = []
    with store.watch([""]) as watch:
        waiter = threading.Thread(target=lambda: results.append(watch.wait(20)))
        waiter.start()
        time.sleep(0.2)
        store.commit({"anything": b"1"})
        waiter.join(30)
    assert results == [True]


def test_publish_refresh_and_close(store_spec: str) -> None:
    store = open_store(store_spec)
    with store.watch(["heartbeat/"]) as watch:
        lease = store.publish("heartbeat/n1", b'{"time": 1}', ttl=5)
        assert store.read("heartbeat/n1").data == b'{"time": 1}'  # type: ignore[union-attr]
        assert watch.wait(10)
        lease.refresh(b'{"time": 2}')
        assert store.read("heartbeat/n1").data == b'{"time": 2}'  # type: ignore[union-attr]
        lease.refresh()
        assert store.read("heartbeat/n1").data == b'{"time": 2}'  # type: ignore[union-attr]
        lease.refresh(lambda: b'{"time": 3}')  # content made when it is written
        assert store.read("heartbeat/n1").data == b'{"time": 3}'  # type: ignore[union-attr]
        lease.close()
        assert store.read("heartbeat/n1") is None
        assert watch.wait(10)


@pytest.mark.services
def test_an_abandoned_lease_expires_on_etcd_and_comes_back_on_refresh(etcd_url: str) -> None:
    store = open_store(etcd_url)
    holder = "import sys, time; from sdnkit.store import open_store\n"
    holder += "open_store(sys.argv[1]).publish('heartbeat/n2', b'up', 1)\n"
    holder += "print('up', flush=True); time.sleep(600)"
    argv = [sys.executable, "-c", holder, etcd_url]
    with (
        store.watch(["heartbeat/"]) as watch,
        subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as proc,
    ):
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
            assert store.read("heartbeat/n2").data == b"up"  # type: ignore[union-attr]
            assert watch.wait(10)
            proc.kill()  # the holder is gone: nobody refreshes
            proc.wait()
            assert watch.wait(15)  # the deletion by etcd, after the TTL
            assert store.read("heartbeat/n2") is None
        finally:
            if proc.poll() is None:
                proc.kill()
    lease = store.publish("heartbeat/n3", b"up", ttl=1)
    time.sleep(3)  # the holder paused for longer than the TTL
    assert store.read("heartbeat/n3") is None
    lease.refresh()  # and is back: published again
    assert store.read("heartbeat/n3").data == b"up"  # type: ignore[union-attr]
    time.sleep(3)
    stamped: list[float] = []  # a heartbeat's time is taken after the keep-alive found it expired
    lease.refresh(lambda: stamped.append(time.time()) or b"again")
    assert store.read("heartbeat/n3").data == b"again" and len(stamped) == 1  # type: ignore[union-attr]
    lease.close()
