"""The stores' contract: atomic commits, compare-and-swap, locks, and crash safety under kill -9.

Tests that take ``store_spec`` run on both stores (a directory, and a prefix in a real etcd:
``tests/conftest.py``); the others test what only the directory store has (files, journal).
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sdnkit.config.schema import Kind
from sdnkit.config.sectionconfig import parse_config
from sdnkit.errors import ConfigError, ConflictError, LockError
from sdnkit.service import SdnService
from sdnkit.store import ABSENT, LocalStore, config_dir, open_store, store_spec
from sdnkit.store.snapshot import load_snapshot, read_running


def test_write_read_back_and_revision_is_sha1(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "sdn")
    assert store.read("zones.cfg") is None  # nothing yet, and nothing created by reading
    assert not (tmp_path / "sdn").exists()
    store.commit({"zones.cfg": b"simple: z1\n\n", "firewall/v1.fw": b"[OPTIONS]\n"})
    doc = store.read("zones.cfg")
    assert doc is not None and doc.data == b"simple: z1\n\n"
    assert doc.revision == hashlib.sha1(b"simple: z1\n\n").hexdigest()
    assert (tmp_path / "sdn" / "zones.cfg").read_bytes() == b"simple: z1\n\n"
    assert list(store.names()) == ["firewall/v1.fw", "zones.cfg"]
    store.commit({"zones.cfg": None})
    assert store.read("zones.cfg") is None
    assert oct((tmp_path / "sdn" / "firewall" / "v1.fw").stat().st_mode & 0o777) == "0o640"


def test_compare_and_swap(store_spec: str) -> None:
    store = open_store(store_spec)
    revisions = store.commit({"a": b"1"}, expect={"a": ABSENT})
    assert revisions == {"a": store.read("a").revision}  # type: ignore[union-attr]
    with pytest.raises(ConflictError, match="a exists already since it was read"):
        store.commit({"a": b"2"}, expect={"a": ABSENT})
    rev = store.read("a").revision  # type: ignore[union-attr]
    store.commit({"a": b"2", "b": b"2"}, expect={"a": rev, "b": ABSENT})
    with pytest.raises(ConflictError, match="a was changed by someone else"):
        store.commit({"a": b"3", "b": b"3"}, expect={"a": rev})
    assert store.read_many(["a", "b"]) == {"a": store.read("a"), "b": store.read("b")}
    assert store.read("b").data == b"2"  # type: ignore[union-attr]  # the refused commit wrote nothing


def test_deletes_names_and_read_prefix(store_spec: str) -> None:
    store = open_store(store_spec)
    store.commit({"ports/v1/a": b"1", "ports/v1/b": b"2", "ports.json": b"{}", "zones.cfg": b""})
    assert list(store.names("ports/")) == ["ports/v1/a", "ports/v1/b"]
    assert list(store.names("ports")) == ["ports.json", "ports/v1/a", "ports/v1/b"]
    found = store.read_prefix("ports/")
    assert {n: d.data for n, d in found.items()} == {"ports/v1/a": b"1", "ports/v1/b": b"2"}
    assert found["ports/v1/a"] == store.read("ports/v1/a")
    assert store.commit({"ports/v1/a": None, "missing": None}) == {"ports/v1/a": ABSENT, "missing": ABSENT}
    assert list(store.names("ports/")) == ["ports/v1/b"]
    assert store.read("zones.cfg").data == b""  # type: ignore[union-attr]  # empty is not absent


def test_names_that_could_escape_the_store_are_refused(store_spec: str) -> None:
    store = open_store(store_spec)
    for bad in ("../x", "/etc/passwd", "a//b", "", "a/../b", "a b", "a\nb"):
        with pytest.raises(ConfigError):
            store.commit({bad: b"x"})
        with pytest.raises(ConfigError):
            store.read(bad)
    store.commit({"ok/name-1.cfg": b"x"})  # the same path works when it is clean
    assert list(store.names()) == ["ok/name-1.cfg"]


def test_local_store_keeps_its_meta_directory(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    with pytest.raises(ConfigError):
        store.commit({".sdnkit/journal": b"x"})


def test_open_store_honours_config_dir_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SDN_STORE", raising=False)
    monkeypatch.setenv("SDN_CONFIG_DIR", str(tmp_path / "env"))
    assert config_dir() == str(tmp_path / "env")
    assert config_dir(tmp_path / "x") == str(tmp_path / "x")
    assert store_spec() == str(tmp_path / "env")
    monkeypatch.setenv("SDN_STORE", "etcd://192.0.2.1:2379/x")
    assert store_spec() == "etcd://192.0.2.1:2379/x"  # SDN_STORE wins over SDN_CONFIG_DIR
    assert store_spec(tmp_path) == str(tmp_path)  # and an explicit one over both
    monkeypatch.delenv("SDN_STORE")
    monkeypatch.delenv("SDN_CONFIG_DIR")
    assert config_dir() == "/etc/sdnkit"
    assert isinstance(open_store(tmp_path), LocalStore)


def test_interrupted_multi_document_commit_is_replayed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStore(tmp_path)
    store.commit({"a": b"old", "b": b"old"})
    import sdnkit.store.local as local

    real = local._write_file
    calls: list[Path] = []

    def crash_on_second(path: Path, data: bytes, mode: int = 0o640) -> None:
        calls.append(path)
        if len(calls) == 3:  # journal, a, then "crash" before b
            raise KeyboardInterrupt
        real(path, data, mode)

    monkeypatch.setattr(local, "_write_file", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        store.commit({"a": b"new", "b": b"new"})
    monkeypatch.setattr(local, "_write_file", real)
    assert (tmp_path / "a").read_bytes() == b"new" and (tmp_path / "b").read_bytes() == b"old"
    fresh = LocalStore(tmp_path)  # another process opening the store
    assert {n: d.data for n, d in fresh.read_many(["a", "b"]).items() if d} == {"a": b"new", "b": b"new"}
    assert not (tmp_path / ".sdnkit" / "journal").exists()


def test_stray_temporary_files_are_removed(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.commit({"a": b"1"})
    (tmp_path / ".a.sdnkit-tmp").write_bytes(b"half")
    assert list(store.names()) == ["a"]
    store.commit({"b": b"1"})
    assert not (tmp_path / ".a.sdnkit-tmp").exists()


_TRY_LOCK = (
    "import sys; from sdnkit.store import open_store\n"
    "from sdnkit.errors import LockError\n"
    "try:\n"
    "    open_store(sys.argv[1]).lock('sdn', timeout=float(sys.argv[2])).__enter__()\n"
    "except LockError as e:\n"
    "    print(e); sys.exit(3)\n"
    "print('acquired')\n"
)


def _try_lock(spec: str, timeout: float) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-c", _TRY_LOCK, spec, str(timeout)]
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)


def test_lock_is_exclusive_across_processes_and_reentrant(store_spec: str) -> None:
    store = open_store(store_spec)
    with store.lock("sdn"), open_store(store_spec).lock("sdn"):  # re-entrant in one thread
        done = _try_lock(store_spec, 0.3)
        assert done.returncode == 3, done.stderr
        assert "cannot acquire the sdn lock" in done.stdout
    done = _try_lock(store_spec, 5)  # released: another process gets it
    assert done.returncode == 0 and "acquired" in done.stdout, done.stderr


def test_lock_excludes_other_threads(store_spec: str) -> None:
    store = open_store(store_spec)
    errors: list[Exception] = []

    def other() -> None:
        try:
            with store.lock("sdn", timeout=0.1):
                pass
        except LockError as err:
            errors.append(err)

    with store.lock("sdn"):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert len(errors) == 1


def test_stale_digest_between_two_processes(store_spec: str) -> None:
    SdnService(store_spec).create("zones", {"zone": "z1", "type": "simple"})
    digest = load_snapshot(open_store(store_spec)).digest(Kind.ZONES)
    code = (
        "import sys; from sdnkit.service import SdnService; from sdnkit.errors import ConflictError\n"
        "params = {'zone': 'z1', 'mtu': sys.argv[2], 'digest': sys.argv[3]}\n"
        "try:\n"
        "    SdnService(sys.argv[1]).update('zones', params)\n"
        "except ConflictError as err:\n"
        "    print(err); sys.exit(2)\n"
    )

    def run(mtu: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-c", code, store_spec, mtu, digest]
        return subprocess.run(argv, capture_output=True, text=True, check=False)

    first, second = run("1400"), run("1300")
    assert first.returncode == 0, first.stderr
    assert second.returncode == 2, second.stderr
    assert "zones.cfg was modified since it was read" in second.stdout
    zones = open_store(store_spec).read("zones.cfg")
    assert zones is not None and parse_config(Kind.ZONES, zones.data).sections["z1"].get("mtu") == 1400


# kill -9 ----------------------------------------------------------------------------------------

DOCS = ("zones.cfg", "vnets.cfg", "subnets.cfg")


def _docs(i: int) -> dict[str, bytes | None]:
    zones = "".join(f"simple: z{n}\n\tmtu {1000 + i}\n\n" for n in range(1 + i % 5))
    vnets = f"vnet: v1\n\tzone z0\n\talias generation {i}\n\n"
    subnets = None if i % 7 == 3 else f"subnet: z0-10.0.{i % 250}.0-24\n\tvnet v1\n\n"
    return {
        "zones.cfg": zones.encode(),
        "vnets.cfg": vnets.encode(),
        "subnets.cfg": subnets and subnets.encode(),
    }


def _generation(docs: dict[str, bytes | None]) -> int:
    vnets = parse_config(Kind.VNETS, docs["vnets.cfg"]).sections
    return int(str(vnets["v1"].get("alias")).split()[-1])


def _read(spec: str) -> dict[str, bytes | None]:
    return {n: (d.data if d else None) for n, d in open_store(spec).read_many(DOCS).items()}


def _writer(spec: str) -> None:
    store = open_store(spec)
    i = _generation(_read(spec))
    while True:
        i += 1
        store.commit(_docs(i))
        time.sleep(0.001)  # a pause as real writers have, so readers get the lock too


def _wait_for_progress(spec: str, since: int) -> None:
    deadline = time.monotonic() + 10
    while _generation(_read(spec)) == since and time.monotonic() < deadline:
        time.sleep(0.001)


@pytest.mark.slow
def test_kill_9_during_writes_leaves_a_consistent_store(store_spec: str) -> None:
    rng = random.Random(20240607)
    open_store(store_spec).commit(_docs(0))
    generation = 0
    for _ in range(40):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns
            try:
                _writer(store_spec)
            finally:
                os._exit(0)
        _wait_for_progress(store_spec, generation)  # the writer is busy: now kill it at a random moment
        time.sleep(rng.uniform(0.0, 0.02))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        docs = _read(store_spec)
        generation = _generation(docs)
        assert docs == _docs(generation), (
            f"documents of different commits after kill at generation {generation}"
        )
        for kind, name in ((Kind.ZONES, "zones.cfg"), (Kind.SUBNETS, "subnets.cfg")):
            parse_config(kind, docs[name])
    assert generation >= 40  # every writer committed before it was killed
    open_store(store_spec).commit({"x": b"1"})
    root = Path(store_spec)
    if root.is_dir():  # the directory store: no journal or temporary file left behind
        assert not list(root.rglob("*.sdnkit-tmp")) and not (root / ".sdnkit" / "journal").exists()


def _service_writer(spec: str) -> None:
    svc = SdnService(spec)
    i = 0
    while True:
        i += 1
        svc.update("zones", {"zone": "z1", "mtu": 1000 + i % 500})
        svc.apply()


@pytest.mark.slow
def test_kill_9_during_service_writes_leaves_a_loadable_store(store_spec: str) -> None:
    # a killed writer may hold the sdn lock: on etcd the next one gets it after the lease TTL (2 s)
    store_spec = f"{store_spec}?lock-ttl=2" if store_spec.startswith("etcd") else store_spec
    rng = random.Random(7)
    SdnService(store_spec).create("zones", {"zone": "z1", "type": "simple"})
    versions = [0]
    for _ in range(15):
        pid = os.fork()
        if pid == 0:  # pragma: no cover
            try:
                _service_writer(store_spec)
            finally:
                os._exit(0)
        deadline = time.monotonic() + 20
        while read_running(open_store(store_spec)).version == versions[-1] and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.05))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        snap = load_snapshot(open_store(store_spec))  # parses every document strictly
        assert "z1" in snap.sections(Kind.ZONES)
        versions.append(snap.running.version)
    assert versions == sorted(set(versions))  # every writer applied at least once; nothing went back
