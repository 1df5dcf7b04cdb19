"""Commit confirmed (``service/confirm.py``) on both stores: the record, confirm, revert exactly once."""

from __future__ import annotations

import threading
import time

import pytest

from sdnkit.errors import ConfigError, ConflictError, LockError
from sdnkit.service import SdnService
from sdnkit.service import confirm as cf
from sdnkit.store import Store
from sdnkit.store.snapshot import load_snapshot, read_running


def _service(store: Store) -> SdnService:
    svc = SdnService(store)
    svc.create("zones", {"zone": "cz", "type": "simple"})
    svc.apply({})  # version 1: the zone
    svc.update("zones", {"zone": "cz", "mtu": 1400})
    return svc


def test_apply_with_confirm_records_the_previous_version_and_refuses_another_apply(store: Store) -> None:
    svc = _service(store)
    applied = svc.apply_config({"confirm": 30}, by="test")
    assert applied.version == 2 and applied.confirm is not None
    pending = cf.read_pending(store)
    assert pending is not None and (pending.version, pending.by) == (2, "test")
    assert pending.previous.version == 1 and pending.previous.config.zones["cz"].mtu is None
    assert 25 < pending.deadline - time.time() <= 30
    with pytest.raises(LockError, match="awaits confirmation"):
        svc.apply({})
    cf.confirm(store, pending)
    assert cf.read_pending(store) is None
    svc.update("zones", {"zone": "cz", "mtu": 1300})
    assert svc.apply({}) == 3  # confirmed: applying goes on


def test_revert_makes_a_new_version_with_the_old_content_and_keeps_the_edit_pending(store: Store) -> None:
    svc = _service(store)
    applied = svc.apply_config({"confirm": 30})
    assert applied.confirm is not None
    assert cf.revert(store, applied.confirm, "node1 failed", "test") == 3
    running = read_running(store)
    assert running.version == 3 and running.config == applied.previous.config
    assert [c["id"] for c in svc.pending()] == ["cz"]  # the change is still pending
    reverted = cf.read_reverted(store)
    assert reverted is not None and (reverted.version, reverted.to, reverted.reason) == (2, 3, "node1 failed")
    with pytest.raises(ConflictError, match="reverted before it could be confirmed: node1 failed"):
        cf.confirm(store, applied.confirm)
    assert svc.apply({}) == 4  # nothing pending confirmation any more


def test_concurrent_reverts_revert_exactly_once(store: Store) -> None:
    svc = _service(store)
    applied = svc.apply_config({"confirm": 30})
    assert applied.confirm is not None
    pending = applied.confirm
    results: list[int | None] = []
    start = threading.Barrier(4)

    def revert() -> None:
        start.wait()
        results.append(cf.revert(store, pending, "late", f"t{threading.get_ident()}"))

    threads = [threading.Thread(target=revert) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results, key=str) == [3, None, None, None]
    assert read_running(store).version == 3


def test_an_expired_confirmation_is_reverted_by_whoever_looks(store: Store) -> None:
    svc = _service(store)
    applied = svc.apply_config({"confirm": 1})
    assert applied.confirm is not None
    assert cf.revert_if_expired(store, "agent", now=applied.confirm.deadline - 0.5, grace=0) is None
    assert read_running(store).version == 2  # not yet
    assert cf.revert_if_expired(store, "agent", now=applied.confirm.deadline + 6) == 3
    assert cf.revert_if_expired(store, "agent", now=applied.confirm.deadline + 7) is None  # done already


def test_an_apply_after_a_missed_deadline_reverts_first_and_refuses(store: Store) -> None:
    svc = _service(store)
    applied = svc.apply_config({"confirm": 1})
    assert applied.confirm is not None
    while time.time() < applied.confirm.deadline:
        time.sleep(0.05)
    with pytest.raises(LockError, match="not confirmed in time"):
        svc.apply({})
    assert read_running(store).version == 3 and cf.read_pending(store) is None
    assert load_snapshot(store).running.config == applied.previous.config


@pytest.mark.parametrize("value", [0, 3601, "x"])
def test_confirm_out_of_range_is_refused_and_changes_nothing(store: Store, value: object) -> None:
    svc = _service(store)
    with pytest.raises(ConfigError, match="confirm"):
        svc.apply({"confirm": value})
    assert read_running(store).version == 1 and cf.read_pending(store) is None
