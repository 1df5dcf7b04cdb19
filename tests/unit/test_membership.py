"""Node registrations and heartbeats (``agent/membership.py``), on both stores."""

from __future__ import annotations

import time

from sdnkit.agent import membership
from sdnkit.agent.membership import Heartbeat, Registration
from sdnkit.store import Store


def test_a_heartbeat_makes_a_node_up_and_stopping_it_down(store: Store) -> None:
    assert membership.members(store) == {}
    assert membership.register(store, Registration(node="n1", address="192.0.2.1", addresses=("192.0.2.1",)))
    assert not membership.register(
        store, Registration(node="n1", address="192.0.2.1", addresses=("192.0.2.1",))
    )
    found = membership.members(store)["n1"]
    assert not found.alive and found.state == "down" and found.age is None  # registered, never beat
    assert found.registration is not None and found.registration.address == "192.0.2.1"

    beat = Heartbeat(store, "n1", ttl=30).start()
    try:
        up = membership.members(store)["n1"]
        assert up.alive and up.state == "up" and up.age is not None and up.age < 30
    finally:
        beat.stop()
    assert not membership.members(store)["n1"].alive  # a clean stop deletes the heartbeat at once


def test_a_heartbeat_older_than_twice_its_ttl_counts_as_gone(store: Store) -> None:
    """What the local store relies on (it cannot expire a document): the timestamp in the data."""
    beat = Heartbeat(store, "n2", ttl=10).start()
    try:
        now = time.time()
        assert membership.members(store, now + 15)["n2"].alive  # late, within the margin
        late = membership.members(store, now + 25)["n2"]
        assert not late.alive and late.age is not None and late.age >= 25
    finally:
        beat.stop()


def test_forget_removes_registration_heartbeat_and_status(store: Store) -> None:
    from sdnkit.agent import status

    membership.register(store, Registration(node="n3"))
    store.commit({status.document("n3"): b'{"node": "n3", "version": 1, "applied": 1, "time": 0}'})
    assert membership.forget(store, "n3")
    assert "n3" not in membership.members(store) and list(status.read_all(store)) == []
    assert not membership.forget(store, "n3")
