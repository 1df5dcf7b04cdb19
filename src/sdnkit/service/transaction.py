"""One locked write: object changes, the hooks that must succeed with them, and one atomic commit.

Hooks are how other parts join a configuration write (PVE runs its IPAM plugins inside the same
locked section: a subnet create registers the subnet and its gateway in the IPAM, a delete
unregisters them, and a failure aborts the write). A hook is a callable::

    def hook(change: ObjectChange, tx: Transaction) -> None

called for every created, updated or deleted object (every kind, including changes made by
``rollback``), after validation and before the commit, while the SDN lock is held. It may:

* read store documents with ``tx.read(name)``: the commit then only succeeds if they are unchanged;
* stage documents with ``tx.stage(name, data)`` (``None`` deletes): they are written in the same
  atomic commit as the configuration (the PVE IPAM keeps ``pve-ipam-state.json`` this way);
* register an undo with ``tx.on_abort(fn)`` after an outside side effect (a NetBox call): if a later
  hook or the commit fails, undos run in reverse order; an undo failure is attached to the original
  error as a note, never hiding it;
* raise any exception to refuse the change (``ConfigError`` names the field for the API).

A refused change must write nothing anywhere, and an undo is a write too (the built-in IPAM
journals every op, its inverse included). So a hook whose side effects can be refused part way
(the IPAM: a gateway that is taken, a subnet that still holds addresses) also has a
``check(change, tx)`` attribute: ``commit`` calls every hook's check for every change first, and
only when none refused does any hook act. A check only reads (the IPAM state, an IPAM server)
and raises to refuse. What remains for the undos are failures nobody can check for beforehand
(a server that stops answering, a failed disk write).

Hooks are found in ``HOOK_MODULES``: each listed module has ``HOOKS: Sequence[ChangeHook]``. Add
yours there (``"sdnkit.ipam.hooks"``) or pass ``hooks=`` to ``SdnService``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sdnkit.config.model import SdnConfig
from sdnkit.config.schema import Kind
from sdnkit.config.section import Section
from sdnkit.errors import LockError
from sdnkit.store.base import ABSENT, Document, Store
from sdnkit.store.snapshot import Snapshot, load_snapshot

__all__ = [
    "HOOK_MODULES",
    "Action",
    "ChangeHook",
    "Context",
    "ObjectChange",
    "Transaction",
    "check_token",
    "commit",
    "default_hooks",
    "locked",
]

# modules that provide ``HOOKS``; the IPAM and DNS parts add theirs here
HOOK_MODULES: tuple[str, ...] = ("sdnkit.service.ipam_hooks",)


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class ObjectChange:
    """One object being created, updated or deleted, with the whole config before and after."""

    kind: Kind
    action: Action
    id: str
    old: Section | None
    new: Section | None
    before: SdnConfig
    after: SdnConfig
    cause: str = "edit"  # "edit", "rollback" or "import"


class Transaction:
    """What a hook may do inside the locked write (see the module docstring)."""

    def __init__(self, store: Store, snapshot: Snapshot) -> None:
        self.store = store
        self.snapshot = snapshot
        self.staged: dict[str, bytes | None] = {}
        self.expected: dict[str, str] = {}
        self._undo: list[Callable[[], Any]] = []

    def read(self, name: str) -> Document | None:
        """A document as staged so far, or from the store (then the commit checks it is unchanged)."""
        if name in self.staged:
            data = self.staged[name]
            return None if data is None else Document(name, data, "")
        doc = self.store.read(name)
        self.expected.setdefault(name, doc.revision if doc else ABSENT)
        return doc

    def stage(self, name: str, data: bytes | None) -> None:
        self.staged[name] = data

    def on_abort(self, undo: Callable[[], Any]) -> None:
        self._undo.append(undo)

    def abort(self, err: BaseException) -> None:
        while self._undo:
            undo = self._undo.pop()
            try:
                undo()
            except Exception as undo_err:  # any undo failure is reported on the original error
                err.add_note(f"undo {getattr(undo, '__name__', undo)!s} failed too: {undo_err}")


ChangeHook = Callable[[ObjectChange, Transaction], None]


def default_hooks() -> list[ChangeHook]:
    hooks: list[ChangeHook] = []
    for name in HOOK_MODULES:
        hooks.extend(importlib.import_module(name).HOOKS)
    return hooks


@dataclass(frozen=True, slots=True)
class Context:
    """What every operation needs: the store, the hooks, and how long to wait for the SDN lock."""

    store: Store
    hooks: Sequence[ChangeHook] = field(default_factory=list)
    lock_timeout: float = 10.0


def check_token(snap: Snapshot, token: str | None) -> None:
    """While ``.lock`` exists, every change must carry its token (PVE ``lock_sdn_config``)."""
    if snap.lock_token is not None and token != snap.lock_token:
        what = "a wrong lock-token was given" if token else "no lock-token was given"
        raise LockError(
            f"the SDN configuration is locked (POST /cluster/sdn/lock) and {what}", key="lock-token"
        )


@contextmanager
def locked(ctx: Context, token: str | None) -> Iterator[Snapshot]:
    """Hold the SDN lock and yield a fresh snapshot, once the change's lock token is checked."""
    with ctx.store.lock("sdn", ctx.lock_timeout):
        snap = load_snapshot(ctx.store)
        check_token(snap, token)
        yield snap


def commit(
    ctx: Context,
    snap: Snapshot,
    docs: Mapping[str, bytes | None],
    changes: Iterable[ObjectChange] = (),
) -> None:
    """Check ``changes`` with every hook, run the hooks, then write ``docs`` and whatever the hooks
    staged, atomically.

    The commit only succeeds if the documents read into ``snap`` are unchanged.
    """
    tx = Transaction(ctx.store, snap)
    changes = list(changes)
    try:
        for change in changes:  # every refusal that can be known before a side effect
            for hook in ctx.hooks:
                check = getattr(hook, "check", None)
                if check is not None:
                    check(change, tx)
        for change in changes:
            for hook in ctx.hooks:
                hook(change, tx)
        expect = {name: snap.revisions[name] for name in docs if name in snap.revisions}
        ctx.store.commit({**docs, **tx.staged}, expect={**expect, **tx.expected})
    except BaseException as err:
        tx.abort(err)
        raise
