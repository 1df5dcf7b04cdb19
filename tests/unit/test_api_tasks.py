"""The API's task documents (``api/tasks.py``) on both stores: lines, the end, a dead task, pruning."""

from __future__ import annotations

import time

from sdnkit.api import tasks
from sdnkit.api.tasks import Task, TaskLog, read_task, run_task
from sdnkit.store import Store


def _upid(start: int, ident: str = "7") -> str:
    return f"UPID:nodea:0000ABCD:00000000:{start:08X}:reloadnetworkall:{ident}:root@pam:"


def test_a_task_keeps_its_lines_and_ends_as_pve_says(store: Store) -> None:
    upid = _upid(int(time.time()))
    log = TaskLog(store, Task.from_upid(upid, deadline=time.time() + 60))
    running = read_task(store, upid)
    assert running is not None and running.status_json()["status"] == "running"
    assert "exitstatus" not in running.status_json()
    log.line("node1: applied version 7")
    log.finish("node2: no answer: node down")
    done = read_task(store, upid)
    assert done is not None
    status = done.status_json()
    assert (status["status"], status["exitstatus"], status["id"], status["node"]) == (
        "stopped", "node2: no answer: node down", "7", "nodea",
    )  # fmt: skip
    assert (status["pid"], status["starttime"], status["user"]) == (
        0xABCD,
        int(upid.split(":")[4], 16),
        "root@pam",
    )
    assert done.lines == ("node1: applied version 7", "TASK ERROR: node2: no answer: node down")
    assert read_task(store, _upid(int(time.time()), "8")) is None


def test_a_task_whose_server_died_reads_as_stopped_after_its_deadline(store: Store) -> None:
    upid = _upid(int(time.time()) - 1000)
    TaskLog(store, Task.from_upid(upid, deadline=time.time() - tasks.GIVE_UP_AFTER - 1))
    dead = read_task(store, upid)
    assert dead is not None and (dead.status, dead.exitstatus) == ("stopped", tasks.UNEXPECTED)
    assert dead.lines[-1] == f"TASK ERROR: {tasks.UNEXPECTED}"


def test_work_in_the_background_and_inline(store: Store) -> None:
    upid = _upid(int(time.time()), "9")
    run_task(
        store,
        Task.from_upid(upid, deadline=time.time() + 60),
        lambda emit: emit("a") or None,
        background=False,
    )
    done = read_task(store, upid)
    assert done is not None and done.lines == ("a", "TASK OK") and done.exitstatus == "OK"

    def fails(emit: object) -> str | None:
        raise RuntimeError("boom")

    upid = _upid(int(time.time()), "10")
    run_task(store, Task.from_upid(upid, deadline=time.time() + 60), fails)
    deadline = time.monotonic() + 30
    while (t := read_task(store, upid)) is not None and t.status != "stopped" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert t is not None and t.exitstatus is not None and "internal error" in t.exitstatus  # it still ends


def test_only_the_newest_tasks_are_kept(store: Store) -> None:
    start = int(time.time()) - 10_000
    for i in range(tasks.KEEP + 3):
        TaskLog(store, Task.from_upid(_upid(start + i), deadline=time.time() + 60))
    names = list(store.names(tasks.TASK_PREFIX))
    assert len(names) == tasks.KEEP
    assert (
        read_task(store, _upid(start)) is None and read_task(store, _upid(start + tasks.KEEP + 2)) is not None
    )
