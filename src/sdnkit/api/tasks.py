"""API tasks: the progress of ``PUT /cluster/sdn`` kept as PVE-shaped task documents in the store.

``PUT /cluster/sdn`` answers a UPID at once; a thread of the API server then follows the nodes
(``service/rollout.py``) and writes every event into the task's document
``tasks/<starttime>-<hash of the UPID>.json``::

    {"upid": ..., "node", "type", "id", "user", "pid", "pstart", "starttime",
     "status": "running" | "stopped", "exitstatus": "OK" | "<error>" | null, "endtime",
     "deadline": <unix time after which a running task is given up>, "lines": ["...", ...]}

Since the document is in the store, ``/nodes/{node}/tasks/{upid}/status`` and ``/log`` answer
on every API server of the cluster. The log ends with ``TASK OK`` or ``TASK ERROR: <message>``,
as PVE's does. A task whose server died while it ran stays ``running`` until its ``deadline``
passed; from then on it reads as stopped with PVE's ``unexpected status``. Only the newest
``KEEP`` task documents are kept (older ones are deleted when a task starts).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from sdnkit.errors import SdnError
from sdnkit.store.base import ABSENT, Store

__all__ = ["KEEP", "TASK_PREFIX", "Task", "TaskLog", "read_task", "run_task"]

log = logging.getLogger(__name__)

TASK_PREFIX = "tasks/"
KEEP = 50
MAX_LINES = 2000
UNEXPECTED = "unexpected status"  # PVE's exit status of a task whose worker vanished
GIVE_UP_AFTER = 60.0  # seconds past its deadline a running task is declared dead


def task_doc(upid: str) -> str:
    starttime = upid.split(":")[4] if upid.count(":") >= 5 else "0"
    digest = hashlib.sha1(upid.encode()).hexdigest()[:20]  # a name, not a security use
    return f"{TASK_PREFIX}{starttime}-{digest}.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    upid: str
    node: str
    type: str
    id: str
    user: str
    pid: int
    pstart: int
    starttime: int
    deadline: float
    status: str = "running"
    exitstatus: str | None = None
    endtime: int | None = None
    lines: tuple[str, ...] = field(default=())

    @classmethod
    def from_upid(cls, upid: str, deadline: float) -> Task:
        _, node, pid, pstart, start, kind, ident, user, _ = upid.split(":")
        return cls(
            upid=upid, node=node, type=kind, id=ident, user=user, pid=int(pid, 16), pstart=int(pstart, 16),
            starttime=int(start, 16), deadline=deadline,
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            "upid": self.upid, "node": self.node, "type": self.type, "id": self.id, "user": self.user,
            "pid": self.pid, "pstart": self.pstart, "starttime": self.starttime, "deadline": self.deadline,
            "status": self.status, "exitstatus": self.exitstatus, "endtime": self.endtime,
            "lines": list(self.lines),
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Task:
        fields = {k: data[k] for k in ("upid", "node", "type", "id", "user", "pid", "pstart", "starttime")}
        return cls(
            **fields, deadline=float(data["deadline"]), status=str(data["status"]),
            exitstatus=data.get("exitstatus"), endtime=data.get("endtime"),
            lines=tuple(data.get("lines") or ()),
        )  # fmt: skip

    def as_seen(self, now: float) -> Task:
        """The task as a reader reports it: a running task long past its deadline is dead."""
        if self.status == "running" and now > self.deadline + GIVE_UP_AFTER:
            lines = (*self.lines, f"TASK ERROR: {UNEXPECTED}")
            return replace(self, status="stopped", exitstatus=UNEXPECTED, lines=lines, endtime=int(now))
        return self

    def status_json(self) -> dict[str, Any]:
        """PVE's ``/nodes/{node}/tasks/{upid}/status``."""
        out: dict[str, Any] = {
            "upid": self.upid, "node": self.node, "type": self.type, "id": self.id, "user": self.user,
            "pid": self.pid, "pstart": self.pstart, "starttime": self.starttime, "status": self.status,
        }  # fmt: skip
        if self.status == "stopped":
            out["exitstatus"] = self.exitstatus
        return out


def read_task(store: Store, upid: str) -> Task | None:
    doc = store.read(task_doc(upid))
    if doc is None:
        return None
    task = Task.from_json(json.loads(doc.data))
    return task.as_seen(time.time()) if task.upid == upid else None


class TaskLog:
    """The document of one running task, written only by the thread that runs it."""

    def __init__(self, store: Store, task: Task) -> None:
        self._store = store
        self.task = task
        self._name = task_doc(task.upid)
        self._revision = ABSENT
        self._write()
        _prune(store)

    def _write(self) -> None:
        data = json.dumps(self.task.to_json(), sort_keys=True).encode()
        try:
            self._revision = self._store.commit({self._name: data}, expect={self._name: self._revision})[
                self._name
            ]
        except SdnError as err:  # kept in memory: the next line or the end writes it all
            log.warning("task %s: cannot write its log: %s", self.task.upid, err)
            self._revision = (self._store.read(self._name) or _Absent).revision

    def line(self, text: str) -> None:
        lines = (*self.task.lines, *text.splitlines())[-MAX_LINES:]
        self.task = replace(self.task, lines=lines)
        self._write()

    def finish(self, error: str | None) -> None:
        end = "TASK OK" if error is None else f"TASK ERROR: {error}"
        lines = (*self.task.lines, end)[-MAX_LINES:]
        self.task = replace(
            self.task, status="stopped", exitstatus="OK" if error is None else error,
            endtime=int(time.time()), lines=lines,
        )  # fmt: skip
        self._write()


class _Absent:
    revision = ABSENT


def _prune(store: Store) -> None:
    """Delete all but the newest ``KEEP`` task documents (names sort by start time)."""
    names = list(store.names(TASK_PREFIX))
    old = names[:-KEEP] if len(names) > KEEP else []
    if old:
        try:
            store.commit(dict.fromkeys(old[:100]))
        except SdnError as err:
            log.warning("cannot prune old task documents: %s", err)


def run_task(
    store: Store, task: Task, work: Callable[[Callable[[str], None]], str | None], *, background: bool = True
) -> TaskLog:
    """Run ``work(emit)``, in a thread when ``background``; its lines and its answer (None: OK,
    else the error) go into the task's document, which exists when this returns."""
    log_ = TaskLog(store, task)

    def run() -> None:
        try:
            error = work(log_.line)
        except SdnError as err:
            error = str(err)
        except Exception as err:  # a bug: the task must still end
            log.exception("task %s failed", task.upid)
            error = f"internal error: {err!r}"
        log_.finish(error)

    if background:
        threading.Thread(target=run, name=f"sdnkit-task-{task.id}", daemon=True).start()
    else:
        run()
    return log_
