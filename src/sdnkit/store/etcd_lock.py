"""Named cluster-wide locks in etcd, held under a lease that a killed holder stops renewing.

The recipe of etcd's own ``concurrency.Mutex``: a contender writes ``<prefix>lock/<name>/<lease>``
attached to its process's lease; the contender whose key was created first holds the lock, the
others wait for it to go (polling, 5-100 ms). The lease (``settings.lock_ttl``, 10 s) is kept
alive by a thread of the process; when the process is killed or cut off, etcd deletes its keys
after the TTL, and the next contender holds the lock.

Within a process, threads queue on a thread lock first, so only one thread per process and lock
contends in etcd. A lock is re-entrant within a thread. While a thread holds locks, its commits
also compare that its lock keys still exist: a holder whose lease expired (paused too long)
gets ``LockError`` instead of writing without the lock.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sdnkit.errors import LockError, StoreError
from sdnkit.store.etcd_client import (
    NOT_FOUND,
    GrpcError,
    cmp_create,
    kvs,
    op_delete,
    op_put,
    op_range,
    prefix_end,
    revision_of,
    unb64,
)

if TYPE_CHECKING:
    from sdnkit.store.etcd import EtcdStore

__all__ = ["Locks", "Session"]

log = logging.getLogger(__name__)

_process_locks: dict[tuple[str, str], threading.Lock] = {}
_process_guard = threading.Lock()
# locks this thread holds, by (store URL, name): re-entrant across store objects, as the local store
_HELD = threading.local()


def _process_lock(key: tuple[str, str]) -> threading.Lock:
    with _process_guard:
        return _process_locks.setdefault(key, threading.Lock())


class Session:
    """The lease of one process and store, renewed every TTL/3 by a daemon thread while it exists."""

    def __init__(self, store: EtcdStore, ttl: int) -> None:
        self._store = store
        self.ttl = ttl
        self._id = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def lease(self) -> int:
        with self._lock:
            if not self._id:
                answer = self._store.client.call("lease/grant", {"TTL": str(self.ttl)})
                self._id = int(answer["ID"])
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._keepalive, name="sdnkit-etcd-lease", daemon=True
                    )
                    self._thread.start()
            return self._id

    def lost(self, lease: int) -> None:
        with self._lock:
            if self._id == lease:
                self._id = 0

    def _keepalive(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            lease = self._id
            if not lease:
                continue
            try:
                answer = self._store.client.call("lease/keepalive", {"ID": str(lease)})
            except StoreError as err:  # next round again; the TTL covers two more tries
                log.warning("etcd lease keep-alive failed: %s", err)
                continue
            except Exception:
                if self._stop.is_set():
                    return  # the store was closed under the call (its connections are gone)
                raise
            if int((answer.get("result") or {}).get("TTL") or 0) <= 0:
                log.warning("etcd lease %x expired: the locks held under it are lost", lease)
                self.lost(lease)

    def close(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            # a keep-alive under way ends before the connections close under it
            thread.join(timeout=self._store.settings.timeout + 1)
        with self._lock:
            lease, self._id = self._id, 0
        if lease:
            try:  # frees the locks at once instead of after the TTL
                self._store.client.call("lease/revoke", {"ID": str(lease)})
            except StoreError as err:
                log.info("etcd lease revoke failed (it expires by itself): %s", err)


class Locks:
    """The named locks of one ``EtcdStore`` in this process."""

    def __init__(self, store: EtcdStore) -> None:
        self._store = store
        self.session = Session(store, store.settings.lock_ttl)
        self._url = store.settings.url()

    @staticmethod
    def _held() -> dict[tuple[str, str], tuple[bytes, int, int]]:
        held: dict[tuple[str, str], tuple[bytes, int, int]] = _HELD.__dict__.setdefault("held", {})
        return held  # (url, name) -> (key, create revision, depth)

    def held_by_thread(self) -> list[tuple[bytes, int]]:
        """(key, create revision) of every lock this thread holds: commits check they still exist."""
        return [(key, created) for (url, _), (key, created, _) in self._held().items() if url == self._url]

    @contextmanager
    def hold(self, name: str, timeout: float) -> Iterator[None]:
        held, slot = self._held(), (self._url, name)
        if slot in held:
            key, created, depth = held[slot]
            held[slot] = (key, created, depth + 1)
            try:
                yield
            finally:
                key, created, depth = held[slot]
                held[slot] = (key, created, depth - 1)
            return
        deadline = time.monotonic() + timeout
        thread_lock = _process_lock(slot)
        if not thread_lock.acquire(timeout=max(timeout, 0.0)):
            raise self._timeout(name, timeout)
        try:
            key, created = self._acquire(name, deadline, timeout)
            held[slot] = (key, created, 1)
            try:
                yield
            finally:
                del held[slot]
                self._release(key)
        finally:
            thread_lock.release()

    def _timeout(self, name: str, timeout: float) -> LockError:
        return LockError(
            f"cannot acquire the {name} lock of {self._store.settings.url()} within {timeout:g} s: "
            "another change is in progress"
        )

    def _acquire(self, name: str, deadline: float, timeout: float) -> tuple[bytes, int]:
        base = self._store.key_prefix(f"lock/{name}/")
        while True:
            lease = self.session.lease()
            key = base + b"%016x" % lease
            try:
                created, first = self._enter(base, key, lease)
            except GrpcError as err:
                if err.code != NOT_FOUND:
                    raise
                self.session.lost(lease)  # "requested lease not found": it expired, take a new one
                continue
            if first or self._wait_turn(base, key, deadline):
                return key, created
            self._release(key)
            if time.monotonic() >= deadline:
                raise self._timeout(name, timeout)

    def _enter(self, base: bytes, key: bytes, lease: int) -> tuple[int, bool]:
        """Queue up: our key (created if absent; a retried request finds it). Its create revision,
        and whether it is first in the queue already (then the lock is ours in one round trip)."""
        owner = f"pid={os.getpid()} host={socket.gethostname()}".encode()
        oldest = op_range(base, end=prefix_end(base), keys_only=True, limit=1, sort_create=True)
        answer = self._store.txn({
            "compare": [cmp_create(key, 0)],
            "success": [op_put(key, owner, lease), oldest],
            "failure": [op_range(key, keys_only=True), oldest],
        })  # fmt: skip
        responses: list[Any] = answer.get("responses") or [{}, {}]
        first = kvs(responses[1])
        is_first = bool(first) and unb64(first[0]["key"]) == key
        if answer.get("succeeded"):
            return revision_of(answer), is_first
        found = kvs(responses[0])
        return (int(found[0]["create_revision"]) if found else revision_of(answer)), is_first

    def _wait_turn(self, base: bytes, key: bytes, deadline: float) -> bool:
        """True once ``key`` is the oldest contender; False at the deadline or when ``key`` vanished."""
        pause = 0.005
        while True:
            answer = self._store.txn({"success": [
                op_range(base, end=prefix_end(base), keys_only=True, limit=1, sort_create=True),
                op_range(key, keys_only=True),
            ]})  # fmt: skip
            responses: list[Any] = answer.get("responses") or [{}, {}]
            first, mine = kvs(responses[0]), kvs(responses[1])
            if not mine:
                return False  # our lease expired while we waited: queue again
            if first and unb64(first[0]["key"]) == key:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 1.5, 0.1)

    def _release(self, key: bytes) -> None:
        try:
            self._store.txn({"success": [op_delete(key)]})
        except StoreError as err:  # the lease ends it after the TTL at the latest
            log.warning("etcd lock %s not released: %s", key.decode(errors="replace"), err)

    def close(self) -> None:
        self.session.close()
