"""The etcd store against real etcd: layout, locks of killed holders, failover, TLS and auth.

What etcd holds is checked with ``etcdctl`` (Debian's ``etcd-client``), not with the store's own
reads. The contract tests shared with the directory store are in ``tests/unit/test_store.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from sdnkit.errors import ConfigError, ConflictError, LockError, StoreError
from sdnkit.lab.etcd import EtcdCluster, EtcdTls
from sdnkit.store import ABSENT, open_store
from sdnkit.store.chunks import INLINE_MAX, MAX_CHUNK
from sdnkit.store.etcd import EtcdStore
from sdnkit.store.etcd_client import EtcdSettings, parse_url

pytestmark = pytest.mark.services


def etcdctl(cluster: EtcdCluster, *args: str, env: dict[str, str] | None = None) -> str:
    argv = ["etcdctl", f"--endpoints={','.join(cluster.endpoints)}", *args]
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
        env={**os.environ, "ETCDCTL_API": "3", **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def keys_and_sizes(cluster: EtcdCluster, prefix: str) -> dict[str, int]:
    """Every key under ``prefix`` with the size of its value, as etcdctl sees them."""
    out = json.loads(etcdctl(cluster, "get", "--prefix", prefix, "-w", "json"))
    import base64

    return {
        base64.b64decode(kv["key"]).decode(): len(base64.b64decode(kv.get("value", "")))
        for kv in out.get("kvs", [])
    }


def _vnets(count: int, changed: int | None = None) -> bytes:
    lines = []
    for i in range(count):
        alias = "changed" if i == changed else f"vnet number {i}"
        lines.append(f"vnet: vn{i}\n\tzone z{i % 20}\n\ttag {1000 + i}\n\talias {alias}\n\n")
    return "".join(lines).encode()


# -- layout ------------------------------------------------------------------------------------


def test_a_small_edit_of_a_big_document_writes_one_small_chunk(
    etcd_single: EtcdCluster, etcd_url: str, make_etcd_store: Callable[..., EtcdStore]
) -> None:
    url = etcd_url
    prefix = parse_url(url).prefix
    store = open_store(url)
    big = _vnets(1000)
    assert len(big) > 3 * INLINE_MAX
    store.commit({"vnets.cfg": big})
    before = keys_and_sizes(etcd_single, prefix + "blob/")
    assert len(before) > 3  # the document is cut in several chunks
    assert max(before.values()) <= MAX_CHUNK
    revision = etcdctl(etcd_single, "get", prefix + "doc/vnets.cfg", "-w", "json")
    head_rev = json.loads(revision)["kvs"][0]["mod_revision"]

    store.commit({"vnets.cfg": _vnets(1000, changed=500)}, expect={"vnets.cfg": str(head_rev)})
    after = keys_and_sizes(etcd_single, prefix + "blob/")
    new = set(after) - set(before)
    assert len(new) == 1  # one chunk written; every other one is shared with the old version
    assert after[new.pop()] < 32 << 10
    everything = keys_and_sizes(etcd_single, prefix)
    assert max(everything.values()) <= MAX_CHUNK  # no value grows with the document
    # a reader elsewhere gets the new document byte for byte
    assert make_etcd_store(url).read("vnets.cfg").data == _vnets(1000, changed=500)  # type: ignore[union-attr]


def test_sweep_deletes_only_unreferenced_chunks(
    etcd_single: EtcdCluster, etcd_url: str, make_etcd_store: Callable[..., EtcdStore]
) -> None:
    url = etcd_url
    prefix = parse_url(url).prefix
    store = make_etcd_store(url)
    other = _vnets(700).replace(b"vnet: vn", b"vnet: vb")  # no chunk in common with a.cfg
    store.commit({"a.cfg": _vnets(600), "b.cfg": other})
    store.commit({"a.cfg": _vnets(600, changed=3)})
    assert store.sweep() >= 1  # the chunk the edit replaced
    store.commit({"b.cfg": None})
    assert store.sweep() >= 1
    left = set(keys_and_sizes(etcd_single, prefix + "blob/"))
    again = make_etcd_store(url)  # a cold reader: every chunk it needs is still there
    assert again.read("a.cfg").data == _vnets(600, changed=3)  # type: ignore[union-attr]
    assert again.read("b.cfg") is None
    assert store.sweep() == 0
    assert set(keys_and_sizes(etcd_single, prefix + "blob/")) == left
    # a writer that counted on a swept chunk writes it again (the sweep changed the epoch)
    store.commit({"b.cfg": other})
    assert again.read("b.cfg").data == other  # type: ignore[union-attr]


def test_documents_of_two_prefixes_stay_apart(new_etcd_url: Callable[[], str]) -> None:
    one, two = open_store(new_etcd_url()), open_store(new_etcd_url())
    one.commit({"zones.cfg": b"simple: a\n\n"})
    assert two.read("zones.cfg") is None and list(two.names()) == []
    with one.lock("sdn"), two.lock("sdn", timeout=1):  # locks are per prefix too
        pass


def test_open_store_shares_one_store_per_url_until_it_is_closed(etcd_url: str) -> None:
    one = open_store(etcd_url)
    assert open_store(etcd_url) is one  # one set of connections and one lock lease per process
    one.close()
    two = open_store(etcd_url)  # a closed store is never handed out again
    try:
        assert two is not one
        two.commit({"a": b"1"})
        assert two.read("a").data == b"1"  # type: ignore[union-attr]
    finally:
        two.close()


def test_expect_revision_of_another_store_never_matches(etcd_url: str) -> None:
    store = open_store(etcd_url)
    store.commit({"a": b"1"})
    with pytest.raises(ConflictError, match="a was changed by someone else"):
        store.commit({"a": b"2"}, expect={"a": "356a192b7913b04c54574d18c28d46e6395428ab"})
    assert store.read("a").data == b"1"  # type: ignore[union-attr]


def test_a_commit_over_the_transaction_limit_is_refused_whole(etcd_url: str) -> None:
    store = open_store(etcd_url)
    with pytest.raises(StoreError, match="more than etcd's limit of 128"):
        store.commit({f"d{i}": b"x" for i in range(130)})
    assert list(store.names()) == []
    store.commit({f"d{i}": b"x" for i in range(100)})
    assert len(list(store.names())) == 100


def test_url_options(tmp_path: Path) -> None:
    s = parse_url("etcd://h1:2379,h2:2380/sdnkit/prod?timeout=2&lock-ttl=5", env={})
    assert s.endpoints == ("http://h1:2379", "http://h2:2380") and s.prefix == "/sdnkit/prod/"
    assert (s.timeout, s.lock_ttl) == (2.0, 5)
    assert parse_url("etcd://h1:2379", env={}).prefix == "/sdnkit/default/"
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    t = parse_url(f"etcds://h1:2379/x?user=sdn&password-file={secret}&cacert=/ca.pem", env={})
    assert t.endpoints == ("https://h1:2379",) and (t.user, t.password, t.cacert) == (
        "sdn",
        "s3cret",
        "/ca.pem",
    )
    assert "s3cret" not in repr(t)
    env = {"SDN_ETCD_USER": "u", "SDN_ETCD_PASSWORD": "p", "SDN_ETCD_CACERT": "/c.pem"}
    assert parse_url("etcd://h1:2379", env=env).endpoints == ("https://h1:2379",)  # a CA means TLS
    for bad, word in (
        ("etcd://u:pw@h1:2379", "no credentials in the URL"),
        ("etcd://h1", "not host:port"),
        ("etcd://h1:2379/a/../b", "not a clean path"),
        ("etcd://h1:2379?bogus=1", "unknown option 'bogus'"),
        ("etcd://h1:2379?timeout=-1", "timeout must be a positive number"),
        ("etcd://h1:2379?cert=/c.pem", "a client cert and its key go together"),
    ):
        with pytest.raises(ConfigError, match=word):
            parse_url(bad, env={})


# -- locks held by killed processes --------------------------------------------------------------

_HOLDER = """
import sys, time
from sdnkit.store import open_store
with open_store(sys.argv[1]).lock("sdn"):
    print("held", flush=True)
    time.sleep(600)
"""


def test_a_killed_holder_frees_the_lock_after_the_lease_ttl(
    etcd_url: str, make_etcd_store: Callable[..., EtcdStore]
) -> None:
    url = etcd_url + "?lock-ttl=3"
    store = make_etcd_store(url)
    argv = [sys.executable, "-c", _HOLDER, url]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            with pytest.raises(LockError, match="cannot acquire the sdn lock"), store.lock("sdn", timeout=1):
                pass
            os.kill(holder.pid, signal.SIGKILL)
            holder.wait()
            with store.lock("sdn", timeout=3 + 5):  # within the TTL (3 s) and some slack
                pass
        finally:
            if holder.poll() is None:
                holder.kill()


def test_a_holder_that_lost_its_lease_cannot_commit(
    etcd_url: str, make_etcd_store: Callable[..., EtcdStore]
) -> None:
    store = make_etcd_store(etcd_url + "?lock-ttl=2")
    take = "import sys; from sdnkit.store import open_store\n"
    take += "with open_store(sys.argv[1]).lock('sdn', 10): pass"
    with store.lock("sdn"):
        store.commit({"a": b"1"})  # while the lock is held, commits go through
        store._locks.session._stop.set()  # the keep-alive thread dies (a process paused for long)
        argv = [sys.executable, "-c", take, etcd_url]
        other = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        assert other.returncode == 0, other.stderr  # the lease expired: another process got the lock
        with pytest.raises(LockError, match='"sdn" lock was lost'):
            store.commit({"a": b"2"})
    assert store.read("a").data == b"1"  # type: ignore[union-attr]


# -- a cluster losing members while commits stream in ---------------------------------------------


@pytest.fixture
def cluster3(make_etcd_cluster: Callable[..., EtcdCluster]) -> EtcdCluster:
    return make_etcd_cluster(("sta", "stb", "stc"))


def _append(store: EtcdStore, marker: str, stop: threading.Event | None = None) -> bool:
    """Add ``marker`` to the list document by read-modify-write, retrying on conflict; False when
    ``stop`` came first (a conflict writes nothing, so the marker is then not in the list)."""
    while stop is None or not stop.is_set():
        doc = store.read("list")
        items = json.loads(doc.data) if doc else []
        try:
            store.commit(
                {"list": json.dumps([*items, marker]).encode()},
                expect={"list": doc.revision if doc else ABSENT},
            )
            return True
        except ConflictError:
            continue
    return False


@pytest.mark.slow
def test_member_stopped_and_leader_killed_during_commits_lose_and_duplicate_nothing(
    cluster3: EtcdCluster, make_etcd_store: Callable[..., EtcdStore]
) -> None:
    url = cluster3.url("/st/failover")
    stores = [make_etcd_store(url) for _ in range(3)]
    done: list[str] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer(n: int) -> None:
        i = 0
        try:
            while not stop.is_set():
                marker = f"w{n}-{i}"
                if _append(stores[n], marker, stop):
                    done.append(marker)
                i += 1
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    watch = stores[0].watch(["list"])

    def progress(more: int) -> None:
        target = len(done) + more
        deadline = time.monotonic() + 60
        while len(done) < target and not errors and time.monotonic() < deadline:
            time.sleep(0.01)

    try:
        progress(20)
        follower = next(m.name for m in cluster3.members if m.name != cluster3.leader())
        cluster3.stop_member(follower)
        progress(20)  # two members left: still a quorum
        cluster3.start_member(follower)
        leader = cluster3.leader()
        cluster3.kill(leader)
        progress(30)  # a new leader is elected; the clients went over to the others
        cluster3.start_member(leader)
        progress(10)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    # a writer that loses every race (two others commit in between) stops at its conflict: the
    # join then waits for no unacknowledged write that could still land after the read below
    assert not any(t.is_alive() for t in threads), "a writer still waits for etcd after 60 s"
    assert not errors, errors
    assert len(done) >= 80
    final = json.loads(stores[1].read("list").data)  # type: ignore[union-attr]
    assert sorted(final) == sorted(done)  # every acknowledged marker once, nothing else
    assert len(final) == len(set(final))
    assert watch.wait(0)  # the watch saw the stream across both failures
    watch.close()


def test_a_watch_survives_the_member_it_listens_to(
    cluster3: EtcdCluster, make_etcd_store: Callable[..., EtcdStore]
) -> None:
    url = cluster3.url("/st/watch")
    store = make_etcd_store(url)
    with store.watch(["nodes/"]) as watch:
        time.sleep(0.2)  # the stream is open
        listening = watch._stream.endpoint if watch._stream is not None else None
        assert listening is not None
        cluster3.kill(next(m.name for m in cluster3.members if m.client_url == listening))
        writer = make_etcd_store(url)
        writer.commit({"zones.cfg": b""})
        assert not watch.wait(0.5)  # another prefix: no wake-up
        writer.commit({"nodes/n1": b"up"})
        assert watch.wait(20)  # the watch moved to another member and saw it


# -- TLS and users ----------------------------------------------------------------------------


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)


def _certificates(d: Path) -> dict[str, Path]:
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        "req",
        "-x509",
        *ec,
        "-keyout",
        str(d / "ca.key"),
        "-out",
        str(d / "ca.pem"),
        "-subj",
        "/CN=st-ca",
        "-days",
        "2",
    )
    for name, usage in (
        ("server", "serverAuth,clientAuth"),
        ("client", "clientAuth"),
        ("rogue", "clientAuth"),
    ):
        _openssl(
            "req",
            *ec,
            "-keyout",
            str(d / f"{name}.key"),
            "-out",
            str(d / f"{name}.csr"),
            "-subj",
            f"/CN=st-{name}",
        )
        ext = d / f"{name}.ext"
        ext.write_text(f"subjectAltName=IP:127.0.0.1\nextendedKeyUsage={usage}\n")
        ca = ("ca.pem", "ca.key") if name != "rogue" else ("rogue-ca.pem", "rogue-ca.key")
        if name == "rogue":  # signed by a CA etcd does not trust
            _openssl(
                "req",
                "-x509",
                *ec,
                "-keyout",
                str(d / ca[1]),
                "-out",
                str(d / ca[0]),
                "-subj",
                "/CN=rogue",
                "-days",
                "2",
            )
        sign = ["-CA", str(d / ca[0]), "-CAkey", str(d / ca[1]), "-CAcreateserial", "-days", "2"]
        _openssl(
            "x509",
            "-req",
            "-in",
            str(d / f"{name}.csr"),
            *sign,
            "-out",
            str(d / f"{name}.pem"),
            "-extfile",
            str(ext),
        )
    return {p.stem: p for p in d.glob("*.pem")} | {f"{p.stem}.key": p for p in d.glob("*.key")}


def test_tls_with_client_certificates(
    tmp_path: Path, make_etcd_cluster: Callable[..., EtcdCluster], make_etcd_store: Callable[..., EtcdStore]
) -> None:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is missing (make install)") if os.environ.get("CI") else pytest.skip(
            "no openssl"
        )
    files = _certificates(tmp_path)
    tls = EtcdTls(cert=files["server"], key=files["server.key"], ca=files["ca"])
    cluster = make_etcd_cluster(("sttls",), tls=tls, client_cert=(files["client"], files["client.key"]))
    url = cluster.url("/st/tls")
    assert url.startswith("etcds://")
    good = f"{url}?cacert={files['ca']}&cert={files['client']}&key={files['client.key']}"
    store = make_etcd_store(good)
    store.commit({"zones.cfg": b"simple: z\n\n"})
    assert store.read("zones.cfg").data == b"simple: z\n\n"  # type: ignore[union-attr]
    with store.lock("sdn"):
        pass
    rogue = f"{url}?cacert={files['ca']}&cert={files['rogue']}&key={files['rogue.key']}"
    with pytest.raises(StoreError):  # a client certificate of a CA etcd does not trust
        make_etcd_store(_quick(parse_url(rogue))).read("zones.cfg")
    with pytest.raises(StoreError):  # no client certificate
        make_etcd_store(_quick(parse_url(f"{url}?cacert={files['ca']}"))).read("zones.cfg")
    with pytest.raises(StoreError):  # without the CA the server is not trusted
        make_etcd_store(_quick(parse_url(f"{url}?cert={files['client']}&key={files['client.key']}"))).read(
            "x"
        )


def _quick(settings: EtcdSettings) -> EtcdSettings:
    return replace(settings, retry_for=1.0, timeout=1.0)


def test_user_and_password(
    tmp_path: Path, make_etcd_cluster: Callable[..., EtcdCluster], make_etcd_store: Callable[..., EtcdStore]
) -> None:
    cluster = make_etcd_cluster(("stauth",))
    etcdctl(cluster, "user", "add", "root:st-root-pw")
    etcdctl(cluster, "user", "add", "sdn:st-sdn-pw")
    etcdctl(cluster, "role", "add", "sdnkit")
    etcdctl(cluster, "role", "grant-permission", "sdnkit", "--prefix=true", "readwrite", "/st/auth/")
    etcdctl(cluster, "user", "grant-role", "sdn", "sdnkit")
    etcdctl(cluster, "auth", "enable")
    pw = tmp_path / "pw"
    pw.write_text("st-sdn-pw\n")
    store = make_etcd_store(parse_url(cluster.url(f"/st/auth?user=sdn&password-file={pw}"), env={}))
    store.commit({"zones.cfg": b"x"})
    assert store.read("zones.cfg").data == b"x"  # type: ignore[union-attr]
    with store.lock("sdn"):
        pass
    got = etcdctl(cluster, "--user", "root:st-root-pw", "get", "--prefix", "/st/auth/doc/", "--keys-only")
    assert "/st/auth/doc/zones.cfg" in got
    outside = make_etcd_store(
        _quick(parse_url(cluster.url("/elsewhere?user=sdn"), env={"SDN_ETCD_PASSWORD": "st-sdn-pw"}))
    )
    with pytest.raises(StoreError, match="permission denied"):
        outside.commit({"zones.cfg": b"x"})
    wrong_password = {"SDN_ETCD_PASSWORD": "nope"}
    wrong = make_etcd_store(_quick(parse_url(cluster.url("/st/auth?user=sdn"), env=wrong_password)))
    with pytest.raises(StoreError, match="authentication failed"):
        wrong.read("zones.cfg")
