"""Commit confirmed: a running version that goes back by itself unless it is confirmed in time.

``sdn apply --confirm S`` (API: ``PUT /cluster/sdn confirm=S``) writes, in the same commit as
the new ``.running-config`` (version N), the document ``.running-confirm``::

    {"version": N, "deadline": <unix time>, "started": <unix time>, "by": "...",
     "previous": <the running config N-1, as .running-config>}

Then:

* **confirm** (every node reported success in time): the process that applied deletes the
  document, comparing its revision: version N stays.
* **revert** (a node failed, or the deadline passed): ``.running-config`` becomes the previous
  content with version **N+1** (versions only grow, so every agent treats it as one more
  version to apply), the confirm document is deleted and ``.running-reverted`` records why, all
  in one commit that compares the confirm document's and the running config's revisions.
  Whoever reverts first wins; every other attempt fails its compare and does nothing, so
  exactly one revert happens. The applying process reverts when it sees a failure; if it died,
  the first node agent whose clock passes ``deadline + GRACE`` reverts (``revert_if_expired``).

The pending configuration (``*.cfg``) is never touched: after a revert, ``sdn pending`` still
shows the change, to be fixed and applied again or rolled back. While a version awaits
confirmation, another apply is refused.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

from sdnkit.config.running import RunningConfig
from sdnkit.errors import ConfigError, ConflictError, LockError
from sdnkit.store.base import ABSENT, Store
from sdnkit.store.snapshot import RUNNING_DOC

__all__ = [
    "CONFIRM_DOC",
    "GRACE",
    "REVERTED_DOC",
    "PendingConfirm",
    "Reverted",
    "confirm",
    "read_pending",
    "read_reverted",
    "refuse_while_pending",
    "revert",
    "revert_if_expired",
]

CONFIRM_DOC = ".running-confirm"
REVERTED_DOC = ".running-reverted"
GRACE = 5.0  # seconds the agents leave the applying process after the deadline
MAX_CONFIRM = 3600


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingConfirm:
    version: int
    deadline: float
    started: float
    by: str
    previous: RunningConfig
    revision: str = ""  # the document's revision when read

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version, "deadline": self.deadline, "started": self.started, "by": self.by,
            "previous": self.previous.to_json(),
        }  # fmt: skip

    def expired(self, now: float, grace: float = 0.0) -> bool:
        return now >= self.deadline + grace


@dataclass(frozen=True, slots=True, kw_only=True)
class Reverted:
    version: int  # the version that was not confirmed
    to: int  # the version that carries the previous content
    reason: str
    by: str
    time: float


def check_seconds(value: int) -> int:
    if not 1 <= value <= MAX_CONFIRM:
        raise ConfigError(
            f"confirm: {value} is out of range 1-{MAX_CONFIRM} seconds", key="confirm", value=value
        )
    return value


def new_pending(version: int, previous: RunningConfig, seconds: int, by: str) -> PendingConfirm:
    now = time.time()
    return PendingConfirm(
        version=version, deadline=now + check_seconds(seconds), started=now, by=by, previous=previous
    )


def encode(pending: PendingConfirm) -> bytes:
    return json.dumps(pending.to_json(), sort_keys=True, separators=(",", ":")).encode()


def read_pending(store: Store) -> PendingConfirm | None:
    doc = store.read(CONFIRM_DOC)
    if doc is None:
        return None
    try:
        raw = json.loads(doc.data)
        return PendingConfirm(
            version=int(raw["version"]), deadline=float(raw["deadline"]), started=float(raw["started"]),
            by=str(raw.get("by") or "?"), previous=RunningConfig.from_json(raw["previous"]),
            revision=doc.revision,
        )  # fmt: skip
    except (ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"{CONFIRM_DOC}: unreadable ({err}); delete it by hand", key=CONFIRM_DOC) from err


def read_reverted(store: Store) -> Reverted | None:
    doc = store.read(REVERTED_DOC)
    if doc is None:
        return None
    raw = json.loads(doc.data)
    return Reverted(
        version=int(raw["version"]), to=int(raw["to"]), reason=str(raw["reason"]), by=str(raw["by"]),
        time=float(raw["time"]),
    )  # fmt: skip


def confirm(store: Store, pending: PendingConfirm) -> None:
    """Keep the version: delete the confirm document; ConflictError when someone reverted first."""
    try:
        store.commit({CONFIRM_DOC: None}, expect={CONFIRM_DOC: pending.revision})
    except ConflictError:
        reverted = read_reverted(store)
        why = (
            f": {reverted.reason} (by {reverted.by})"
            if reverted and reverted.version == pending.version
            else ""
        )
        raise ConflictError(
            f"version {pending.version} was reverted before it could be confirmed{why}"
        ) from None


def revert(store: Store, pending: PendingConfirm, reason: str, by: str) -> int | None:
    """Put the previous content back as a new version; that version, or None if someone else did it."""
    doc = store.read(RUNNING_DOC)
    running = RunningConfig.loads(doc.data.decode()) if doc else RunningConfig.empty()
    if doc is None or running.version != pending.version:  # a stale record: the running config moved on
        with contextlib.suppress(ConflictError):
            store.commit({CONFIRM_DOC: None}, expect={CONFIRM_DOC: pending.revision})
        return None
    back = RunningConfig(running.version + 1, pending.previous.config)
    record = {"version": pending.version, "to": back.version, "reason": reason, "by": by, "time": time.time()}
    changes: dict[str, bytes | None] = {
        RUNNING_DOC: back.dumps().encode(),
        CONFIRM_DOC: None,
        REVERTED_DOC: json.dumps(record, sort_keys=True).encode(),
    }
    try:
        store.commit(changes, expect={CONFIRM_DOC: pending.revision, RUNNING_DOC: doc.revision})
    except ConflictError:
        return None
    return back.version


def revert_if_expired(store: Store, by: str, now: float | None = None, grace: float = GRACE) -> int | None:
    """Revert a version whose deadline (plus ``grace``) passed; the new version, if this call did it."""
    pending = read_pending(store)
    now = time.time() if now is None else now
    if pending is None or not pending.expired(now, grace):
        return None
    when = time.strftime("%H:%M:%S", time.localtime(pending.deadline))
    return revert(store, pending, f"not confirmed by {when} (applied by {pending.by})", by)


def refuse_while_pending(store: Store, by: str) -> str:
    """The confirm document's revision (ABSENT when none); LockError while a version awaits confirmation.

    A confirmation whose deadline passed without anyone reverting (no agent runs) is reverted
    here first, and the apply is refused all the same: the operator reviews what came back.
    """
    pending = read_pending(store)
    if pending is None:
        return ABSENT
    if pending.expired(time.time()):
        back = revert_if_expired(store, by, grace=0.0)
        raise LockError(
            f"running version {pending.version} was not confirmed in time and went back to version "
            f"{pending.version - 1}'s content{f' as version {back}' if back else ''}: check sdn status and "
            "sdn pending, then apply again"
        )
    left = pending.deadline - time.time()
    raise LockError(
        f"running version {pending.version} awaits confirmation for {left:.0f} s more ({pending.by}): "
        "apply again once it is confirmed or reverted"
    )
