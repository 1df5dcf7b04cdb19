"""Status records: what each node's agent applied, per zone and vnet (spec §4.5 shape).

One JSON document per node in the store (``nodes-status/<node>.json`` in the local directory),
written by that node's agent after every apply and read by ``sdn status`` and the API::

    {"node": "node1", "version": 4, "applied": 4, "time": 1764000000.0, "backend": "netlink",
     "changes": 3, "error": null,
     "zones": {"simple": {"status": "available", "zone-type": "simple"}},
     "vnets": {"vnet1": {"status": "available", "zone": "simple"},
               "vnet2": {"status": "error", "zone": "z2", "statusmsg": "..."}}}

``version`` is the running version the agent saw, ``applied`` the one now live on the node (they
differ when an apply failed and was rolled back). ``warnings`` lists what the underlay check
noted without failing a zone (a peer whose node is down, a peer that does not answer at all);
``went-back`` the last version at which zones failed their check and went back, and why (kept
after later versions: after a revert the node still says what happened).
Statuses follow PVE: ``available``, ``pending`` (not applied yet), ``error`` (with
``statusmsg``); a vnet error makes its zone ``error`` too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sdnkit.store.base import Store

PREFIX = "nodes-status/"


class Status(StrEnum):
    AVAILABLE = "available"
    PENDING = "pending"
    ERROR = "error"


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectStatus:
    status: Status
    message: str | None = None
    zone: str | None = None  # vnets: their zone
    zone_type: str | None = None  # zones: their type

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status.value}
        if self.zone_type:
            out["zone-type"] = self.zone_type
        if self.zone:
            out["zone"] = self.zone
        if self.message:
            out["statusmsg"] = self.message
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ObjectStatus:
        return cls(
            status=Status(data["status"]),
            message=data.get("statusmsg"),
            zone=data.get("zone"),
            zone_type=data.get("zone-type"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class WentBack:
    """The last time zones of this node failed their check and went back: at which version, why."""

    version: int
    zones: Mapping[str, str]  # zone -> reason

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "zones": dict(sorted(self.zones.items()))}


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeStatus:
    node: str
    version: int
    applied: int
    time: float
    backend: str = "netlink"
    changes: int | None = None
    error: str | None = None
    zones: Mapping[str, ObjectStatus] = field(default_factory=dict)
    vnets: Mapping[str, ObjectStatus] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()  # what the checks noted without failing (agent/underlay_check.py)
    went_back: WentBack | None = None  # kept after later versions, so that the node still says why

    @property
    def ok(self) -> bool:
        return self.error is None and all(
            s.status is Status.AVAILABLE for s in (*self.zones.values(), *self.vnets.values())
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "version": self.version,
            "applied": self.applied,
            "time": self.time,
            "backend": self.backend,
            "changes": self.changes,
            "error": self.error,
            "zones": {k: v.to_json() for k, v in sorted(self.zones.items())},
            "vnets": {k: v.to_json() for k, v in sorted(self.vnets.items())},
            "warnings": list(self.warnings),
            "went-back": self.went_back.to_json() if self.went_back else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NodeStatus:
        return cls(
            node=data["node"],
            version=int(data["version"]),
            applied=int(data["applied"]),
            time=float(data["time"]),
            backend=data.get("backend", "netlink"),
            changes=data.get("changes"),
            error=data.get("error"),
            zones={k: ObjectStatus.from_json(v) for k, v in data.get("zones", {}).items()},
            vnets={k: ObjectStatus.from_json(v) for k, v in data.get("vnets", {}).items()},
            warnings=tuple(data.get("warnings") or ()),
            went_back=_went_back(data.get("went-back")),
        )


def _went_back(data: Mapping[str, Any] | None) -> WentBack | None:
    if not data:
        return None
    return WentBack(version=int(data["version"]), zones=dict(data.get("zones") or {}))


def document(node: str) -> str:
    return f"{PREFIX}{node}.json"


def write(store: Store, status: NodeStatus) -> None:
    """Replace this node's record (only this node's agent writes it, so no revision check)."""
    data = json.dumps(status.to_json(), indent=1, sort_keys=True).encode()
    store.commit({document(status.node): data})


def read(store: Store, node: str) -> NodeStatus | None:
    doc = store.read(document(node))
    return NodeStatus.from_json(json.loads(doc.data)) if doc else None


def read_all(store: Store) -> Iterator[NodeStatus]:
    """Every node's record, by node name (one consistent read)."""
    for _name, doc in sorted(store.read_prefix(PREFIX).items()):
        yield NodeStatus.from_json(json.loads(doc.data))
