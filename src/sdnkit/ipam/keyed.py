"""The built-in IPAM's state as one store document per address: for stores shared by a cluster (etcd).

``pve-ipam-state.json`` in one value would be sent whole for every allocation and grow with
every guest. Here each address is its own small document, so an allocation writes one small
document (and the sequence)::

    ipam/<zone>/<cidr>/subnet     the subnet is registered ("{}")
    ipam/<zone>/<cidr>/<ip>       one address: upstream's entry ({"gateway": 1} or vmid/mac/hostname)
    ipam/.sequence                {"n": N, "recent": [[n, [op, ...]], ...]}: the last transactions

(``/`` of a CIDR is written ``_`` and ``:`` of IPv6 ``-``: neither may appear in store names.)

Transactions. ``run(fn)`` runs ``fn`` on the state cached in this process, then commits the
documents its ops touched together with the next sequence, compare-and-swap on the sequence's
revision: every IPAM change of the cluster is serialized by it, as the local store serializes
them with its journal lock. On a conflict ``fn``'s ops are undone, the process catches up (from
``recent`` when it missed at most ``RECENT`` transactions, else by reading every document again)
and ``fn`` runs again. A ``fn`` that changes nothing is checked the same way: its answer counts
only if the sequence has not moved. So the common case is one round trip either way.

``pve-ipam-state.json`` stays the interchange format: when one appears in the store (``sdn
import``, ``sdn store copy``), it replaces the keyed state and is removed (``import_document``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sdnkit.errors import ConfigError, ConflictError
from sdnkit.ipam.base import IpEntry
from sdnkit.ipam.state import AddSubnet, IpamState, PutIp, op_from_json
from sdnkit.ipam.storage import DOCUMENT, Txn
from sdnkit.store.base import ABSENT, Document, Store

__all__ = ["PREFIX", "SEQUENCE", "KeyedStorage", "export_state", "state_documents"]

log = logging.getLogger(__name__)

T = TypeVar("T")

PREFIX = "ipam/"
SEQUENCE = "ipam/.sequence"
RECENT = 32  # transactions kept in the sequence for others to catch up from
BIG_TXN = 64  # ops of one transaction beyond which only "reload" is recorded
BATCH = 100  # documents per commit when a whole state is written


def _seg(text: str) -> str:
    return text.replace("/", "_").replace(":", "-")


def _unseg(text: str) -> str:
    return text.replace("_", "/").replace("-", ":")


def subnet_doc(zone: str, cidr: str) -> str:
    return f"{PREFIX}{zone}/{_seg(cidr)}/subnet"


def ip_doc(zone: str, cidr: str, ip: str) -> str:
    return f"{PREFIX}{zone}/{_seg(cidr)}/{_seg(ip)}"


def state_documents(state: IpamState) -> dict[str, bytes]:
    """Every document of ``state`` in the keyed layout."""
    docs: dict[str, bytes] = {}
    for zone, subnets in state.zones.items():
        for cidr, sub in subnets.items():
            docs[subnet_doc(zone, cidr)] = b"{}"
            for ip, entry in sub.ips.items():
                docs[ip_doc(zone, cidr, ip)] = _entry(entry)
    return docs


def _entry(entry: IpEntry) -> bytes:
    return json.dumps(entry.to_json(), sort_keys=True, separators=(",", ":")).encode()


def _state_of(docs: Iterable[Document]) -> IpamState:
    state = IpamState()
    for doc in docs:
        parts = doc.name[len(PREFIX) :].split("/")
        if len(parts) != 3:
            continue  # the sequence
        zone, cidr, leaf = parts[0], _unseg(parts[1]), parts[2]
        try:
            if leaf == "subnet":
                state.apply(AddSubnet(zone, cidr))
            else:
                state.apply(PutIp(zone, cidr, _unseg(leaf), IpEntry.from_json(json.loads(doc.data))))
        except (ValueError, TypeError) as err:
            raise ConfigError(f"IPAM state document {doc.name}: unreadable ({err})", obj=doc.name) from None
    return state


def _sequence(doc: Document | None) -> tuple[int, list[Any]]:
    if doc is None:
        return 0, []
    try:
        data = json.loads(doc.data)
        return int(data["n"]), list(data.get("recent") or [])
    except (ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"{SEQUENCE}: unreadable ({err})", obj=SEQUENCE) from None


class KeyedStorage:
    """``IpamStorage`` with one document per address (see the module docstring)."""

    def __init__(self, store: Store, *, lock_timeout: float = 30.0) -> None:
        self._store = store
        self._lock_timeout = lock_timeout
        self._tlock = threading.Lock()
        self._state: IpamState | None = None
        self._n = 0
        self._revision = ABSENT  # of the sequence document
        self._recent: list[Any] = []

    def run(self, fn: Callable[[Txn], T]) -> T:
        with self._tlock:
            if self._state is None:
                self._reload()
            while True:
                assert self._state is not None
                txn = Txn(self._state)
                try:
                    result = fn(txn)
                except BaseException:
                    txn.rollback()
                    raise
                if self._settle(txn):
                    return result

    def _settle(self, txn: Txn) -> bool:
        """Make ``txn`` count: True when committed (or nothing to commit and the state was current)."""
        if not txn.ops:
            doc = self._store.read(SEQUENCE)
            if (doc.revision if doc else ABSENT) == self._revision:
                return True
            self._catch_up(doc)
            return False
        changes = self._documents(txn)
        n = self._n + 1
        record = [n, [op.to_json() for op in txn.ops] if len(txn.ops) <= BIG_TXN else None]
        recent = [*self._recent[-(RECENT - 1) :], record]
        changes[SEQUENCE] = json.dumps({"n": n, "recent": recent}, separators=(",", ":")).encode()
        try:
            revisions = self._store.commit(changes, expect={SEQUENCE: self._revision})
        except ConflictError:
            txn.rollback()
            self._catch_up(self._store.read(SEQUENCE))
            return False
        except BaseException:
            txn.rollback()
            self._state = None  # unknown whether it landed: read everything next time
            raise
        self._n, self._recent, self._revision = n, recent, revisions[SEQUENCE]
        return True

    def _documents(self, txn: Txn) -> dict[str, bytes | None]:
        """The documents the ops touched, as the state has them now (None: gone)."""
        assert self._state is not None
        changes: dict[str, bytes | None] = {}
        for op in txn.touched():
            sub = self._state.subnet(op.zone, op.cidr)
            changes[subnet_doc(op.zone, op.cidr)] = b"{}" if sub is not None else None
            ip = getattr(op, "ip", None)
            if ip is not None:
                entry = sub.ips.get(ip) if sub is not None else None
                changes[ip_doc(op.zone, op.cidr, ip)] = _entry(entry) if entry is not None else None
        return changes

    def _catch_up(self, doc: Document | None) -> None:
        """Bring the cached state to the sequence ``doc``, from its recent ops or by reloading."""
        n, recent = _sequence(doc)
        missed = [r for r in recent if r[0] > self._n]
        gap = not missed or missed[0][0] != self._n + 1 or any(r[1] is None for r in missed)
        if self._state is None or gap:
            self._reload()
            return
        for _n, ops in missed:
            for raw in ops:
                self._state.apply(op_from_json(raw))
        self._n, self._recent, self._revision = n, recent, doc.revision if doc else ABSENT

    def _reload(self) -> None:
        if self._store.read(DOCUMENT) is not None:
            import_document(self._store, self._lock_timeout)
        docs = self._store.read_prefix(PREFIX)
        seq = docs.pop(SEQUENCE, None)
        self._state = _state_of(docs.values())
        self._n, self._recent = _sequence(seq)
        self._revision = seq.revision if seq else ABSENT

    def close(self) -> None:
        with self._tlock:
            self._state = None


def import_document(store: Store, lock_timeout: float = 30.0) -> bool:
    """Replace the keyed state by a ``pve-ipam-state.json`` in the store, then remove that document.

    Runs under the store lock ``ipam``; documents are written in batches, so a crash part way
    leaves the JSON document in place and the next use imports it again (the result is the same).
    """
    with store.lock("ipam", lock_timeout):
        doc = store.read(DOCUMENT)
        if doc is None:
            return False
        try:
            data = json.loads(doc.data) if doc.data.strip() else {}
        except ValueError as err:
            raise ConfigError(f"IPAM state {DOCUMENT} is not valid JSON: {err}") from None
        data.pop("sdnkit-journal", None)  # the local journal's mark means nothing here
        wanted = state_documents(IpamState.from_json(data))
        current = store.read_prefix(PREFIX)
        seq = current.pop(SEQUENCE, None)
        changes: dict[str, bytes | None] = {n: None for n in current if n not in wanted}
        changes.update({n: d for n, d in wanted.items() if n not in current or current[n].data != d})
        items = sorted(changes.items())
        for start in range(0, len(items), BATCH):
            store.commit(dict(items[start : start + BATCH]))
        n, _recent = _sequence(seq)
        sequence = json.dumps({"n": n + 1, "recent": [[n + 1, None]]}).encode()  # everyone reloads
        store.commit({DOCUMENT: None, SEQUENCE: sequence}, expect={DOCUMENT: doc.revision})
        log.info("IPAM state %s imported into %d documents", DOCUMENT, len(wanted))
        return True


def export_state(store: Store) -> dict[str, Any]:
    """The keyed state in upstream's ``pve-ipam-state.json`` shape."""
    docs = store.read_prefix(PREFIX)
    docs.pop(SEQUENCE, None)
    return _state_of(docs.values()).to_json()
