"""The store interface: where configuration and state live.

A store holds named documents (``zones.cfg``, ``.running-config``, ``pve-ipam-state.json``, ...)
with the names of PVE's ``/etc/pve/sdn`` directory. Backends: a local directory
(``store/local.py``, the default) and etcd (later). Every backend gives the same guarantees:

* ``read`` returns one document and its revision; ``read_many`` returns several as one consistent
  snapshot (never half of a commit).
* ``commit`` writes and deletes several documents in one atomic step, and only if each listed
  revision still matches (compare-and-swap); otherwise it raises ``ConflictError`` and writes
  nothing. A crash at any moment leaves either the old or the new content of every document.
* ``lock`` is the cluster-wide SDN lock (PVE ``domain-sdn``): operations that read, validate and
  write hold it, so their reads and their commit see no other writer. It is re-entrant within a
  thread. ``commit`` does not need it (compare-and-swap guards single writes).

Names are relative paths of ``[A-Za-z0-9._-]`` segments (``firewall/vnet1.fw`` is allowed); a
backend may reserve a prefix for itself (the local store keeps ``.sdnkit/``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from sdnkit.errors import ConfigError

__all__ = ["ABSENT", "Document", "Store", "check_name"]


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


class Store(Protocol):
    def read(self, name: str) -> Document | None:
        """The document, or None when it does not exist."""
        ...

    def read_many(self, names: Iterable[str]) -> dict[str, Document | None]:
        """Several documents from one consistent state."""
        ...

    def commit(self, changes: Mapping[str, bytes | None], *, expect: Mapping[str, str] | None = None) -> None:
        """Write (bytes) or delete (None) documents atomically.

        ``expect`` maps names to the revision they must still have (``ABSENT``: must not exist);
        a mismatch raises ``ConflictError`` and writes nothing.
        """
        ...

    def lock(self, name: str = "sdn", timeout: float = 10.0) -> AbstractContextManager[None]:
        """Hold a named cluster-wide lock; raises ``LockError`` after ``timeout`` seconds."""
        ...

    def names(self, prefix: str = "") -> Iterator[str]:
        """Names of existing documents starting with ``prefix``, sorted."""
        ...
