"""``sdn store copy``: move a whole store between a directory and etcd (either way), and check the copy.

Every document is copied as it is, except the two whose layout depends on the store:

* the built-in IPAM state: a directory keeps ``pve-ipam-state.json`` plus a local journal, etcd
  one document per address (``ipam/keyed.py``). The state is read through the source's IPAM
  storage (journal included) and written in the destination's layout;
* guest ports: written one document per port (``ports/...``), also when the source still has
  an older ``ports.json``.

A copy of a Proxmox VE ``/etc/pve/sdn`` directory is a directory store, so it can be the source
(its ``pve-ipam-state.json`` and ``mac-cache.json`` come along). The destination must hold no
document unless ``force`` is given; then it is made an exact copy (documents the source lacks
are deleted). The source is read under its ``sdn`` and ``ports`` locks, the destination written
under its ``sdn`` lock, in batches (etcd takes at most 128 operations per transaction): the copy
is not one atomic step, so nothing else should write to the destination meanwhile. Finally
everything is read back from the destination and compared.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdnkit.errors import ConfigError, InternalError
from sdnkit.ipam import keyed
from sdnkit.ipam.journal import MARK_KEY
from sdnkit.ipam.storage import DOCUMENT as IPAM_DOC
from sdnkit.service.ipam_context import JOURNAL, storage_for
from sdnkit.service.port_registry import (
    LEGACY_DOC,
    PORTS_PREFIX,
    Port,
    PortsRevision,
    read_ports,
    write_ports,
)
from sdnkit.store.base import Store, check_name
from sdnkit.store.local import LocalStore

__all__ = ["CopyReport", "copy_store"]

log = logging.getLogger(__name__)

BATCH = 100  # documents per commit (etcd: --max-txn-ops 128)


@dataclass(frozen=True, slots=True)
class CopyReport:
    documents: int  # copied as they are
    ports: int
    addresses: int  # IPAM entries
    deleted: int  # destination documents the source does not have (force)
    skipped: tuple[str, ...]  # source files that are not valid document names


def _layout_dependent(name: str) -> bool:
    return name in (IPAM_DOC, LEGACY_DOC) or name.startswith((PORTS_PREFIX, keyed.PREFIX))


def _valid(names: list[str]) -> tuple[list[str], list[str]]:
    good, bad = [], []
    for name in names:
        try:
            good.append(check_name(name))
        except ConfigError:
            bad.append(name)
    return good, bad


def _ipam_state(store: Store) -> dict[str, Any]:
    state: dict[str, Any] = storage_for(store).run(lambda txn: txn.state.to_json())
    state.pop(MARK_KEY, None)
    return state


@contextmanager
def _locks(store: Store, names: tuple[str, ...], timeout: float) -> Iterator[None]:
    with ExitStack() as stack:
        for name in names:
            stack.enter_context(store.lock(name, timeout))
        yield


@dataclass(frozen=True, slots=True)
class _Source:
    docs: Mapping[str, bytes]
    ports: Mapping[str, Port]
    ipam: dict[str, Any]
    skipped: tuple[str, ...]


def _read_source(src: Store, timeout: float) -> _Source:
    with _locks(src, ("sdn", "ports"), timeout):
        names, bad = _valid(list(src.names()))
        plain = [n for n in names if not _layout_dependent(n)]
        docs = {n: d.data for n, d in src.read_many(plain).items() if d is not None}
        ports, _seen = read_ports(src)
        ipam = _ipam_state(src)
    return _Source(docs, ports, ipam, tuple(bad))


def copy_store(src: Store, dst: Store, *, force: bool = False, lock_timeout: float = 30.0) -> CopyReport:
    """Copy ``src`` into ``dst`` (see the module docstring); returns what was copied."""
    source = _read_source(src, lock_timeout)
    for name in source.skipped:
        log.warning("store copy: %r is not a valid document name: not copied", name)
    with dst.lock("sdn", lock_timeout):
        existing, _bad = _valid(list(dst.names()))
        if existing and not force:
            raise ConfigError(
                f"the destination holds {len(existing)} documents already (e.g. {existing[0]}): "
                "pass --force to replace them",
                key="force",
            )
        stale = [n for n in existing if n not in source.docs]
        _write(dst, {**dict.fromkeys(stale), **source.docs})
        _write_ports(dst, source.ports)
        _write_ipam(dst, source.ipam)
    _verify(dst, source)
    subnets = [sub for z in source.ipam.get("zones", {}).values() for sub in z.get("subnets", {}).values()]
    addresses = sum(len(sub.get("ips", {})) for sub in subnets)
    return CopyReport(len(source.docs), len(source.ports), addresses, len(stale), source.skipped)


def _write(dst: Store, changes: Mapping[str, bytes | None]) -> None:
    items = sorted(changes.items())
    for start in range(0, len(items), BATCH):
        dst.commit(dict(items[start : start + BATCH]))


def _write_ports(dst: Store, ports: Mapping[str, Port]) -> None:
    """One document per port (the destination's own port documents were deleted before)."""
    keys = sorted(ports)
    for start in range(0, len(keys), BATCH):
        write_ports(dst, {k: ports[k] for k in keys[start : start + BATCH]}, PortsRevision())


def _write_ipam(dst: Store, state: Mapping[str, Any]) -> None:
    text = json.dumps(state, separators=(",", ":")).encode()
    if isinstance(dst, LocalStore):
        # the destination's own journal would replay changes of its former state
        (Path(dst.root) / JOURNAL).unlink(missing_ok=True)
        storage_for(dst).close()
        dst.commit({IPAM_DOC: text})
    else:
        dst.commit({IPAM_DOC: text})
        keyed.import_document(dst)
        storage_for(dst).close()


def _verify(dst: Store, source: _Source) -> None:
    got = {n: d.data for n, d in dst.read_many(list(source.docs)).items() if d is not None}
    differ = sorted(n for n in source.docs if got.get(n) != source.docs[n])
    if differ:
        raise InternalError(f"store copy: {len(differ)} documents differ after the copy (e.g. {differ[0]})")
    ports, _seen = read_ports(dst)
    if dict(ports) != dict(source.ports):
        raise InternalError("store copy: the ports differ after the copy")
    if _ipam_state(dst) != source.ipam:
        raise InternalError("store copy: the IPAM state differs after the copy")
