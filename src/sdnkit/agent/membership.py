"""Cluster membership: each node's registration and its heartbeat.

Two documents per node, written by the node's agent:

* ``nodes/<node>.json``, the **registration** (kept when the agent stops): the node's underlay
  address and its other addresses, the sdnkit version, kernel release and FRR version. It says
  which nodes belong to the cluster: ``sdn apply --wait`` waits for every registered node a
  change concerns, and the underlay check maps a VXLAN peer address to its node. ``sdn node
  remove NAME`` forgets a node that left for good.
* ``heartbeats/<node>.json``, the **heartbeat**: published under a lease of ``ttl`` seconds
  (``Store.publish``) and refreshed by a thread every ``ttl / 3`` seconds with the current time.
  On etcd the document disappears ``ttl`` seconds after the agent stopped refreshing it (killed,
  hung, cut off from etcd); the local store cannot expire it, so a reader also counts a heartbeat
  older than ``STALE_FACTOR * ttl`` as gone. The margin absorbs clock differences between nodes
  up to a TTL (keep the nodes' clocks synchronised, as etcd and TLS need anyway). An agent that
  stops cleanly deletes its heartbeat at once.

A node is **up** while its heartbeat is there and fresh, **down** otherwise (``Member.alive``).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sdnkit.errors import SdnError
from sdnkit.store.base import Lease, Store

__all__ = [
    "HEARTBEAT_PREFIX",
    "REGISTRY_PREFIX",
    "Beat",
    "Heartbeat",
    "Member",
    "Registration",
    "forget",
    "members",
    "register",
]

log = logging.getLogger(__name__)

REGISTRY_PREFIX = "nodes/"
HEARTBEAT_PREFIX = "heartbeats/"
DEFAULT_TTL = 15.0
STALE_FACTOR = 2.0  # a heartbeat older than this many TTLs is gone (the local store keeps it)


def registration_doc(node: str) -> str:
    return f"{REGISTRY_PREFIX}{node}.json"


def heartbeat_doc(node: str) -> str:
    return f"{HEARTBEAT_PREFIX}{node}.json"


def agent_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sdnkit")
    except PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class Registration:
    node: str
    address: str | None = None  # the underlay address (the source towards the VTEP peers)
    addresses: tuple[str, ...] = ()  # every global address of the node's own interfaces
    agent: str = field(default_factory=agent_version)
    kernel: str = field(default_factory=lambda: os.uname().release)
    frr: str | None = None
    backend: str = "netlink"

    def to_json(self) -> dict[str, Any]:
        return {
            "node": self.node, "address": self.address, "addresses": list(self.addresses),
            "agent": self.agent, "kernel": self.kernel, "frr": self.frr, "backend": self.backend,
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Registration:
        return cls(
            node=str(data["node"]),
            address=data.get("address"),
            addresses=tuple(data.get("addresses") or ()),
            agent=str(data.get("agent") or "unknown"),
            kernel=str(data.get("kernel") or "unknown"),
            frr=data.get("frr"),
            backend=str(data.get("backend") or "netlink"),
        )


def register(store: Store, reg: Registration) -> bool:
    """Write the node's registration when it changed; whether it did."""
    data = json.dumps(reg.to_json(), indent=1, sort_keys=True).encode()
    old = store.read(registration_doc(reg.node))
    if old is not None and old.data == data:
        return False
    store.commit({registration_doc(reg.node): data})
    return True


def forget(store: Store, node: str) -> bool:
    """Remove a node that left the cluster (registration, heartbeat, status record)."""
    from sdnkit.agent.status import document as status_doc

    names = [registration_doc(node), heartbeat_doc(node), status_doc(node)]
    present = [n for n, d in store.read_many(names).items() if d is not None]
    if present:
        store.commit(dict.fromkeys(present))
    return bool(present)


@dataclass(frozen=True, slots=True, kw_only=True)
class Beat:
    node: str
    time: float
    ttl: float
    pid: int = 0
    started: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "time": self.time,
            "ttl": self.ttl,
            "pid": self.pid,
            "started": self.started,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Beat:
        return cls(
            node=str(data["node"]),
            time=float(data["time"]),
            ttl=float(data["ttl"]),
            pid=int(data.get("pid") or 0),
            started=float(data.get("started") or 0.0),
        )

    def age(self, now: float) -> float:
        return max(0.0, now - self.time)

    def fresh(self, now: float) -> bool:
        return self.age(now) <= STALE_FACTOR * self.ttl


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    """What the store knows about one node."""

    node: str
    registration: Registration | None
    beat: Beat | None
    alive: bool
    age: float | None  # seconds since the last heartbeat (None: none seen)

    @property
    def state(self) -> str:
        return "up" if self.alive else "down"


def _parse(docs: Mapping[str, Any], build: Callable[[Mapping[str, Any]], Any]) -> dict[str, Any]:
    out = {}
    for name, doc in docs.items():
        try:
            value = build(json.loads(doc.data))
        except (ValueError, KeyError, TypeError):
            log.warning("store document %s is unreadable: ignored", name)
            continue
        out[value.node] = value
    return out


def members(store: Store, now: float | None = None) -> dict[str, Member]:
    """Every registered or heartbeating node, by name."""
    now = time.time() if now is None else now
    regs: dict[str, Registration] = _parse(store.read_prefix(REGISTRY_PREFIX), Registration.from_json)
    beats: dict[str, Beat] = _parse(store.read_prefix(HEARTBEAT_PREFIX), Beat.from_json)
    out = {}
    for node in sorted(set(regs) | set(beats)):
        beat = beats.get(node)
        alive = beat is not None and beat.fresh(now)
        out[node] = Member(
            node=node, registration=regs.get(node), beat=beat, alive=alive,
            age=beat.age(now) if beat else None,
        )  # fmt: skip
    return out


class Heartbeat:
    """The node's heartbeat, kept alive by a thread (see the module docstring).

    A failure to publish or refresh (etcd unreachable) is reported and retried at the next beat;
    the lease is granted again if it expired meanwhile (``Lease.refresh``).
    """

    def __init__(
        self,
        store: Store,
        node: str,
        ttl: float = DEFAULT_TTL,
        report: Callable[[SdnError], None] | None = None,
    ) -> None:
        self._store = store
        self.node = node
        self.ttl = ttl
        self._report = report or (lambda err: log.warning("heartbeat: %s", err))
        self._started = time.time()
        self._lease: Lease | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sdnkit-heartbeat-{node}", daemon=True)

    def _data(self) -> bytes:
        beat = Beat(node=self.node, time=time.time(), ttl=self.ttl, pid=os.getpid(), started=self._started)
        return json.dumps(beat.to_json(), sort_keys=True).encode()

    def beat(self) -> None:
        """Publish or refresh once (raises the store's error)."""
        if self._lease is None:
            self._lease = self._store.publish(heartbeat_doc(self.node), self._data(), self.ttl)
        else:
            self._lease.refresh(self._data)  # stamped when written, not before a slow keep-alive

    def start(self) -> Heartbeat:
        try:
            self.beat()  # the first one before the agent's first pass: the node is up at once
        except SdnError as err:
            self._report(err)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self.beat()
            except SdnError as err:
                self._report(err)
            except Exception as err:  # a transport error the store did not wrap: keep beating
                self._report(SdnError(f"heartbeat: {err!r}"))

    def stop(self) -> None:
        """Stop beating and delete the heartbeat (the node shows down at once)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        lease, self._lease = self._lease, None
        if lease is not None:
            try:
                lease.close()
            except SdnError as err:
                self._report(err)
