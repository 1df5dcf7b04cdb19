"""Whole-configuration operations: pending, apply, rollback, dry-run, the global lock, import.

* ``apply`` (PVE ``PUT /cluster/sdn``): refuses a pending configuration that breaks any rule, then
  writes ``.running-config`` with version + 1 in one atomic commit (releasing the lock token when
  asked) and returns the new version. With ``confirm=S`` the same commit records that the version
  goes back by itself unless confirmed within S seconds (``service/confirm.py``); while a version
  awaits confirmation, apply is refused. ``apply_config`` returns the old and new running configs
  too (``service/rollout.py`` follows the nodes from there).
* ``rollback`` (``POST /cluster/sdn/rollback``): writes the running objects back into the ``.cfg``
  files in one atomic commit, running the hooks for every object it changes (PVE does not, which
  leaves its IPAM out of step). With nothing applied yet it is refused: it would delete everything.
* ``lock`` / ``unlock`` (``POST``/``DELETE /cluster/sdn/lock``): the global lock token of §1.6.
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sdnkit.config import pending as pending_module
from sdnkit.config.model import SdnConfig
from sdnkit.config.pending import diff_config, has_pending_changes
from sdnkit.config.pending import dry_run as dry_run_config
from sdnkit.config.running import RunningConfig
from sdnkit.config.schema import VERSIONED_KINDS, Kind
from sdnkit.config.section import Section
from sdnkit.config.sectionconfig import FILENAMES, format_config, ordered
from sdnkit.config.validate import check_config
from sdnkit.config.violation import to_error
from sdnkit.errors import ConfigError, LockError
from sdnkit.service import confirm as confirm_module
from sdnkit.service.nodediff import rendered_diffs
from sdnkit.service.params import Params, flag, integer, no_more, text
from sdnkit.service.transaction import Action, Context, ObjectChange, check_token, commit, locked
from sdnkit.store.base import ABSENT
from sdnkit.store.local import LocalStore
from sdnkit.store.snapshot import LOCK_DOC, RUNNING_DOC, Snapshot, load_snapshot

__all__ = [
    "Applied",
    "apply",
    "apply_config",
    "check",
    "dry_run",
    "import_pve",
    "index",
    "lock",
    "pending",
    "rollback",
    "unlock",
    "uuid7",
]

STATE_DOCS = ("pve-ipam-state.json", "mac-cache.json")
INDEX = ("vnets", "zones", "controllers", "ipams", "dns", "fabrics")


def index() -> list[dict[str, str]]:
    """``GET /cluster/sdn``."""
    return [{"id": name} for name in INDEX]


def uuid7() -> str:
    """A UUIDv7 (time-ordered), as PVE's lock tokens."""
    ms = time.time_ns() // 1_000_000
    value = (ms & ((1 << 48) - 1)) << 80 | secrets.randbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


def pending(ctx: Context, params: Params) -> list[dict[str, Any]]:
    """Every object apply would create, change or delete, with old and new values."""
    params = dict(params)
    no_more(params, "pending")
    snap = load_snapshot(ctx.store)
    return [d.to_api() for d in diff_config(snap.running.config, snap.config)]


def check(ctx: Context) -> list[str]:
    """Every broken rule of the pending configuration (what apply would refuse)."""
    return [v.message for v in check_config(load_snapshot(ctx.store).config)]


def _running_from(snap: Snapshot, version: int) -> RunningConfig:
    return RunningConfig(version, SdnConfig({k: dict(snap.sections(k)) for k in VERSIONED_KINDS}))


@dataclass(frozen=True, slots=True)
class _LockParams:
    """The parameters of apply and rollback: ``lock-token`` and ``release-lock`` (default 1)."""

    token: str | None
    release: bool
    confirm: int | None = None  # apply: seconds to confirm the new version in

    @classmethod
    def parse(cls, params: Params, what: str, *, confirm: bool = False) -> _LockParams:
        params = dict(params)
        seconds = integer(params, "confirm") if confirm else None
        found = cls(text(params, "lock-token"), flag(params, "release-lock", True), seconds)
        no_more(params, what)
        if seconds is not None:
            confirm_module.check_seconds(seconds)
        return found

    def released(self, snap: Snapshot) -> dict[str, bytes | None]:
        """The lock document deleted, when this write releases the global lock."""
        return {LOCK_DOC: None} if self.token and self.release and snap.lock_token else {}


@dataclass(frozen=True, slots=True)
class Applied:
    """What an apply committed: the new running config, the one before, and the confirm record."""

    running: RunningConfig
    previous: RunningConfig
    confirm: confirm_module.PendingConfirm | None = None

    @property
    def version(self) -> int:
        return self.running.version


def apply(ctx: Context, params: Params) -> int:
    return apply_config(ctx, params).version


def apply_config(ctx: Context, params: Params, *, by: str = "sdn apply") -> Applied:
    """Apply; ``by`` names the applier in a confirm record (who is waiting for the nodes)."""
    lock_params = _LockParams.parse(params, "PUT /cluster/sdn", confirm=True)
    with locked(ctx, lock_params.token) as snap:
        violations = check_config(snap.config)
        if violations:
            err = to_error(violations)
            err.add_note("apply refuses a pending configuration that breaks a rule; fix it first")
            raise err
        confirm_rev = confirm_module.refuse_while_pending(ctx.store, by)
        running = _running_from(snap, snap.running.version + 1)
        docs: dict[str, bytes | None] = {RUNNING_DOC: running.dumps().encode(), **lock_params.released(snap)}
        expect = snap.expect(*(FILENAMES[k] for k in VERSIONED_KINDS), RUNNING_DOC, LOCK_DOC)
        pending = None
        if lock_params.confirm is not None:
            pending = confirm_module.new_pending(running.version, snap.running, lock_params.confirm, by)
            docs[confirm_module.CONFIRM_DOC] = confirm_module.encode(pending)
            expect[confirm_module.CONFIRM_DOC] = confirm_rev
        revisions = ctx.store.commit(docs, expect=expect)
        if pending is not None:
            pending = replace(pending, revision=revisions[confirm_module.CONFIRM_DOC])
        return Applied(running, snap.running, pending)


def _rollback_changes(snap: Snapshot, after: SdnConfig) -> list[ObjectChange]:
    changes: list[ObjectChange] = []
    for kind in VERSIONED_KINDS:
        old, new = snap.sections(kind), after.of(kind)
        for id_ in sorted(set(old) | set(new)):
            before_s, after_s = old.get(id_), new.get(id_)
            if before_s == after_s:
                continue
            action = Action.UPDATE
            if before_s is None or after_s is None:
                action = Action.CREATE if before_s is None else Action.DELETE
            changes.append(ObjectChange(kind, action, id_, before_s, after_s, snap.config, after, "rollback"))
    return changes


def rollback(ctx: Context, params: Params) -> None:
    lock_params = _LockParams.parse(params, "POST /cluster/sdn/rollback")
    with locked(ctx, lock_params.token) as snap:
        if snap.running.version == 0:
            raise ConfigError(
                "nothing has been applied yet: a rollback would delete every zone, vnet and subnet; "
                "delete them one by one if that is what you want",
                key="rollback",
            )
        sections: dict[Kind, dict[str, Section]] = dict(snap.config.sections)
        docs: dict[str, bytes | None] = {}
        for kind in VERSIONED_KINDS:
            keep = ordered(snap.sections(kind), snap.running.config.of(kind))
            sections[kind] = {s.id: s for s in keep}
            docs[FILENAMES[kind]] = format_config(keep).encode()
        after = SdnConfig(sections)
        docs.update(lock_params.released(snap))
        commit(ctx, snap, docs, _rollback_changes(snap, after))


def dry_run(ctx: Context, params: Params) -> dict[str, Any]:
    """What apply would change; with ``node``, also that node's rendered diffs (when available)."""
    params = dict(params)
    node = text(params, "node")
    no_more(params, "GET /cluster/sdn/dry-run")
    snap = load_snapshot(ctx.store)
    providers = (rendered_diffs, *pending_module.NODE_DIFF_PROVIDERS)
    return dry_run_config(snap.running, snap.config, node, providers)


def lock(ctx: Context, params: Params) -> str:
    params = dict(params)
    allow_pending = flag(params, "allow-pending")
    no_more(params, "POST /cluster/sdn/lock")
    with ctx.store.lock("sdn", ctx.lock_timeout):
        snap = load_snapshot(ctx.store)
        if snap.lock_token is not None:
            raise LockError("the SDN configuration is already locked (DELETE /cluster/sdn/lock releases it)")
        if not allow_pending and has_pending_changes(snap.running.config, snap.config):
            raise LockError(
                "there are pending changes: apply or roll them back first, or pass allow-pending=1",
                key="allow-pending",
            )
        token = uuid7()
        ctx.store.commit({LOCK_DOC: token.encode()}, expect={LOCK_DOC: ABSENT})
        return token


def unlock(ctx: Context, params: Params) -> None:
    params = dict(params)
    token, force = text(params, "lock-token"), flag(params, "force")
    no_more(params, "DELETE /cluster/sdn/lock")
    with ctx.store.lock("sdn", ctx.lock_timeout):
        snap = load_snapshot(ctx.store)
        if snap.lock_token is None:
            return
        if not force and token != snap.lock_token:
            raise LockError("invalid lock token provided (or pass force=1)", key="lock-token")
        ctx.store.commit({LOCK_DOC: None}, expect=snap.expect(LOCK_DOC))


def import_pve(ctx: Context, source: str | os.PathLike[str], *, force: bool = False) -> list[str]:
    """Copy a PVE ``/etc/pve/sdn`` directory into the store, leniently; returns the warnings.

    Bad keys and sections are dropped as PVE drops them (each one reported); objects that break a
    cross-object rule are kept but reported, and ``apply`` will refuse them until they are fixed.
    The PVE IPAM database and MAC cache are copied as they are; hooks do not run.
    """
    src = Path(source)
    if not src.is_dir():
        raise ConfigError(f"{src} is not a directory", key="source")
    source_snap = load_snapshot(LocalStore(src), lenient=True)
    running = source_snap.running
    warnings = [str(issue) for issue in source_snap.issues]
    warnings += [f"rule: {v}" for v in check_config(source_snap.config)]
    docs: dict[str, bytes | None] = {
        FILENAMES[k]: format_config(f.sections.values()).encode() for k, f in source_snap.files.items()
    }
    docs[RUNNING_DOC] = running.dumps().encode() if running.version else None
    for name in STATE_DOCS:
        doc = LocalStore(src).read(name)
        if doc is not None:
            docs[name] = doc.data
    with ctx.store.lock("sdn", ctx.lock_timeout):
        snap = load_snapshot(ctx.store)
        has_config = any(snap.sections(k) for k in VERSIONED_KINDS) or snap.running.version
        if has_config and not force:
            text_ = "the store already holds a configuration (use force to replace it)"
            raise ConfigError(text_, key="force")
        check_token(snap, None)
        commit(ctx, snap, docs)
    return warnings
