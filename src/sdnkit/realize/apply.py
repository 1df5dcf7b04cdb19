"""One apply: read → diff → record intent → change → NAT → verify → commit, or roll back.

Everything happens inside the node's network namespace (entered by the calling thread only) and
under the node's ownership lock. If a change is refused, or NAT cannot be installed, or the
verification finds a difference, the completed changes are undone newest first, the ownership
record is put back, and the error names the object and the kernel's message. If undoing fails
as well, :class:`~sdnkit.errors.RollbackError` carries both.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from sdnkit.errors import RealizeError, RollbackError, VerifyError
from sdnkit.plan.desired import NodePlan
from sdnkit.realize import netns as netns_mod
from sdnkit.realize import scope as scope_mod
from sdnkit.realize.base import ApplyResult, Change, Phase
from sdnkit.realize.changeset import ChangeSet
from sdnkit.realize.diff import diff
from sdnkit.realize.frr import FrrChange, FrrInstance, plan_frr
from sdnkit.realize.frr_service import FrrService
from sdnkit.realize.ipbatch import ChangeFailed, Transaction
from sdnkit.realize.kernel_state import KernelState, PendingRead, ReadScope, read_kernel, start_read
from sdnkit.realize.link_diff import default_sysctl
from sdnkit.realize.nat import NatBackendName, NatChange, plan_nat
from sdnkit.realize.ownership import Ownership, OwnershipStore
from sdnkit.realize.spec import Spec, build_spec
from sdnkit.realize.vrf_rules import local_table_after_vrfs

VERIFY_TIMEOUT = 2.0  # seconds to wait for the kernel to show what it accepted
VERIFY_SCOPED_MAX = 16  # read back only the touched links when the changes touch at most this many


def apply_plan(
    plan: NodePlan,
    *,
    netns: str | None = None,
    state_dir: Path,
    nat_backend: str = NatBackendName.AUTO,
    dry_run: bool = False,
    incremental: bool = False,
    frr: FrrService | FrrInstance | None = None,
) -> ApplyResult:
    """Make this node's kernel match ``plan``; see the package docstring."""
    spec = build_spec(plan)  # a bad plan fails here, before anything is read or changed
    prints = scope_mod.fingerprints(spec)
    frr_text = _render_frr(plan) if frr is not None else None
    store = OwnershipStore(state_dir)
    with netns_mod.entered(netns), store.locked():
        if not dry_run and any(s.kind == "vrf" for s in spec.links.values()):
            local_table_after_vrfs()  # once per node, as ifupdown2 does; nothing to undo
        own = store.load()
        work = _decide(spec, own, prints, incremental)
        nat, nat_record = plan_nat(spec.snat, own.nat, nat_backend)
        frr_change = plan_frr(frr_text, frr, plan.frr_daemons)
        changes = work.cs.ordered()
        extra = tuple(x.describe() for x in (nat, frr_change) if x is not None)
        if dry_run:
            return ApplyResult(changes=tuple(str(c) for c in changes) + extra, dry_run=True)
        final = work.final(plan.version, nat_record)
        if not changes and nat is None and frr_change is None:
            store.save(final)  # adopted links, a new plan version, fingerprints: no kernel change
            return ApplyResult()
        _execute(store, work, changes, (nat, frr_change), final)
    return ApplyResult(
        changes=tuple(str(c) for c in changes),
        nat_changed=nat is not None,
        frr_changed=frr_change is not None,
    )


def _render_frr(plan: NodePlan) -> str | None:
    if plan.frr is None:
        return None
    from sdnkit.render.frr import render_frr  # only nodes with FRR pay for the import

    return render_frr(plan.frr)


@dataclass(slots=True)
class _Work:
    """What one apply looks at (all links, or only those an incremental apply concerns)."""

    own: Ownership  # the record before the apply
    cs: ChangeSet
    names: set[str] | None  # None: every link
    prints: dict[str, str]

    def final(self, version: int, nat_record: dict[str, str] | None) -> Ownership:
        """The record once the apply is done and verified."""
        new = (
            self.cs.new
            if self.names is None
            else scope_mod.merged_ownership(self.own, self.cs.new, self.names)
        )
        new.plan_version, new.nat, new.applied = version, nat_record, dict(self.prints)
        return new


def _decide(spec: Spec, own: Ownership, prints: dict[str, str], incremental: bool) -> _Work:
    names = scope_mod.changed_links(spec, own, prints) if incremental else None
    if names is not None:
        scoped_own = scope_mod.scoped_ownership(own, names)
        scoped = scope_mod.scoped_spec(spec, names)
        cur = read_kernel(read_scope(scoped, scoped_own, tuple(sorted(names))))
        cs = diff(scoped, cur, scoped_own)
        if not cs.deleted:
            return _Work(own=own, cs=cs, names=names, prints=prints)
    cur = read_kernel(read_scope(spec, own))  # a full apply (also when links must be deleted)
    return _Work(own=own, cs=diff(spec, cur, own), names=None, prints=prints)


def read_scope(spec: Spec, own: Ownership, links: tuple[str, ...] | None = None) -> ReadScope:
    """Only start the reads this plan and record need (each one is a process)."""
    paths = {p for s in spec.links.values() for p in s.sysctls}
    paths |= {default_sysctl(p) for p in paths} | set(own.sysctls)
    return ReadScope(
        fdb=bool(own.fdb) or any(s.kind == "vxlan" or s.fdb for s in spec.links.values()),
        # VLAN devices may need their VID on a VLAN-aware bridge (diff._with_self_vids)
        vids=bool(own.vids) or any(s.vids or s.kind == "vlan" for s in spec.links.values()),
        routes=own.routes or bool(spec.routes),
        sysctls=tuple(sorted(paths)),
        links=links,
    )


def _execute(
    store: OwnershipStore,
    work: _Work,
    changes: tuple[Change, ...],
    services: tuple[NatChange | None, FrrChange | None],
    final: Ownership,
) -> None:
    nat, frr_change = services
    own, cs = work.own, work.cs
    intent = own.copy()  # written ahead: links about to be created are ours even if we get killed
    intent.owned.update(cs.new.owned)
    if intent.applied is not None:  # what this apply touches is unverified until it is done
        intent.applied = {n: fp for n, fp in intent.applied.items() if n not in cs.touched()}
    intent.nat = own.nat or ({"backend": nat.backend.name, "digest": "", "listing": ""} if nat else None)
    store.save(intent)
    txn = Transaction()
    undo_nat: list[Callable[[], None]] = []  # NAT and FRR, undone before the kernel changes
    check = _Check(cs)
    try:
        links_done = sum(1 for c in changes if c.phase is not Phase.SYSCTLS)  # sysctls come last
        txn.run(changes[:links_done])
        if frr_change is None:  # FRR's reload runs later: then read the kernel after it
            check.start()  # the link dump runs while the sysctls are written (it does not show them)
        txn.run(changes[links_done:])
        if nat is not None:
            final.nat = nat.apply()
            undo_nat.append(nat.undo)
        if frr_change is not None:
            frr_change.apply()  # restores the old frr.conf itself when the reload fails
            undo_nat.append(frr_change.undo)
            txn.run(_sysctls_again(cs))
        check.verify()
    except ChangeFailed as failed:
        check.discard()
        err = RealizeError(
            f"{failed.change.obj}: {failed.change.action} failed: {failed.message}",
            obj=_name(failed.change.obj),
        )
        _rollback(store, own, txn, undo_nat, err)
    except BaseException as err:  # refused NAT, failed verification, a bug, an interrupt: undo all
        check.discard()
        _rollback(store, own, txn, undo_nat, err)
    store.save(final)


def _sysctls_again(cs: ChangeSet) -> tuple[Change, ...]:
    """The sysctl writes needed once more after an FRR reload: zebra's ``ip forwarding`` writes
    ``net.ipv4.ip_forward``, and the kernel then resets every link's ``forwarding`` with it."""
    if not any(s.sysctls for s in cs.spec.links.values()):
        return ()
    again = diff(cs.spec, read_kernel(read_scope(cs.spec, cs.new)), cs.new)
    return tuple(c for c in again.ordered() if c.phase is Phase.SYSCTLS)


def _name(obj: str) -> str:
    return obj.split('"')[1] if '"' in obj else obj


def _rollback(
    store: OwnershipStore,
    own: Ownership,
    txn: Transaction,
    undo_nat: list[Callable[[], None]],
    err: BaseException,
) -> None:
    problems: list[str] = []
    for undo in reversed(undo_nat):
        try:
            undo()
        except (RealizeError, OSError) as nat_err:
            problems.append(str(nat_err))
    problems += txn.rollback()
    if problems:
        kept = own.copy()
        kept.owned.update(store.load().owned)  # keep every link we may have created on record
        kept.applied = None  # and make the next apply a full one
        store.save(kept)
        text = "; ".join(problems)
        raise RollbackError(f"{err}; rolling back failed too: {text}", obj=getattr(err, "obj", None)) from err
    store.save(own)
    raise err


def _verify_links(cs: ChangeSet) -> tuple[str, ...] | None:
    """The links to read back: only those the changes touched when they are few and nothing but
    links changed (adding one vnet to a thousand then costs what adding it to none costs)."""
    touched = cs.touched()
    if not touched or len(touched) > VERIFY_SCOPED_MAX or cs.deleted:
        return None
    if any(not c.obj.startswith("link ") for c in cs.changes):
        return None
    # a port's master and a VLAN's raw device decide how the port is compared: read them too
    related = {cs.spec.links[n].master for n in touched if n in cs.spec.links}
    related |= {cs.spec.links[n].info.get("link") for n in touched if n in cs.spec.links}
    return tuple(sorted(touched | {n for n in related if n}))


class _Check:
    """The verification of one apply, whose first read may start before the last sysctl writes."""

    def __init__(self, cs: ChangeSet) -> None:
        links = _verify_links(cs)
        self.spec, self.own = cs.spec, cs.new
        if links is not None:
            self.spec = replace(scope_mod.scoped_spec(cs.spec, set(links)), routes=frozenset())
            self.own = replace(scope_mod.scoped_ownership(cs.new, set(links)), routes=False)
        self.scope = read_scope(self.spec, self.own, links)
        self.pending: PendingRead | None = None

    def start(self) -> None:
        self.pending = start_read(self.scope)

    def verify(self) -> KernelState:
        try:
            return verify(self.spec, self.own, self.scope, self.pending)
        finally:
            self.discard()  # ends the first read if verify did not get to collect it

    def discard(self) -> None:
        if self.pending is not None:
            self.pending.discard()
            self.pending = None


def verify(spec: Spec, own: Ownership, scope: ReadScope, first: PendingRead | None = None) -> KernelState:
    """Read the kernel back until ``spec`` holds (a subset match, canonicalised), or VerifyError.
    ``first``: the first read, already started with ``scope``."""
    deadline = time.monotonic() + VERIFY_TIMEOUT
    pause = 0.01
    while True:
        cur = (first or start_read(scope)).result()
        first = None
        left = diff(spec, cur, own).ordered()
        if not left:
            return cur
        if time.monotonic() > deadline:
            text = "; ".join(str(c) for c in left[:20]) + (
                f" (and {len(left) - 20} more)" if len(left) > 20 else ""
            )
            raise VerifyError(
                f"the node does not match the plan after applying it: still to do: {text}",
                obj=_name(left[0].obj),
                value=[str(c) for c in left],
            )
        time.sleep(pause)
        pause = min(pause * 2, 0.2)
