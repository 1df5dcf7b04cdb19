"""The etcd store: documents in an etcd v3 cluster, with the guarantees of ``store/base.py``.

Keys, all under the cluster's prefix (``/sdnkit/default/`` unless the URL names another, so that
several sdnkit clusters can share one etcd)::

    <prefix>doc/<name>             the head of document <name> (``store/chunks.py``): its bytes, or
                                   the list of its chunks; the document's revision is the head's
                                   mod_revision
    <prefix>blob/<sha256>          an immutable chunk of a big document
    <prefix>gc/epoch               changed by every chunk sweep (chunk writers compare it)
    <prefix>gc/refs                changed by every commit that writes a chunked head (sweeps compare it)
    <prefix>lock/<name>/<lease>    contenders for lock <name>, oldest first (``store/etcd_lock.py``)

Guarantees, and how:

* ``read_many``/``read_prefix``: the heads come from one transaction (one revision R); chunks
  are read at revision R too, so a concurrent rewrite or sweep cannot mix versions.
* ``commit``: one transaction compares every expected head's mod_revision (0: absent) and puts
  or deletes the heads, with the new chunks of big documents (only those not known to exist
  already; the common small edit writes one). Chunks that do not fit below ``--max-txn-ops`` and
  the request size limit are written before, in transactions of their own. A write whose
  answer is lost is looked for by its nonce before it is sent again, so it lands once.
* chunks nobody references any more (a document rewritten or deleted, a writer killed between
  its chunks and its commit) are removed by ``sweep``: it deletes only chunks unreferenced at
  a revision R, and only if no chunked head was written since R (``gc/refs``); it changes
  ``gc/epoch`` in the same transaction, which makes any writer that counted on one of those
  chunks fail its compare and write them again. A process sweeps after it wrote
  ``SWEEP_AFTER`` bytes of chunks; ``sdn store gc`` sweeps at once.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sdnkit.errors import InternalError, StoreError
from sdnkit.store import chunks as layout
from sdnkit.store.base import ABSENT, Document, check_name
from sdnkit.store.etcd_client import (
    OUT_OF_RANGE,
    EtcdClient,
    EtcdSettings,
    GrpcError,
    cmp_mod,
    kvs,
    op_delete,
    op_put,
    op_range,
    prefix_end,
    revision_of,
    unb64,
)
from sdnkit.store.etcd_commit import TXN_BYTES, Commit, encode
from sdnkit.store.local import check_prefix

__all__ = ["EtcdStore"]

log = logging.getLogger(__name__)

PAGE = 500  # keys per range request when listing
SWEEP_AFTER = 8 << 20  # chunk bytes a process writes before it sweeps
CHUNK_CACHE = 64 << 20


class _Compacted(Exception):
    """A read at an old revision found it compacted: read again at the current one."""


class _ChunkCache:
    """Chunks by hash (immutable, so a hit is always right), least recently used out first."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._size = 0
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, sha: str) -> bytes | None:
        with self._lock:
            data = self._items.get(sha)
            if data is not None:
                self._items.move_to_end(sha)
            return data

    def put(self, sha: str, data: bytes) -> None:
        with self._lock:
            if sha in self._items:
                return
            self._items[sha] = data
            self._size += len(data)
            while self._size > self._limit and self._items:
                self._size -= len(self._items.popitem(last=False)[1])


class EtcdStore:
    """A ``Store`` in etcd (see the module docstring); thread-safe, one per process and URL."""

    def __init__(self, settings: EtcdSettings) -> None:
        self.settings = settings
        self._base = settings.prefix.encode()
        self._pid = os.getpid()
        self._client = EtcdClient(settings)
        self._cache = _ChunkCache(CHUNK_CACHE)
        self._mutex = threading.Lock()
        self._epoch = -1  # gc/epoch's mod_revision when ``_known`` was learnt (-1: not yet)
        self._known: set[str] = set()  # chunks that exist as long as the epoch is unchanged
        self._written = 0  # chunk bytes written since the last sweep
        self.closed = False
        from sdnkit.store.etcd_lock import Locks

        self._locks = Locks(self)

    def __repr__(self) -> str:
        return f"EtcdStore({self.settings.url()!r})"

    @property
    def client(self) -> EtcdClient:
        if self._pid != os.getpid():  # forked: the parent's connections and leases are not ours
            self._after_fork()
        return self._client

    def _after_fork(self) -> None:
        from sdnkit.store.etcd_lock import Locks

        self._pid = os.getpid()
        self._client = EtcdClient(self.settings)
        self._locks = Locks(self)

    # -- keys ----------------------------------------------------------------------------------

    def doc_key(self, name: str) -> bytes:
        return self._base + b"doc/" + name.encode()

    def _blob_key(self, sha: str) -> bytes:
        return self._base + b"blob/" + sha.encode()

    @property
    def epoch_key(self) -> bytes:
        return self._base + b"gc/epoch"

    @property
    def refs_key(self) -> bytes:
        return self._base + b"gc/refs"

    def key_prefix(self, part: str) -> bytes:
        return self._base + part.encode()

    def name_of(self, key: bytes) -> str:
        return key[len(self._base) + 4 :].decode()

    def txn(self, body: Mapping[str, Any], *, idempotent: bool = True) -> dict[str, Any]:
        return self.client.call("kv/txn", body, idempotent=idempotent)

    # -- reading -------------------------------------------------------------------------------

    def read(self, name: str) -> Document | None:
        return self.read_many([name])[name]

    def read_many(self, names: Iterable[str]) -> dict[str, Document | None]:
        wanted = list(dict.fromkeys(check_name(n) for n in names))
        for _ in range(5):
            try:
                heads, revision, epoch = self.read_heads(wanted)
                docs = self._assemble(heads, revision, epoch)
                return {n: docs.get(n) for n in wanted}
            except _Compacted:
                continue
        raise StoreError(f"etcd {self.settings.url()}: reads keep hitting compacted revisions")

    def read_heads(self, names: list[str]) -> tuple[dict[str, dict[str, Any]], int, int]:
        """The heads of ``names`` at one revision, that revision, and the sweep epoch then."""
        per_txn = self.settings.max_txn_ops - 1
        heads: dict[str, dict[str, Any]] = {}
        revision = epoch = 0
        for start in range(0, max(len(names), 1), per_txn):
            group = names[start : start + per_txn]
            ops = [op_range(self.doc_key(n), revision=revision) for n in group]
            if start == 0:
                ops.append(op_range(self.epoch_key, keys_only=True))
            answer = self._read_txn(ops)
            responses = answer.get("responses") or []
            if start == 0:
                revision = revision_of(answer)
                epoch = _mod(kvs(responses[-1]))
            for name, resp in zip(group, responses, strict=False):
                found = kvs(resp)
                if found:
                    heads[name] = found[0]
        return heads, revision, epoch

    def _read_txn(self, ops: list[dict[str, Any]]) -> dict[str, Any]:
        try:
            return self.txn({"success": ops})
        except GrpcError as err:
            if err.code == OUT_OF_RANGE:
                raise _Compacted from None
            raise

    def _assemble(
        self, heads: Mapping[str, dict[str, Any]], revision: int, epoch: int
    ) -> dict[str, Document]:
        decoded = {n: layout.decode_head(n, unb64(kv.get("value"))) for n, kv in heads.items()}
        self._fetch_chunks({c for h in decoded.values() for c in h.chunks}, revision, epoch)
        docs = {}
        for name, head in decoded.items():
            data = head.data if head.data is not None else self._join(name, head)
            docs[name] = Document(name, data, str(heads[name]["mod_revision"]))
        return docs

    def _join(self, name: str, head: layout.Head) -> bytes:
        parts = []
        for sha in head.chunks:
            part = self._cache.get(sha)
            if part is None:
                raise InternalError(f'store document "{name}": chunk {sha[:12]} vanished from the cache')
            parts.append(part)
        data = b"".join(parts)
        if len(data) != head.size or layout.sha256(data) != head.digest:
            raise InternalError(f'store document "{name}": its chunks do not add up to the document')
        return data

    def _fetch_chunks(self, wanted: set[str], revision: int, epoch: int) -> None:
        missing = sorted(s for s in wanted if self._cache.get(s) is None)
        per_txn = max(1, min(self.settings.max_txn_ops, TXN_BYTES // layout.MAX_CHUNK))
        for start in range(0, len(missing), per_txn):
            group = missing[start : start + per_txn]
            answer = self._read_txn([op_range(self._blob_key(s), revision=revision) for s in group])
            for sha, resp in zip(group, answer.get("responses") or [], strict=False):
                found = kvs(resp)
                data = unb64(found[0].get("value")) if found else None
                if data is None or layout.sha256(data) != sha:
                    raise InternalError(f"etcd {self.settings.url()}: chunk {sha[:12]} is missing or damaged")
                self._cache.put(sha, data)
        self._learn(epoch, wanted)

    def _learn(self, epoch: int, present: Iterable[str]) -> None:
        """Chunks seen to exist while the sweep epoch was ``epoch``."""
        with self._mutex:
            if epoch != self._epoch:
                if epoch < self._epoch:
                    return  # an older view: it proves nothing now
                self._epoch, self._known = epoch, set()
            self._known.update(present)

    def read_prefix(self, prefix: str) -> dict[str, Document]:
        check_prefix(prefix)
        for _ in range(5):
            try:
                heads, revision, epoch = self._scan(self.doc_key(prefix), keys_only=False)
                named = {self.name_of(k): kv for k, kv in heads.items()}
                return dict(sorted(self._assemble(named, revision, epoch).items()))
            except _Compacted:
                continue
        raise StoreError(f"etcd {self.settings.url()}: reads keep hitting compacted revisions")

    def _scan(self, start: bytes, *, keys_only: bool) -> tuple[dict[bytes, dict[str, Any]], int, int]:
        """Every key under ``start`` at one revision (paged), that revision and the sweep epoch."""
        end = prefix_end(start)
        found: dict[bytes, dict[str, Any]] = {}
        revision = epoch = 0
        key = start
        while True:
            ops = [op_range(key, end=end, revision=revision, keys_only=keys_only, limit=PAGE)]
            if not revision:
                ops.append(op_range(self.epoch_key, keys_only=True))
            answer = self._read_txn(ops)
            responses = answer.get("responses") or []
            if not revision:
                revision, epoch = revision_of(answer), _mod(kvs(responses[1]))
            page = kvs(responses[0])
            for kv in page:
                found[unb64(kv["key"])] = kv
            if not responses[0].get("response_range", {}).get("more") or not page:
                return found, revision, epoch
            key = unb64(page[-1]["key"]) + b"\x00"

    def names(self, prefix: str = "") -> Iterator[str]:
        check_prefix(prefix)
        found, _, _ = self._scan(self.doc_key(prefix), keys_only=True)
        return iter(sorted(self.name_of(k) for k in found))

    # -- writing -------------------------------------------------------------------------------

    def commit(
        self, changes: Mapping[str, bytes | None], *, expect: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        return self.write(changes, expect=expect)

    def write(
        self, changes: Mapping[str, bytes | None], *, expect: Mapping[str, str] | None = None, lease: int = 0
    ) -> dict[str, str]:
        """``commit``, optionally attaching the written heads to ``lease`` (``publish``)."""
        changes = {check_name(n): d for n, d in changes.items()}
        wanted = {check_name(n): _revision(n, r) for n, r in (expect or {}).items()}
        locks = self._locks.held_by_thread()
        ops = len(changes) + len(wanted) + len(locks) + 2
        if ops > self.settings.max_txn_ops:
            raise StoreError(
                f"etcd {self.settings.url()}: a commit of {len(changes)} documents needs {ops} operations, "
                f"more than etcd's limit of {self.settings.max_txn_ops} per transaction (--max-txn-ops)"
            )
        nonce = secrets.token_hex(8)
        heads, chunks = encode(changes, nonce)
        return Commit(self, heads, chunks, wanted, locks, lease, nonce).run()

    def missing_chunks(self, chunks: Mapping[str, bytes]) -> tuple[int, list[str]]:
        """The sweep epoch now, and the chunks not known to exist under it (to be written)."""
        epoch = self._current_epoch()
        with self._mutex:
            return epoch, [s for s in chunks if s not in self._known or self._epoch != epoch]

    def write_chunks(self, chunks: Mapping[str, bytes], shas: list[str]) -> None:
        """Put chunks ahead of a commit, in transactions below etcd's limits."""
        batch: list[dict[str, Any]] = []
        size = 0
        for sha in shas:
            data = chunks[sha]
            if batch and (size + len(data) > TXN_BYTES or len(batch) >= self.settings.max_txn_ops):
                self.txn({"success": batch})
                batch, size = [], 0
            batch.append(op_put(self._blob_key(sha), data))
            size += len(data)
        if batch:
            self.txn({"success": batch})  # the same bytes under the same key: safe to send again

    def wrote_chunks(self, epoch: int, chunks: Mapping[str, bytes], shas: list[str]) -> None:
        for sha in shas:
            self._cache.put(sha, chunks[sha])
        self._learn(epoch, shas)
        with self._mutex:
            self._written += sum(len(chunks[s]) for s in shas)

    def blob_put(self, sha: str, data: bytes) -> dict[str, Any]:
        return op_put(self._blob_key(sha), data)

    def _current_epoch(self) -> int:
        with self._mutex:
            if self._epoch >= 0:
                return self._epoch
        answer = self.txn({"success": [op_range(self.epoch_key, keys_only=True)]})
        epoch = _mod(kvs((answer.get("responses") or [{}])[0]))
        self._learn(epoch, ())
        return epoch

    def forget_chunks(self, epoch: int) -> None:
        """The sweep epoch changed to ``epoch``: no chunk is known to exist any more."""
        with self._mutex:
            self._epoch, self._known = epoch, set()

    def after_commit(self) -> None:
        with self._mutex:
            due = self._written >= SWEEP_AFTER
            if due:
                self._written = 0
        if due:
            try:
                self.sweep()
            except StoreError as err:
                log.warning("etcd chunk sweep failed (retried after the next %d bytes): %s", SWEEP_AFTER, err)

    # -- chunk sweep ---------------------------------------------------------------------------

    def sweep(self) -> int:
        """Delete the chunks no document refers to; returns how many were deleted."""
        heads, revision, epoch = self._scan(self.key_prefix("doc/"), keys_only=False)
        blobs, _, _ = self._scan_at(self.key_prefix("blob/"), revision)
        refs_answer = self._read_txn([op_range(self.refs_key, keys_only=True, revision=revision)])
        refs = _mod(kvs((refs_answer.get("responses") or [{}])[0]))
        used: set[str] = set()
        for key, kv in heads.items():
            used.update(layout.decode_head(self.name_of(key), unb64(kv.get("value"))).chunks)
        garbage = sorted(k for k in blobs if k.rsplit(b"/", 1)[1].decode() not in used)
        deleted = 0
        per_txn = self.settings.max_txn_ops - 3
        for start in range(0, len(garbage), per_txn):
            group = garbage[start : start + per_txn]
            answer = self.txn({
                "compare": [cmp_mod(self.epoch_key, epoch), cmp_mod(self.refs_key, refs)],
                "success": [*(op_delete(k) for k in group), op_put(self.epoch_key, b"%d" % time.time())],
            })  # fmt: skip
            if not answer.get("succeeded"):
                break  # a writer committed chunks meanwhile: the rest waits for the next sweep
            epoch = revision_of(answer)
            deleted += len(group)
        if deleted:
            self.forget_chunks(epoch)
        return deleted

    def _scan_at(self, start: bytes, revision: int) -> tuple[dict[bytes, dict[str, Any]], int, int]:
        end = prefix_end(start)
        found: dict[bytes, dict[str, Any]] = {}
        key = start
        while True:
            answer = self._read_txn([op_range(key, end=end, revision=revision, keys_only=True, limit=PAGE)])
            resp = (answer.get("responses") or [{}])[0]
            page = kvs(resp)
            for kv in page:
                found[unb64(kv["key"])] = kv
            if not resp.get("response_range", {}).get("more") or not page:
                return found, revision, 0
            key = unb64(page[-1]["key"]) + b"\x00"

    # -- locks, watches, leases ----------------------------------------------------------------

    def lock(self, name: str = "sdn", timeout: float = 10.0) -> Any:
        check_name(name)
        return self._locks.hold(name, timeout)

    def watch(self, prefixes: Iterable[str]) -> Any:
        from sdnkit.store.etcd_watch import EtcdWatch

        return EtcdWatch(self, [check_prefix(p) for p in prefixes])

    def publish(self, name: str, data: bytes, ttl: float) -> Any:
        from sdnkit.store.etcd_watch import EtcdLease

        check_name(name)
        return EtcdLease(self, name, data, ttl)

    def close(self) -> None:
        """Revoke this process's lock lease and close the connections (``open_store`` then opens
        a new store for the URL); closing twice is harmless."""
        self.closed = True
        self._locks.close()
        self._client.close()

    def __enter__(self) -> EtcdStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _mod(found: list[dict[str, Any]]) -> int:
    return int(found[0].get("mod_revision", 0)) if found else 0


def _revision(name: str, revision: str) -> int:
    if revision == ABSENT:
        return 0
    try:
        return int(revision)
    except ValueError:
        # a revision from another store (a content hash): it cannot match anything here
        return -1
