"""Fixtures shared by every test layer: stores of both kinds, and real etcd.

``store_spec`` is parametrized over both stores: a fresh temporary directory, and a fresh key
prefix in a real etcd (one single-member etcd per test session, started with
``sdnkit.lab.etcd``). A test that takes ``store_spec`` (or ``store``) runs once per store::

    def test_x(store):           # open_store(store_spec)
        store.commit({"a": b"1"})

Without etcd installed, the etcd variants are skipped, saying why; with ``CI`` set they fail.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sdnkit.errors import NotSupportedError
from sdnkit.lab.etcd import EtcdCluster, etcd_binary
from sdnkit.store import Store, open_store

_prefixes = itertools.count()


def need_etcd() -> None:
    """Skip (outside CI) or fail (in CI) when the etcd binary is missing."""
    try:
        etcd_binary()
    except NotSupportedError as err:
        if os.environ.get("CI"):
            pytest.fail(f"{err}: CI must run the etcd tests")
        pytest.skip(str(err))


def etcd_tmp(tag: str) -> Path:
    """A private directory for etcd data, in memory where possible (etcd fsyncs every write)."""
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix=f"st-{tag}-", dir=base))


@pytest.fixture(scope="session")
def etcd_single() -> Iterator[EtcdCluster]:
    """One etcd member for the whole session; tests keep apart by key prefix (``etcd_url``)."""
    need_etcd()
    base = etcd_tmp("etcd1")
    cluster = EtcdCluster.local(base, names=("st1",), token=f"st-{os.getpid()}")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


def fresh_etcd_url(cluster: EtcdCluster) -> str:
    return cluster.url(f"/sdnkit-test/{os.getpid()}-{next(_prefixes)}")


@pytest.fixture
def etcd_url(etcd_single: EtcdCluster) -> str:
    """A store URL with a prefix no other test uses."""
    return fresh_etcd_url(etcd_single)


@pytest.fixture
def new_etcd_url(etcd_single: EtcdCluster) -> Callable[[], str]:
    """Makes store URLs with fresh prefixes on the session's etcd."""
    return lambda: fresh_etcd_url(etcd_single)


@pytest.fixture
def make_etcd_cluster() -> Iterator[Callable[..., EtcdCluster]]:
    """Starts private etcd clusters: ``make_etcd_cluster(("a", "b", "c"), tls=...)``; all stop at the end."""
    need_etcd()
    made: list[tuple[EtcdCluster, Path]] = []

    def make(names: tuple[str, ...], **kw: Any) -> EtcdCluster:
        base = etcd_tmp("etcdc")
        cluster = EtcdCluster.local(base, names=names, token=f"st-{os.getpid()}-{len(made)}", **kw)
        made.append((cluster, base))
        cluster.start()
        return cluster

    try:
        yield make
    finally:
        for cluster, base in made:
            cluster.stop()
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["local", pytest.param("etcd", marks=pytest.mark.services)])
def store_spec(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store of each kind: a directory path, or an etcd URL."""
    if request.param == "local":
        return str(tmp_path / "store")
    cluster = request.getfixturevalue("etcd_single")
    return fresh_etcd_url(cluster)


@pytest.fixture
def store(store_spec: str) -> Store:
    return open_store(store_spec)
