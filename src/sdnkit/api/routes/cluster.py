"""``/cluster/sdn``: index, apply (PUT), rollback, the global lock, dry-run (spec §1.5-1.7, §4.1).

Apply is synchronous in sdnkit: when ``PUT /cluster/sdn`` answers, the new running version is
committed (node agents then realize it). It still returns a UPID, as PVE does, so that clients
which wait for the task (``/nodes/{node}/tasks/{upid}/status``) work unchanged; that task is
always finished and successful.
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
from sdnkit.config.formats import NODE_NAME

__all__ = ["local_node", "make_upid", "register"]

RELEASE_LOCK = Param("release-lock", "Release the lock token after the operation (default 1).", BOOL)
LOCKED_SPEC = ParamSpec((LOCK_TOKEN, RELEASE_LOCK))  # apply and rollback: the lock's token, kept or released


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
    call.perms.check("/sdn", Privilege.SDN_ALLOCATE)
    version = call.service.apply(call.params)
    return make_upid("reloadnetworkall", str(version), call.caller.ugid)


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
        spec=LOCKED_SPEC,
        summary="Apply the pending SDN configuration (synchronous here; returns a finished task's UPID).",
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
