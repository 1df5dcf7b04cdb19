"""Where the built-in IPAM keeps its state: a small interface with one backend per store.

A backend runs a function with exclusive access to the current state and makes the changes it
records durable, all or none, before returning (compare-and-swap by construction: the check
and the allocation happen under one lock, against the latest state)::

    ip = storage.run(lambda txn: allocate(txn))   # allocate reads txn.state, calls txn.apply(op)

Backends:

* ``MemoryStorage``: in-process only (tests, dry runs).
* ``DocumentStorage``: the whole document rewritten per change, on any ``Store`` (the fallback).
* ``JournalStorage`` (``ipam/journal.py``): the state document in the store, plus an
  append-only journal of ops on local disk; for the local-directory store.
* ``KeyedStorage`` (``ipam/keyed.py``): one store document per address, each transaction one
  compare-and-swap commit, the function run again on a conflict (which is why it must only
  touch ``txn``); for stores a cluster shares (etcd).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Protocol, TypeVar

from sdnkit.ipam.state import IpamState, Op
from sdnkit.store.base import ABSENT, Store

__all__ = ["DocumentStorage", "IpamStorage", "MemoryStorage", "Txn"]

T = TypeVar("T")

DOCUMENT = "pve-ipam-state.json"


class Txn:
    """One transaction: read ``state``, change it only with ``apply``."""

    __slots__ = ("_undo", "ops", "state")

    def __init__(self, state: IpamState) -> None:
        self.state = state
        self.ops: list[Op] = []
        self._undo: list[Op] = []

    def apply(self, op: Op) -> None:
        self._undo.extend(reversed(self.state.inverse(op)))
        self.state.apply(op)
        self.ops.append(op)

    def touched(self) -> list[Op]:
        """The ops applied and their inverses: together they name every record that changed."""
        return [*self.ops, *self._undo]

    def rollback(self) -> None:
        """Undo every op applied so far, newest first."""
        for op in reversed(self._undo):
            self.state.apply(op)
        self._undo.clear()
        self.ops.clear()


class IpamStorage(Protocol):
    def run(self, fn: Callable[[Txn], T]) -> T:
        """Run ``fn`` under the IPAM lock on the latest state; commit its ops durably.

        If ``fn`` raises, nothing it applied is kept. When ``run`` returns, the ops are durable;
        when it raises, none of them is visible to anyone.
        """
        ...

    def close(self) -> None: ...


class MemoryStorage:
    """State in memory only, with the same transaction semantics."""

    def __init__(self, state: IpamState | None = None) -> None:
        self._state = state or IpamState()
        self._lock = threading.Lock()

    def run(self, fn: Callable[[Txn], T]) -> T:
        with self._lock:
            txn = Txn(self._state)
            try:
                return fn(txn)
            except BaseException:
                txn.rollback()
                raise

    def close(self) -> None:
        pass


class DocumentStorage:
    """State as one document of any ``Store``, rewritten whole on every change, under its lock.

    Correct on every backend (the read-check-write runs under the store's ``ipam`` lock and the
    commit is compare-and-swap on the document's revision) but slow for big states, and on etcd
    the document would grow past etcd's request limit: ``KeyedStorage`` is the one used there.
    The parsed state is kept while the revision is unchanged.
    """

    def __init__(self, store: Store, name: str = DOCUMENT, *, lock_timeout: float = 10.0) -> None:
        self._store = store
        self._name = name
        self._lock_timeout = lock_timeout
        self._cache: tuple[str, IpamState] | None = None
        self._tlock = threading.Lock()

    def _load(self) -> tuple[str, IpamState]:
        doc = self._store.read(self._name)
        revision = doc.revision if doc else ABSENT
        if self._cache is None or self._cache[0] != revision:
            data = json.loads(doc.data) if doc and doc.data.strip() else {}
            self._cache = (revision, IpamState.from_json(data))
        return self._cache

    def run(self, fn: Callable[[Txn], T]) -> T:
        with self._tlock, self._store.lock("ipam", self._lock_timeout):
            revision, state = self._load()
            txn = Txn(state)
            try:
                result = fn(txn)
                if txn.ops:
                    text = json.dumps(state.to_json(), separators=(",", ":")).encode()
                    self._store.commit({self._name: text}, expect={self._name: revision})
                    self._cache = None  # the new revision is read back next time
            except BaseException:
                txn.rollback()
                raise
            return result

    def close(self) -> None:
        self._cache = None
