"""What sdnkit owns on a node, and what it changed on links it does not own: the state file.

The reconciler only ever deletes links listed here (or carrying its mark, link group
``LINK_GROUP``, when this file was lost), and only undoes settings it recorded here, so vmbr0, the
host's NICs and guest ports stay untouched. The record is written ahead of every apply
(the links about to be created are added first), so that an apply killed half way leaves no link
nobody knows about: the next apply finds them in the record and converges.

File: ``<state_dir>/realize.json`` (written atomically: temp file, fsync, rename), guarded by an
exclusive ``flock`` on ``<state_dir>/realize.lock`` for the whole apply.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdnkit.errors import RealizeError

FORMAT = 1
STATE_FILE = "realize.json"
LOCK_FILE = "realize.lock"


@dataclass(slots=True, kw_only=True)
class Ownership:
    owned: dict[str, str] = field(default_factory=dict)  # link -> kernel kind
    addresses: dict[str, set[str]] = field(default_factory=dict)  # addresses we added to others' links
    fdb: dict[str, set[str]] = field(default_factory=dict)  # flood destinations we added
    vids: dict[str, set[int]] = field(default_factory=dict)  # bridge VLANs we added
    originals: dict[str, dict[str, Any]] = field(default_factory=dict)  # others' links: setting -> old value
    sysctls: dict[str, str] = field(default_factory=dict)  # /proc/sys path -> value before we set it
    routes: bool = False  # whether routes of ours may exist
    nat: dict[str, str] | None = None  # {"backend", "digest", "listing"}
    plan_version: int | None = None
    # link -> fingerprint of its spec as last applied and verified (None: no apply recorded yet)
    applied: dict[str, str] | None = None

    def copy(self) -> Ownership:
        return Ownership.from_json(self.to_json())

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "plan_version": self.plan_version,
            "owned": dict(sorted(self.owned.items())),
            "addresses": {k: sorted(v) for k, v in sorted(self.addresses.items()) if v},
            "fdb": {k: sorted(v) for k, v in sorted(self.fdb.items()) if v},
            "vids": {k: sorted(v) for k, v in sorted(self.vids.items()) if v},
            "originals": {k: v for k, v in sorted(self.originals.items()) if v},
            "sysctls": dict(sorted(self.sysctls.items())),
            "routes": self.routes,
            "nat": self.nat,
            "applied": dict(sorted(self.applied.items())) if self.applied is not None else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Ownership:
        return cls(
            owned=dict(data.get("owned", {})),
            addresses={k: set(v) for k, v in data.get("addresses", {}).items()},
            fdb={k: set(v) for k, v in data.get("fdb", {}).items()},
            vids={k: {int(x) for x in v} for k, v in data.get("vids", {}).items()},
            originals={k: dict(v) for k, v in data.get("originals", {}).items()},
            sysctls=dict(data.get("sysctls", {})),
            routes=bool(data.get("routes", False)),
            nat=data.get("nat"),
            plan_version=data.get("plan_version"),
            applied=dict(data["applied"]) if data.get("applied") is not None else None,
        )


class OwnershipStore:
    """The state file of one node (one network namespace)."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = Path(state_dir)
        self.path = self.dir / STATE_FILE
        self._saved: str | None = None

    def load(self) -> Ownership:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return Ownership()
        try:
            data = json.loads(text)
        except ValueError as err:
            raise RealizeError(
                f'state file "{self.path}": not valid JSON: {err}', obj=str(self.path)
            ) from err
        if data.get("format") != FORMAT:
            raise RealizeError(
                f'state file "{self.path}": unknown format {data.get("format")!r}', obj=str(self.path)
            )
        self._saved = _dump(data)
        return Ownership.from_json(data)

    def save(self, own: Ownership) -> None:
        text = _dump(own.to_json())
        if text == self._saved:
            return
        tmp = self.path.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
        with open(tmp, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self.path)
        self._saved = text

    @contextmanager
    def locked(self) -> Iterator[OwnershipStore]:
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / LOCK_FILE, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield self
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


def _dump(data: dict[str, Any]) -> str:
    # one line per top-level key: readable, and the C encoder (no indent) stays fast
    return "{\n" + ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in data.items()) + "\n}\n"
