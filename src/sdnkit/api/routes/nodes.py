"""``/nodes``: node list, per-node SDN status (spec §4.2) and the status of apply tasks.

``/nodes/{node}/sdn/zones`` is filtered to the zones the caller may audit (PVE does not filter:
§10.15). Status comes from the agents' records (``api/nodestatus.py``). The live-kernel views of
PVE (``bridges``, ``ip-vrf``, ``mac-vrf``, fabric routes) are not served; see ``docs/api.md``.

``/nodes`` lists this node and every node that registered or reported, with PVE's status
(``online`` while its agent's heartbeat is there, ``offline`` when it is gone, ``unknown`` for a
node that only reported); a down node's zones and vnets are ``unknown`` (``api/nodestatus.py``).

``/nodes/{node}/tasks/{upid}/status`` and ``/log`` answer for the UPIDs that ``PUT /cluster/sdn``
returns, from the task documents in the store (``api/tasks.py``), on any API server.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter

from sdnkit.api.endpoint import Call, add
from sdnkit.api.nodestatus import node_states, node_view
from sdnkit.api.params import NODE, Param, ParamSpec, id_param
from sdnkit.api.roles import Privilege
from sdnkit.api.routes.cluster import local_node
from sdnkit.api.tasks import Task, read_task
from sdnkit.config.formats import Integer, Text
from sdnkit.config.schema import Kind
from sdnkit.errors import NotFoundError

READ = (Privilege.SDN_AUDIT, Privilege.SDN_ALLOCATE)
UPID = re.compile(
    r"UPID:(?P<node>[a-zA-Z0-9-]+):(?P<pid>[0-9A-F]{8}):(?P<pstart>[0-9A-F]{8,9}):(?P<starttime>[0-9A-F]{8}):"
    r"(?P<type>[^:\s]+):(?P<id>[^:\s]*):(?P<user>[^:\s]+):"
)
LOG_SPEC = ParamSpec(
    (
        Param("start", "The first line to return (0-based).", Integer(0, None)),
        Param("limit", "How many lines to return (default 50).", Integer(0, None)),
    )
)
UPID_PARAM = Param(
    "upid",
    "The task's unique ID.",
    Text(r"UPID:[a-zA-Z0-9-]+:[0-9A-F]{8}:[0-9A-F]{8,9}:[0-9A-F]{8}:[^:\s]+:[^:\s]*:[^:\s]+:", 512, "UPID"),
)


def _nodes(call: Call) -> Any:
    states = {local_node(): "online", **node_states(call.service.store)}
    return [{"node": n, "type": "node", "status": s} for n, s in sorted(states.items())]


def _node_index(call: Call) -> Any:
    return [{"name": "sdn"}, {"name": "tasks"}]


def _sdn_index(call: Call) -> Any:
    return [{"subdir": "vnets"}, {"subdir": "zones"}]


def _zones(call: Call) -> Any:
    view = node_view(call.service.store, call.path["node"])
    return [z for name, z in view.zones.items() if call.perms.has(f"/sdn/zones/{name}", Privilege.SDN_AUDIT)]


def _zone(call: Call) -> dict[str, Any]:
    zone = call.path["zone"]
    call.perms.check(f"/sdn/zones/{zone}", Privilege.SDN_AUDIT)
    view = node_view(call.service.store, call.path["node"])
    if zone not in view.zones:
        raise NotFoundError(f'zone "{zone}" is not running on node "{call.path["node"]}"', key="zone")
    return view.zones[zone]


def _zone_index(call: Call) -> Any:
    _zone(call)
    return [{"subdir": "content"}]


def _zone_content(call: Call) -> Any:
    zone = _zone(call)["zone"]
    view = node_view(call.service.store, call.path["node"])
    return [
        {k: v for k, v in vnet.items() if k != "zone"} for vnet in view.vnets.values() if vnet["zone"] == zone
    ]


def _vnets(call: Call) -> Any:
    view = node_view(call.service.store, call.path["node"])
    return [
        v
        for name, v in view.vnets.items()
        if call.perms.has(f"/sdn/zones/{v['zone']}/{name}", *READ, any_of=True)
    ]


def _vnet_index(call: Call) -> Any:
    vnet = call.path["vnet"]
    view = node_view(call.service.store, call.path["node"])
    if vnet not in view.vnets:
        raise NotFoundError(f'vnet "{vnet}" is not running on node "{call.path["node"]}"', key="vnet")
    call.perms.check(f"/sdn/zones/{view.vnets[vnet]['zone']}/{vnet}", Privilege.SDN_AUDIT)
    return []  # PVE lists "mac-vrf" (EVPN routes from FRR), which sdnkit does not serve


def _task(call: Call) -> Task:
    match = UPID.fullmatch(call.path["upid"])
    assert match is not None  # the path parameter's format guarantees it
    if match["user"] != call.caller.ugid:
        call.perms.check(f"/nodes/{call.path['node']}", Privilege.SYS_AUDIT)
    missing = NotFoundError(f"no such task {call.path['upid']!r} on node {call.path['node']!r}", key="upid")
    if match["node"] != call.path["node"] or match["type"] != "reloadnetworkall":
        raise missing
    task = read_task(call.service.store, call.path["upid"])
    if task is None:
        raise missing
    return task


def _task_status(call: Call) -> Any:
    return _task(call).status_json()


def _task_log(call: Call) -> Any:
    """PVE's shape: ``[{n, t}]`` (``n``: line number from 1), from ``start`` (0), ``limit`` (50) lines."""
    lines = _task(call).lines
    start, limit = call.params.get("start", 0), call.params.get("limit", 50)
    return [{"n": n, "t": text} for n, text in enumerate(lines, 1)][start : start + limit]


def register(router: APIRouter) -> None:
    node = {"node": NODE}
    zone = {**node, "zone": id_param(Kind.ZONES)}
    vnet = {**node, "vnet": id_param(Kind.VNETS)}
    task = {**node, "upid": UPID_PARAM}
    endpoints = (  # (path, handler, path parameters, summary): every one a GET
        ("/nodes", _nodes, {}, "Cluster nodes (the local one and those that reported status)."),
        ("/nodes/{node}", _node_index, node, "Node index."),
        ("/nodes/{node}/sdn", _sdn_index, node, "SDN index of a node."),
        ("/nodes/{node}/sdn/zones", _zones, node, "Status of the zones on a node (filtered by SDN.Audit)."),
        ("/nodes/{node}/sdn/zones/{zone}", _zone_index, zone, "Zone index."),
        (
            "/nodes/{node}/sdn/zones/{zone}/content",
            _zone_content,
            zone,
            "Status of the vnets of a zone on a node.",
        ),
        ("/nodes/{node}/sdn/vnets", _vnets, node, "Status of the vnets on a node (sdnkit)."),
        ("/nodes/{node}/sdn/vnets/{vnet}", _vnet_index, vnet, "Vnet index."),
        (
            "/nodes/{node}/tasks/{upid}/status",
            _task_status,
            task,
            "Status of an apply task (running until every node applied, failed or did not answer).",
        ),
        ("/nodes/{node}/tasks/{upid}/log", _task_log, task, "Log of an apply task."),
    )
    for path, handler, path_params, summary in endpoints:
        spec = LOG_SPEC if handler is _task_log else None
        add(router, "GET", path, handler, spec=spec, path_params=path_params, summary=summary)
