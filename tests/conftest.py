"""Rules for every test (docs/testing.md): declared prerequisites, no silent skips in CI.

* ``@pytest.mark.needs(...)`` (see ``prerequisites.py``) is checked before a test's fixtures are
  set up: a missing prerequisite skips the test, or fails it when ``CI`` is set.
* When ``CI`` is set, any other skip is a failure too (a ``skipif`` mark, a ``pytest.skip`` in a
  fixture, a module that skips itself), except :func:`prerequisites.not_applicable`.
* Outside CI the run ends with a loud list of the tests that did not run, and why.

Fixtures shared by every test layer: stores of both kinds, and real etcd. ``store_spec`` is
parametrized over both stores: a fresh temporary directory, and a fresh key prefix in a real etcd
(one single-member etcd per test session, started with ``sdnkit.lab.etcd``). A test that takes
``store_spec`` (or ``store``) runs once per store::

    def test_x(store):           # open_store(store_spec)
        store.commit({"a": b"1"})
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sdnkit.errors import NotSupportedError
from sdnkit.lab.etcd import EtcdCluster, etcd_binary
from sdnkit.store import Store, open_store
from sdnkit.store.etcd import EtcdStore
from sdnkit.store.etcd_client import EtcdSettings, parse_url

sys.path.insert(0, str(Path(__file__).resolve().parent))  # prerequisites.py, fakes/ beside the tests

from prerequisites import NOT_APPLICABLE, in_ci, skip_or_fail, unmet


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("needs"):
        if reason := unmet(*mark.args):
            skip_or_fail(reason)


def _skip_reason(longrepr: Any) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _strict(report: pytest.TestReport | pytest.CollectReport) -> None:
    """In CI, a skip that is not "not applicable" becomes a failure naming its reason."""
    if not (in_ci() and report.skipped) or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report.longrepr)
    if reason.startswith(NOT_APPLICABLE):
        return
    report.outcome = "failed"
    report.longrepr = f"skipped, and CI runs every test: {reason} (docs/testing.md)"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    _strict(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    report = yield
    _strict(report)
    return report


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    _say_the_seed(terminalreporter, config)
    _say_what_did_not_run(terminalreporter)


def _say_the_seed(terminalreporter: Any, config: pytest.Config) -> None:
    """After a failure in random order (pytest-randomly), how to replay that order."""
    seed = getattr(config.option, "randomly_seed", None)
    failed = terminalreporter.stats.get("failed") or terminalreporter.stats.get("error")
    if failed and isinstance(seed, int) and config.pluginmanager.has_plugin("randomly"):
        terminalreporter.write_line(
            f"random test order, seed {seed}: replay with make test SEED={seed}"
            f" (or pytest -p randomly --randomly-seed={seed} ...)",
            yellow=True,
        )


def _say_what_did_not_run(terminalreporter: Any) -> None:
    """Outside CI: say loudly, grouped by reason, which tests did not run."""
    skipped = [r for r in terminalreporter.stats.get("skipped", ()) if not hasattr(r, "wasxfail")]
    reasons = Counter(_skip_reason(r.longrepr) for r in skipped)
    missing = {k: n for k, n in reasons.items() if not k.startswith(NOT_APPLICABLE)}
    if not missing:
        return
    total = sum(missing.values())
    title = f"{total} TESTS DID NOT RUN (CI=true would fail them)"
    terminalreporter.write_sep("!", title, red=True, bold=True)
    for reason, count in sorted(missing.items(), key=lambda kv: -kv[1]):
        terminalreporter.write_line(f"  {count:4d} x {reason}", yellow=True)


# stores of both kinds, and real etcd ----------------------------------------------------------

_prefixes = itertools.count()


def need_etcd() -> None:
    """Skip (outside CI) or fail (in CI) when the etcd binary is missing."""
    try:
        etcd_binary()
    except NotSupportedError as err:
        skip_or_fail(str(err))


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
def store(store_spec: str) -> Iterator[Store]:
    store = open_store(store_spec)
    try:
        yield store
    finally:
        store.close()  # its connections and lock lease (etcd); open_store then opens a new one


@pytest.fixture
def make_etcd_store() -> Iterator[Callable[[str | EtcdSettings], EtcdStore]]:
    """``make_etcd_store(url_or_settings)``: an ``EtcdStore`` with connections of its own, as
    another process would have (``open_store`` shares one per URL); all closed after the test."""
    opened: list[EtcdStore] = []

    def make(spec: str | EtcdSettings) -> EtcdStore:
        store = EtcdStore(parse_url(spec) if isinstance(spec, str) else spec)
        opened.append(store)
        return store

    try:
        yield make
    finally:
        for store in opened:
            store.close()
