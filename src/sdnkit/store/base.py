"""The store interface: where configuration and state live.

A store holds named documents (``zones.cfg``, ``.running-config``, ``pve-ipam-state.json``, ...)
with the names of PVE's ``/etc/pve/sdn`` directory. Backends: a local directory
(``store/local.py``, the default) and etcd (``store/etcd.py``). Every backend gives the same guarantees:

* ``read`` returns one document and its revision; ``read_many`` returns several as one consistent
  snapshot (never half of a commit).
* ``commit`` writes and deletes several documents in one atomic step, and only if each listed
  revision still matches (compare-and-swap); otherwise it raises ``ConflictError`` and writes
  nothing. A crash at any moment leaves either the old or the new content of every document.
* ``lock`` is the cluster-wide SDN lock (PVE ``domain-sdn``): operations that read, validate and
  write hold it, so their reads and their commit see no other writer. It is re-entrant within a
  thread. ``commit`` does not need it (compare-and-swap guards single writes). A holder that dies
  frees it: at once on the local store (``flock``), after the lease TTL on etcd.
* ``read_prefix`` returns every document under a prefix, from one consistent state.
* ``watch(prefixes)`` tells that a document under one of the prefixes changed (written, deleted,
  expired) since the watch was opened or since ``wait`` last returned True. It may wake for a
  change that is gone again or that the waiter saw already (reread and compare), never miss one.
  One commit wakes it once; separate commits may wake it once or once each (etcd notifies each
  commit on its own, and a notification can come just after the waiter woke for an earlier one).
* ``publish(name, data, ttl)`` writes an ephemeral document that exists while its holder keeps
  calling ``refresh`` (at least once per ``ttl``). On etcd the document is attached to a lease:
  it disappears ``ttl`` seconds after its holder stopped refreshing (killed, hung, cut off). The
  local store has no one to expire it: it stays until ``close``, and readers judge staleness from
  a timestamp the holder puts in the data (every holder must put one, for either store).

Names are relative paths of ``[A-Za-z0-9._-]`` segments (``firewall/vnet1.fw`` is allowed); a
backend may reserve a prefix for itself (the local store keeps ``.sdnkit/``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from sdnkit.errors import ConfigError

__all__ = ["ABSENT", "Document", "Lease", "Store", "Watch", "check_name"]


@dataclass(frozen=True, slots=True)
class Document:
    name: str
    data: bytes
    revision: str  # opaque; changes whenever the content changes


# A revision in ``commit``'s ``expect`` meaning: the document must not exist.
ABSENT = ""

_SEGMENT = re.compile(r"[A-Za-z0-9._-]+")


def check_name(name: str, reserved: str = "") -> str:
    """Refuse document names that could leave the store (``..``, absolute paths) or use its own files."""
    parts = name.split("/")
    if not name or any(p in ("", ".", "..") or not _SEGMENT.fullmatch(p) for p in parts):
        raise ConfigError(f"invalid store document name {name!r}", key="name", value=name)
    if reserved and parts[0] == reserved:
        raise ConfigError(f"store document name {name!r} is reserved", key="name", value=name)
    return name


class Watch(Protocol):
    """Change notification for the documents under some prefixes (``Store.watch``)."""

    def wait(self, timeout: float | None = None) -> bool:
        """True as soon as a watched document changed since the last True (or the opening);
        False when ``timeout`` seconds passed without a change (None: wait for ever)."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Watch: ...

    def __exit__(self, *exc: object) -> None: ...


class Lease(Protocol):
    """An ephemeral document (``Store.publish``); ``close`` deletes it."""

    name: str
    ttl: float

    def refresh(self, data: bytes | Callable[[], bytes] | None = None) -> None:
        """Keep the document alive (and replace its content with ``data`` if given).

        ``data`` may be a function, called when the content is written: a keep-alive can wait
        for a new etcd leader for many seconds, and a heartbeat's time must be that of its write.
        If it had expired (etcd: the holder paused longer than ``ttl``), it is written again.
        """
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Lease: ...

    def __exit__(self, *exc: object) -> None: ...


class Store(Protocol):
    def read(self, name: str) -> Document | None:
        """The document, or None when it does not exist."""
        ...

    def read_many(self, names: Iterable[str]) -> dict[str, Document | None]:
        """Several documents from one consistent state."""
        ...

    def read_prefix(self, prefix: str) -> dict[str, Document]:
        """Every document whose name starts with ``prefix``, from one consistent state."""
        ...

    def commit(
        self, changes: Mapping[str, bytes | None], *, expect: Mapping[str, str] | None = None
    ) -> Mapping[str, str]:
        """Write (bytes) or delete (None) documents atomically; returns their new revisions.

        ``expect`` maps names to the revision they must still have (``ABSENT``: must not exist);
        a mismatch raises ``ConflictError`` and writes nothing. The returned mapping gives, for
        every changed name, the revision it has now (``ABSENT`` for a deleted one), so that a
        writer can compare-and-swap its next change without reading back.
        """
        ...

    def lock(self, name: str = "sdn", timeout: float = 10.0) -> AbstractContextManager[None]:
        """Hold a named cluster-wide lock; raises ``LockError`` after ``timeout`` seconds."""
        ...

    def names(self, prefix: str = "") -> Iterator[str]:
        """Names of existing documents starting with ``prefix``, sorted."""
        ...

    def watch(self, prefixes: Iterable[str]) -> Watch:
        """Notice changes of the documents under ``prefixes`` (``""``: every document)."""
        ...

    def publish(self, name: str, data: bytes, ttl: float) -> Lease:
        """Write an ephemeral document, kept while the holder refreshes it (see the module docstring)."""
        ...

    def close(self) -> None:
        """Release connections, leases and threads (the store must not be used after)."""
        ...
