"""``/cluster/sdn``: index, apply (PUT), rollback, the global lock, dry-run (spec §1.5-1.7, §4.1).

``PUT /cluster/sdn`` commits the new running version before it answers, and answers a UPID at
once, as PVE does. The task then follows the node agents (``service/rollout.py``) in a thread
of this server: one log line per node event (``node1: applied version 5``, ``node3: error: ...``,
``node2: no answer: ...``), then ``TASK OK`` or ``TASK ERROR: ...``, kept in the store
(``api/tasks.py``) so that ``/nodes/{node}/tasks/{upid}/status`` and ``/log`` answer on every
API server. ``timeout`` (seconds, default 120) bounds the wait; ``confirm=S`` keeps the version
only if every node applied it within S seconds and otherwise puts the previous content back
(``service/confirm.py``). With no registered node to wait for, the task has ended when the
request answers.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from fastapi import APIRouter

from sdnkit.api.endpoint import Call, add
from sdnkit.api.params import BOOL, LOCK_TOKEN, NODE, Param, ParamSpec
from sdnkit.api.roles import Privilege
from sdnkit.config.formats import NODE_NAME, Integer

__all__ = ["local_node", "make_upid", "register"]

RELEASE_LOCK = Param("release-lock", "Release the lock token after the operation (default 1).", BOOL)
LOCKED_SPEC = ParamSpec((LOCK_TOKEN, RELEASE_LOCK))  # apply and rollback: the lock's token, kept or released
APPLY_SPEC = ParamSpec(
    (
        LOCK_TOKEN,
        RELEASE_LOCK,
        Param(
            "confirm",
            "Keep the new version only if every node applied it within this many seconds; otherwise "
            "the previous configuration comes back as a new version (sdnkit).",
            Integer(1, 3600),
        ),
        Param("timeout", "Seconds the task waits for the nodes (default 120; sdnkit).", Integer(1, 86400)),
    )
)


def local_node() -> str:
    """This host's node name (the short host name, as PVE uses it)."""
    name = socket.gethostname().split(".")[0]
    return name if NODE_NAME.fullmatch(name) else "localhost"


def make_upid(kind: str, ident: str, user: str) -> str:
    """``UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>:`` (PVE's task ID shape)."""
    now = int(time.time())
    return f"UPID:{local_node()}:{os.getpid():08X}:{0:08X}:{now:08X}:{kind}:{ident}:{user}:"


def _index(call: Call) -> Any:
    call.perms.check("/sdn", Privilege.SDN_AUDIT)
    return call.service.index()


def _apply(call: Call) -> Any:
    from sdnkit.api.tasks import Task, run_task
    from sdnkit.service import rollout

    call.perms.check("/sdn", Privilege.SDN_ALLOCATE)
    params = dict(call.params)
    timeout = float(params.pop("timeout", None) or rollout.DEFAULT_TIMEOUT)
    by = f"PUT /cluster/sdn by {call.caller.ugid} on {local_node()}"
    store = call.service.store
    applied = call.service.apply_config(params, by=by)
    upid = make_upid("reloadnetworkall", str(applied.version), call.caller.ugid)
    window = applied.confirm.deadline - time.time() if applied.confirm else 0.0
    task = Task.from_upid(upid, deadline=time.time() + window + 2 * timeout)

    def work(emit: Any) -> str | None:
        outcome = rollout.follow(store, applied, timeout=timeout, emit=emit, by=f"{by} (task {upid})")
        return None if outcome.ok else outcome.summary()

    run_task(store, task, work, background=bool(rollout.targets(store, applied)))
    return upid


def _rollback(call: Call) -> Any:
    call.perms.check("/sdn", Privilege.SDN_ALLOCATE)
    call.service.rollback(call.params)


def _lock(call: Call) -> Any:
    call.perms.check("/sdn", Privilege.SDN_ALLOCATE)
    return call.service.lock(call.params)


def _unlock(call: Call) -> Any:
    call.perms.check("/sdn", Privilege.SDN_ALLOCATE)
    call.service.unlock(call.params)


def _dry_run(call: Call) -> Any:
    node = call.params.get("node")
    if node:
        call.perms.check(f"/nodes/{node}", Privilege.SYS_AUDIT)
    else:
        call.perms.check("/sdn", Privilege.SDN_AUDIT)
    return call.service.dry_run(call.params)


def register(router: APIRouter) -> None:
    base = "/cluster/sdn"
    add(router, "GET", base, _index, summary="Directory index (SDN.Audit on /sdn).")
    add(
        router,
        "PUT",
        base,
        _apply,
        spec=APPLY_SPEC,
        summary="Apply the pending SDN configuration; its task (UPID) follows the nodes until they apply it.",
    )
    add(
        router,
        "POST",
        f"{base}/rollback",
        _rollback,
        spec=LOCKED_SPEC,
        summary="Discard pending changes: the running configuration becomes the pending one again.",
    )
    add(
        router,
        "POST",
        f"{base}/lock",
        _lock,
        spec=ParamSpec((Param("allow-pending", "Lock even with pending changes (default 0).", BOOL),)),
        summary="Take the global SDN lock; returns the lock token every change must then carry.",
    )
    add(
        router,
        "DELETE",
        f"{base}/lock",
        _unlock,
        spec=ParamSpec((LOCK_TOKEN, Param("force", "Release the lock without its token.", BOOL))),
        summary="Release the global SDN lock.",
    )
    add(
        router,
        "GET",
        f"{base}/dry-run",
        _dry_run,
        spec=ParamSpec((NODE,)),
        summary="What apply would change: object changes and, for a node, the rendered diffs.",
    )
