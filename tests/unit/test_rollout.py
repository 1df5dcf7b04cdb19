"""Following a new version (``service/rollout.py``) on both stores, with records as agents write them.

The agents here are threads that write what ``sdn agent`` writes (agent/status.py records, a
heartbeat): the waiting logic is checked against the real store; real agents on real nodes are
in tests/kernel/test_cluster_apply.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from sdnkit.agent import membership
from sdnkit.agent import status as node_status
from sdnkit.agent.membership import Heartbeat, Registration
from sdnkit.agent.status import NodeStatus, ObjectStatus, Status
from sdnkit.service import SdnService, rollout
from sdnkit.store import Store


@pytest.fixture
def beats(store: Store) -> Iterator[dict[str, Heartbeat]]:
    made: dict[str, Heartbeat] = {}
    yield made
    for beat in made.values():
        beat.stop()


def _member(store: Store, beats: dict[str, Heartbeat], node: str, *, alive: bool = True) -> None:
    membership.register(store, Registration(node=node, address=f"192.0.2.{len(beats) + 1}"))
    if alive:
        beats[node] = Heartbeat(store, node, ttl=30).start()


def _report(
    store: Store, node: str, version: int, error: str | None = None, delay: float = 0.2
) -> threading.Thread:
    """What a node's agent writes after its pass, ``delay`` seconds from now."""

    def write() -> None:
        time.sleep(delay)
        zone = ObjectStatus(
            status=Status.ERROR if error else Status.AVAILABLE, message=error, zone_type="simple"
        )
        record = NodeStatus(node=node, version=version, applied=version, time=time.time(), zones={"rz": zone})
        node_status.write(store, record)

    thread = threading.Thread(target=write)
    thread.start()
    return thread


def test_every_node_answers_applied_error_or_nothing(store: Store, beats: dict[str, Heartbeat]) -> None:
    for node in ("n1", "n2", "n3", "n4"):
        _member(store, beats, node, alive=node != "n4")
    svc = SdnService(store)
    svc.create("zones", {"zone": "rz", "type": "simple"})
    applied = svc.apply_config({})
    assert rollout.targets(store, applied) == ("n1", "n2", "n3", "n4")
    writers = [_report(store, "n1", applied.version), _report(store, "n2", applied.version, "bridge missing")]
    lines: list[str] = []
    outcome = rollout.follow(store, applied, timeout=3, emit=lines.append, by="test")
    for w in writers:
        w.join()
    states = {r.node: (r.state, r.message) for r in outcome.nodes}
    assert not outcome.ok
    assert states["n1"] == (rollout.State.APPLIED, "applied version 1")
    assert states["n2"] == (rollout.State.ERROR, 'error: zone "rz": bridge missing')
    assert states["n3"][0] is rollout.State.NO_ANSWER and "before the timeout" in states["n3"][1]
    assert states["n4"][0] is rollout.State.NO_ANSWER and "node down" in states["n4"][1]
    assert lines[0] == "running version 1 committed"
    assert sorted(lines[1:]) == sorted(r.line() for r in outcome.nodes)  # one line per node event
    assert "n2: error" in outcome.summary() and "n4: no answer" in outcome.summary()


def test_a_zone_on_named_nodes_waits_for_those_only(store: Store, beats: dict[str, Heartbeat]) -> None:
    for node in ("n1", "n2"):
        _member(store, beats, node)
    svc = SdnService(store)
    svc.create("zones", {"zone": "rz", "type": "simple", "nodes": "n2,n9"})
    applied = svc.apply_config({})
    writer = _report(store, "n2", applied.version)
    outcome = rollout.follow(store, applied, timeout=30, emit=lambda line: None, by="test")
    writer.join()
    states = {r.node: r for r in outcome.nodes}
    assert sorted(states) == ["n2", "n9"]  # n1 does not run the zone
    assert states["n2"].state is rollout.State.APPLIED
    assert "not a registered node" in states["n9"].message  # answered at once, not after 30 s


def test_with_nothing_to_wait_for_it_is_done_at_once(store: Store) -> None:
    svc = SdnService(store)
    svc.create("zones", {"zone": "rz", "type": "simple"})
    lines: list[str] = []
    outcome = rollout.follow(store, svc.apply_config({}), timeout=30, emit=lines.append, by="test")
    assert outcome.ok and outcome.nodes == ()
    assert lines == [
        "running version 1 committed",
        "no registered node runs a changed zone: nothing to wait for",
    ]
