"""Following an applied version across the cluster: wait for the nodes, then confirm or revert.

``follow(store, applied, ...)`` is what ``sdn apply --wait`` and the API's apply task do after
the commit:

1. the nodes to wait for: those of the zones the new version changes (``config/affected.py``:
   a zone's ``nodes`` list, or every registered node);
2. wait, watching the nodes' status records and heartbeats (``Store.watch``), until each of them
   has **applied** the version (its record is at the version or later, and none of the changed
   zones is in error), has **failed** (the record names the error), or gives **no answer** (its
   heartbeat is gone: down; or the timeout passed). One line per node event goes to ``emit``
   (``node1: applied version 5``, ``node3: error: ...``, ``node2: no answer: ...``);
3. with a confirm record (``apply --confirm``): confirm the version when every node applied it,
   otherwise revert it (``service/confirm.py``) and follow the nodes back to the previous
   content. The answer is failed then, whatever the nodes do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from sdnkit.agent import membership
from sdnkit.agent import status as node_status
from sdnkit.agent.status import NodeStatus, Status
from sdnkit.config.affected import Affected, affected
from sdnkit.errors import ConflictError
from sdnkit.service import confirm as confirm_module
from sdnkit.service.changes import Applied
from sdnkit.store.base import Store

__all__ = ["DEFAULT_TIMEOUT", "NodeResult", "Outcome", "State", "follow", "targets", "wait_for"]

DEFAULT_TIMEOUT = 120.0
RECHECK = 5.0  # seconds between looks at heartbeat ages while nothing changes (the local store)
WATCHED = (node_status.PREFIX, membership.HEARTBEAT_PREFIX, membership.REGISTRY_PREFIX)

Emit = Callable[[str], None]


class State(StrEnum):
    APPLIED = "applied"
    ERROR = "error"
    NO_ANSWER = "no-answer"


@dataclass(frozen=True, slots=True)
class NodeResult:
    node: str
    state: State
    message: str

    def line(self) -> str:
        """The task log line (PVE style, ``<node>: <event>``; the web UI reads it per node)."""
        return f"{self.node}: {self.message}"


@dataclass(frozen=True, slots=True)
class Outcome:
    version: int
    nodes: tuple[NodeResult, ...]
    ok: bool
    note: str = ""  # why it failed beyond the nodes (a revert by someone else)

    def summary(self) -> str:
        bad = [r for r in self.nodes if r.state is not State.APPLIED]
        parts = [f"{r.node}: {r.message}" for r in bad]
        done = "applied on every node" if self.nodes else "no registered node runs a changed zone"
        text = f"version {self.version}: " + ("; ".join(parts) if parts else done)
        return f"{text}; {self.note}" if self.note else text


def _problems(record: NodeStatus, zones: tuple[str, ...]) -> list[str]:
    found = [record.error] if record.error else []
    for zone in zones:
        st = record.zones.get(zone)
        if st is not None and st.status is Status.ERROR:
            named = (st.message or "").startswith(f'zone "{zone}"')
            found.append(st.message if named else f'zone "{zone}": {st.message}')
    return found


def judge(
    node: str, version: int, zones: tuple[str, ...], record: NodeStatus | None,
    member: membership.Member | None, waited: float,
) -> NodeResult | None:  # fmt: skip
    """The node's result for ``version``, or None while it is still expected to answer."""
    if record is not None and record.version >= version:
        problems = _problems(record, zones)
        if problems:
            return NodeResult(node, State.ERROR, "error: " + "; ".join(problems))
        return NodeResult(node, State.APPLIED, f"applied version {record.version}")
    if member is None or (member.registration is None and member.beat is None):
        return NodeResult(node, State.NO_ANSWER, "no answer: not a registered node (no agent ever ran there)")
    if not member.alive:
        since = f"no heartbeat for {member.age:.0f} s" if member.age is not None else "no heartbeat"
        return NodeResult(node, State.NO_ANSWER, f"no answer: node down ({since})")
    if waited < 0:
        last = f"last reported version {record.version}" if record else "no report yet"
        return NodeResult(node, State.NO_ANSWER, f"no answer before the timeout ({last})")
    return None


def targets(store: Store, applied: Applied) -> tuple[str, ...]:
    """The nodes ``follow`` would wait for now (none: it has nothing to wait for)."""
    registered = [n for n, m in membership.members(store).items() if m.registration is not None]
    return affected(applied.previous.config, applied.running.config).members(registered)


def _look(
    store: Store, version: int, aff: Affected, results: Mapping[str, NodeResult], remaining: float
) -> dict[str, NodeResult | None]:
    members = membership.members(store)
    targets = aff.members(n for n, m in members.items() if m.registration is not None)
    records = {r.node: r for r in node_status.read_all(store)}
    return {
        node: results.get(node)
        or judge(node, version, aff.zones, records.get(node), members.get(node), remaining)
        for node in targets
    }


def wait_for(store: Store, version: int, aff: Affected, *, timeout: float, emit: Emit) -> Outcome:
    """Wait until every node concerned answered for ``version`` (see the module docstring)."""
    deadline = time.monotonic() + timeout
    results: dict[str, NodeResult] = {}
    with store.watch(WATCHED) as watch:
        while True:
            remaining = deadline - time.monotonic()
            seen = _look(store, version, aff, results, remaining if remaining > 0 else -1.0)
            for node, result in sorted(seen.items()):
                if result is not None and node not in results:
                    results[node] = result
                    emit(result.line())
            if all(seen.values()):
                done = tuple(results[n] for n in sorted(seen))
                return Outcome(version, done, all(r.state is State.APPLIED for r in done))
            watch.wait(max(0.0, min(remaining, RECHECK)))


def _revert(
    store: Store, applied: Applied, first: Outcome, *, timeout: float, emit: Emit, by: str
) -> Outcome:
    pending = applied.confirm
    assert pending is not None
    back = confirm_module.revert(store, pending, first.summary(), by)
    if back is None:
        reverted = confirm_module.read_reverted(store)
        if reverted is None or reverted.version != applied.version:
            return first
        emit(f"version {applied.version} was reverted by {reverted.by}: {reverted.reason}")
        back = reverted.to
    else:
        emit(f"version {applied.version} not confirmed: going back to the content of version "
             f"{applied.previous.version} as version {back}")  # fmt: skip
    aff = affected(applied.running.config, applied.previous.config)
    wait_for(store, back, aff, timeout=timeout, emit=emit)
    return Outcome(first.version, first.nodes, False, f"reverted to the previous content as version {back}")


def follow(
    store: Store, applied: Applied, *, timeout: float = DEFAULT_TIMEOUT, emit: Emit, by: str
) -> Outcome:
    """Wait for the nodes after an apply; with a confirm record, confirm or revert (module docstring)."""
    aff = affected(applied.previous.config, applied.running.config)
    pending = applied.confirm
    window = max(0.0, pending.deadline - time.time()) if pending else timeout
    emit(f"running version {applied.version} committed"
         + (f", to be confirmed within {window:.0f} s" if pending else ""))  # fmt: skip
    first = wait_for(store, applied.version, aff, timeout=window, emit=emit)
    if not first.nodes:
        emit("no registered node runs a changed zone: nothing to wait for")
    if pending is None:
        return first
    if not first.ok:
        return _revert(store, applied, first, timeout=timeout, emit=emit, by=by)
    try:
        confirm_module.confirm(store, pending)
    except ConflictError as err:
        emit(str(err))
        return Outcome(first.version, first.nodes, False, str(err))
    emit(f"version {applied.version} confirmed")
    return first
