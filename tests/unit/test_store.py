"""The local directory store: atomic commits, compare-and-swap, locks, and crash safety under kill -9."""

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
from sdnkit.store import ABSENT, LocalStore, config_dir, open_store
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


def test_compare_and_swap(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.commit({"a": b"1"}, expect={"a": ABSENT})
    with pytest.raises(ConflictError, match="a exists already since it was read"):
        store.commit({"a": b"2"}, expect={"a": ABSENT})
    rev = store.read("a").revision  # type: ignore[union-attr]
    store.commit({"a": b"2", "b": b"2"}, expect={"a": rev, "b": ABSENT})
    with pytest.raises(ConflictError, match="a was changed by someone else"):
        store.commit({"a": b"3", "b": b"3"}, expect={"a": rev})
    assert store.read_many(["a", "b"]) == {"a": store.read("a"), "b": store.read("b")}
    assert store.read("b").data == b"2"  # type: ignore[union-attr]  # the refused commit wrote nothing


def test_names_that_could_escape_the_store_are_refused(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    for bad in ("../x", "/etc/passwd", "a//b", ".sdnkit/journal", "", "a/../b"):
        with pytest.raises(ConfigError):
            store.commit({bad: b"x"})


def test_open_store_honours_config_dir_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SDN_CONFIG_DIR", str(tmp_path / "env"))
    assert config_dir() == str(tmp_path / "env")
    assert config_dir(tmp_path / "x") == str(tmp_path / "x")
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


def test_lock_is_exclusive_across_processes_and_reentrant(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    with store.lock("sdn"), LocalStore(tmp_path).lock("sdn"):  # re-entrant in one thread
        code = (
            "import sys; from sdnkit.store.local import LocalStore\n"
            "from sdnkit.errors import LockError\n"
            "try:\n"
            f"    LocalStore({str(tmp_path)!r}).lock('sdn', timeout=0.2).__enter__()\n"
            "except LockError as e:\n"
            "    print(e); sys.exit(3)\n"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        assert done.returncode == 3, done.stderr
        assert "cannot acquire the sdn lock" in done.stdout
    with LocalStore(tmp_path).lock("sdn", timeout=0.2):  # released
        pass


def test_lock_excludes_other_threads(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
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


def test_stale_digest_between_two_processes(tmp_path: Path) -> None:
    SdnService(tmp_path).create("zones", {"zone": "z1", "type": "simple"})
    digest = load_snapshot(LocalStore(tmp_path)).digest(Kind.ZONES)
    code = (
        "import sys; from sdnkit.service import SdnService; from sdnkit.errors import ConflictError\n"
        "params = {'zone': 'z1', 'mtu': sys.argv[2], 'digest': sys.argv[3]}\n"
        "try:\n"
        "    SdnService(sys.argv[1]).update('zones', params)\n"
        "except ConflictError as err:\n"
        "    print(err); sys.exit(2)\n"
    )

    def run(mtu: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-c", code, str(tmp_path), mtu, digest]
        return subprocess.run(argv, capture_output=True, text=True, check=False)

    first, second = run("1400"), run("1300")
    assert first.returncode == 0, first.stderr
    assert second.returncode == 2, second.stderr
    assert "zones.cfg was modified since it was read" in second.stdout
    assert parse_config(Kind.ZONES, (tmp_path / "zones.cfg").read_bytes()).sections["z1"].get("mtu") == 1400


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


def _read(root: Path) -> dict[str, bytes | None]:
    return {n: (d.data if d else None) for n, d in LocalStore(root).read_many(DOCS).items()}


def _writer(root: Path) -> None:
    store = LocalStore(root)
    i = _generation(_read(root))
    while True:
        i += 1
        store.commit(_docs(i))
        time.sleep(0.001)  # a pause as real writers have, so readers get the lock too


def _wait_for_progress(root: Path, since: int) -> None:
    deadline = time.monotonic() + 10
    while _generation(_read(root)) == since and time.monotonic() < deadline:
        time.sleep(0.001)


@pytest.mark.slow
def test_kill_9_during_writes_leaves_a_consistent_store(tmp_path: Path) -> None:
    rng = random.Random(20240607)
    LocalStore(tmp_path).commit(_docs(0))
    generation = 0
    for _ in range(40):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns
            try:
                _writer(tmp_path)
            finally:
                os._exit(0)
        _wait_for_progress(tmp_path, generation)  # the writer is busy: now kill it at a random moment
        time.sleep(rng.uniform(0.0, 0.02))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        docs = _read(tmp_path)
        generation = _generation(docs)
        assert docs == _docs(generation), (
            f"documents of different commits after kill at generation {generation}"
        )
        for kind, name in ((Kind.ZONES, "zones.cfg"), (Kind.SUBNETS, "subnets.cfg")):
            parse_config(kind, docs[name])
    assert generation >= 40  # every writer committed before it was killed
    LocalStore(tmp_path).commit({"x": b"1"})
    assert not list(tmp_path.rglob("*.sdnkit-tmp")) and not (tmp_path / ".sdnkit" / "journal").exists()


def _service_writer(root: Path) -> None:
    svc = SdnService(root)
    i = 0
    while True:
        i += 1
        svc.update("zones", {"zone": "z1", "mtu": 1000 + i % 500})
        svc.apply()


@pytest.mark.slow
def test_kill_9_during_service_writes_leaves_a_loadable_store(tmp_path: Path) -> None:
    rng = random.Random(7)
    SdnService(tmp_path).create("zones", {"zone": "z1", "type": "simple"})
    versions = [0]
    for _ in range(15):
        pid = os.fork()
        if pid == 0:  # pragma: no cover
            try:
                _service_writer(tmp_path)
            finally:
                os._exit(0)
        deadline = time.monotonic() + 10
        while read_running(LocalStore(tmp_path)).version == versions[-1] and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.05))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        snap = load_snapshot(LocalStore(tmp_path))  # parses every document strictly
        assert "z1" in snap.sections(Kind.ZONES)
        versions.append(snap.running.version)
    assert versions == sorted(set(versions))  # every writer applied at least once; nothing went back
