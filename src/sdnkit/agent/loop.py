"""The long-running agent: watch the store, run a pass when something changed, keep the heartbeat.

``run_forever(store, opts, resync=..., heartbeat_ttl=...)``:

* publishes the node's heartbeat (agent/membership.py; the registration is written by every pass);
* watches, with ``Store.watch`` (an etcd watch stream; the local store polls its files), three
  groups of documents: the running config with its confirm record, the guest ports, the vnet
  firewall files;
* runs a **full** pass at start and every ``resync`` seconds (the reconciler reads every link,
  so a hand-modified node converges back), an **incremental** pass when the running config has a
  new version or a guest port changed, and the firewall step alone when only a firewall file
  changed. A wake that changes nothing it looks at (the same running revision again, a watch that
  reopened after an etcd leader change) runs nothing: a version is never applied twice;
* reverts an unconfirmed running version when its deadline passed (``service/confirm.py``;
  every agent tries, exactly one succeeds);
* never exits on a store error: it reports it, and looks again after a pause that doubles up to
  ``MAX_BACKOFF`` seconds (the watches reopen by themselves, from the last revision they saw).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sdnkit.agent import agent as node_agent
from sdnkit.agent import membership
from sdnkit.agent.agent import WATCHED_PREFIXES, AgentOptions
from sdnkit.agent.status import NodeStatus
from sdnkit.config.running import RunningConfig
from sdnkit.errors import SdnError
from sdnkit.service import confirm as confirm_module
from sdnkit.service.port_registry import LEGACY_DOC, PORTS_PREFIX, ports_version
from sdnkit.store.base import Store, Watch

__all__ = ["GROUPS", "run_forever", "watched_prefixes"]

GROUPS: Mapping[str, tuple[str, ...]] = {
    "running": (node_agent.RUNNING_DOC, confirm_module.CONFIRM_DOC),
    "ports": (PORTS_PREFIX, LEGACY_DOC),
    "firewall": WATCHED_PREFIXES,
}
SLICE = 0.5  # seconds a waiting thread looks at its stop flag
FIRST_BACKOFF, MAX_BACKOFF = 0.5, 30.0

Report = Callable[[NodeStatus | SdnError | str], None]


def watched_prefixes(store: Store) -> tuple[tuple[str, str], ...]:
    """(name, revision) of every document below ``WATCHED_PREFIXES``."""
    names = [n for prefix in WATCHED_PREFIXES for n in store.names(prefix)]
    docs = store.read_many(names)
    return tuple((n, d.revision) for n, d in sorted(docs.items()) if d is not None)


class _Signals:
    """One store watch per group, each waited on by a thread; ``wait`` says which groups changed."""

    def __init__(self, store: Store, groups: Mapping[str, tuple[str, ...]], report: Report) -> None:
        self._store = store
        self._report = report
        self._cond = threading.Condition()
        self._fired: set[str] = set()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(
                target=self._follow, args=(name, prefixes), name=f"sdnkit-agent-{name}", daemon=True
            )
            for name, prefixes in groups.items()
        ]
        for thread in self._threads:
            thread.start()

    def _fire(self, name: str) -> None:
        with self._cond:
            self._fired.add(name)
            self._cond.notify_all()

    def _follow(self, name: str, prefixes: tuple[str, ...]) -> None:
        watch: Watch | None = None
        pause = FIRST_BACKOFF
        while not self._stop.is_set():
            try:
                if watch is None:
                    watch = self._store.watch(prefixes)
                    self._fire(name)  # what changed while no watch was open is read now
                    pause = FIRST_BACKOFF
                if watch.wait(SLICE):
                    self._fire(name)
            except SdnError as err:  # etcd unreachable when opening: try again later
                self._report(err)
                watch = None
                self._stop.wait(pause)
                pause = min(pause * 2, MAX_BACKOFF)
        if watch is not None:
            watch.close()

    def wait(self, timeout: float, stop: threading.Event) -> set[str]:
        """The groups that changed, as soon as one did; empty after ``timeout`` or on ``stop``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._fired and not stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, SLICE))
            fired, self._fired = self._fired, set()
            return fired

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)


@dataclass
class _Seen:
    """What the last look at the store found, and when to look again."""

    revision: str | None = "-"  # of the running config
    running: RunningConfig | None = None
    version: int | None = None  # the running version of the last pass
    ports: str | None = None
    firewall: tuple[tuple[str, str], ...] | None = None
    deadline: float | None = None  # unix time an unconfirmed version goes back
    last_full: float = float("-inf")
    retry_at: float | None = None
    backoff: float = FIRST_BACKOFF
    dirty: set[str] = field(default_factory=lambda: set(GROUPS))  # groups to read again

    def timeout(self, resync: float) -> float:
        now = time.monotonic()
        if self.retry_at is not None:  # after a failure, only a change wakes us before the retry
            return max(0.0, self.retry_at - now)
        until = [self.last_full + resync - now]
        if self.deadline is not None:
            until.append(self.deadline + confirm_module.GRACE - time.time())
        return max(0.0, min(until))

    def failed(self) -> None:
        self.retry_at = time.monotonic() + self.backoff
        self.backoff = min(self.backoff * 2, MAX_BACKOFF)

    def succeeded(self) -> None:
        self.retry_at, self.backoff = None, FIRST_BACKOFF


def _read(store: Store, seen: _Seen) -> None:
    """Read what the dirty groups hold (raises the store's error; ``dirty`` stays then)."""
    if "running" in seen.dirty:
        doc = store.read(node_agent.RUNNING_DOC)
        if doc is None or doc.revision != seen.revision:
            seen.running, seen.revision = node_agent.parse_running(doc)[0], doc.revision if doc else None
        pending = confirm_module.read_pending(store)
        seen.deadline = pending.deadline if pending else None
    if "ports" in seen.dirty:
        seen_ports = ports_version(store)
        seen.ports = seen_ports
    if "firewall" in seen.dirty:
        seen.firewall = watched_prefixes(store)
    seen.dirty.clear()


@dataclass
class _Done:
    """What the passes so far covered."""

    version: int | None = None
    ports: str | None = None
    firewall: tuple[tuple[str, str], ...] | None = None


def _step(store: Store, opts: AgentOptions, seen: _Seen, done: _Done, resync: float, report: Report) -> None:
    """One decision: revert an expired confirmation, run a pass, or the firewall step."""
    if seen.deadline is not None and time.time() >= seen.deadline + confirm_module.GRACE:
        back = confirm_module.revert_if_expired(store, f"the agent of node {opts.node}")
        if back is not None:
            report(f"running version {back - 1} was not confirmed in time: reverted as version {back}")
        seen.dirty.add("running")
        return
    assert seen.running is not None
    full = time.monotonic() - seen.last_full >= resync
    if full or seen.running.version != done.version or seen.ports != done.ports:
        started = time.monotonic()
        report(node_agent.run_once(store, opts, seen.running, incremental=not full))
        done.version, done.ports, done.firewall = seen.running.version, seen.ports, seen.firewall
        if full:
            seen.last_full = started
    elif seen.firewall != done.firewall:
        result = node_agent.firewall_pass(store, opts)
        done.firewall = seen.firewall
        if result is not None:
            report(result)


def run_forever(
    store: Store,
    opts: AgentOptions,
    *,
    resync: float = 300.0,
    heartbeat_ttl: float = membership.DEFAULT_TTL,
    stop: threading.Event | None = None,
    report: Report = lambda r: None,
) -> None:
    """Apply every new running version (and port change) as it appears; see the module docstring."""
    stop = stop or threading.Event()
    heartbeat = membership.Heartbeat(store, opts.node, heartbeat_ttl, report).start()
    signals = _Signals(store, GROUPS, report)
    seen, done = _Seen(), _Done()
    try:
        while not stop.is_set():
            seen.dirty |= signals.wait(seen.timeout(resync), stop)
            if stop.is_set():
                return
            if seen.retry_at is not None and time.monotonic() >= seen.retry_at:
                seen.dirty |= set(GROUPS)
            try:
                _read(store, seen)
                _step(store, opts, seen, done, resync, report)
                seen.succeeded()
            except SdnError as err:  # etcd unreachable, a half-written document: report, look again
                report(err)
                seen.failed()
    finally:
        signals.close()
        heartbeat.stop()
