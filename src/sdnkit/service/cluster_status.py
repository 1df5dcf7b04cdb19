"""The cluster's view: every node, whether it is up, and what its agent applied.

``cluster_status(store)`` joins, in a few reads, the running config's version, the nodes'
registrations and heartbeats (agent/membership.py) and their status records (agent/status.py),
plus a version awaiting confirmation and the last revert (service/confirm.py). ``sdn status``
prints it; the API's per-node views use :func:`node_state`.

A node's record older than the running version shows its zones and vnets as ``pending`` (as PVE
does when the local configuration is older than the running version, spec §4.5).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sdnkit.agent import membership
from sdnkit.agent import status as node_status
from sdnkit.agent.status import NodeStatus, ObjectStatus, Status
from sdnkit.service import confirm as confirm_module
from sdnkit.store.base import Store
from sdnkit.store.snapshot import read_running

__all__ = ["ClusterStatus", "NodeView", "cluster_status", "with_pending"]


def with_pending(record: NodeStatus, running_version: int) -> NodeStatus:
    """The record as it stands against the current running version."""
    if record.version >= running_version:
        return record
    note = f"version {running_version} is not applied on this node yet (last seen {record.version})"

    def stale(objs: Mapping[str, ObjectStatus]) -> dict[str, ObjectStatus]:
        return {k: dataclasses.replace(v, status=Status.PENDING, message=note) for k, v in objs.items()}

    return dataclasses.replace(record, zones=stale(record.zones), vnets=stale(record.vnets))


@dataclass(frozen=True, slots=True)
class NodeView:
    node: str
    member: membership.Member | None  # None: the node reported a status but never registered
    record: NodeStatus | None  # with_pending applied

    @property
    def state(self) -> str:
        """``up`` (fresh heartbeat), ``down`` (none, or stale), ``unknown`` (never registered)."""
        if self.member is None:
            return "unknown"
        return self.member.state

    def to_json(self, running: int) -> dict[str, Any]:
        base: dict[str, Any] = (
            self.record.to_json()
            if self.record
            else {
                "node": self.node,
                "version": None,
                "applied": None,
                "zones": {},
                "vnets": {},
                "warnings": [],
            }
        )
        reg = self.member.registration if self.member else None
        age = self.member.age if self.member else None
        return {
            **base,
            "running": running,
            "state": self.state,
            "heartbeat": None if age is None else round(age, 1),
            "address": reg.address if reg else None,
            "agent": reg.agent if reg else None,
        }


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    running: int
    nodes: tuple[NodeView, ...]
    pending: confirm_module.PendingConfirm | None = None
    reverted: confirm_module.Reverted | None = None

    def node(self, name: str) -> NodeView | None:
        return next((n for n in self.nodes if n.node == name), None)


def cluster_status(store: Store, now: float | None = None) -> ClusterStatus:
    running = read_running(store).version
    members = membership.members(store, time.time() if now is None else now)
    records = {r.node: with_pending(r, running) for r in node_status.read_all(store)}
    nodes = tuple(NodeView(n, members.get(n), records.get(n)) for n in sorted(set(members) | set(records)))
    return ClusterStatus(
        running, nodes, confirm_module.read_pending(store), confirm_module.read_reverted(store)
    )
