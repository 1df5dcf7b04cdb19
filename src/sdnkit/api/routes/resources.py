"""``GET /cluster/resources``: the cluster's resources as PVE lists them, for the kinds sdnkit has.

``type=sdn``: one entry per node and zone, ``{id: "sdn/<node>/<zone>", sdn, node, type: "sdn",
status, zone-type}``, from the node agents' status records (``api/nodestatus.py``; status
``available``, ``pending`` or ``error``), only for zones the caller may audit (PVE: SDN.Audit on
``/sdn/zones/<zone>``; a down node's zones are ``unknown``). ``type=node``: ``{id: "node/<node>",
node, type: "node", status}`` for this node and every node that registered or reported
(``online``, ``offline`` when its heartbeat is gone, ``unknown``: it only reported), with
Sys.Audit on ``/nodes/<node>``. Without
``type``: both. ``vm`` and ``storage`` exist in PVE's enumeration and answer an empty list here
(sdnkit manages no guests or storage).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sdnkit.api.endpoint import Call, add
from sdnkit.api.nodestatus import node_states, node_view
from sdnkit.api.params import Param, ParamSpec
from sdnkit.api.roles import Privilege
from sdnkit.api.routes.cluster import local_node
from sdnkit.config.formats import Enum

__all__ = ["register"]

TYPES = ("vm", "storage", "node", "sdn")
SPEC = ParamSpec((Param("type", "Only resources of this type.", Enum(TYPES)),))


def _sdn(call: Call, nodes: list[str]) -> list[dict[str, Any]]:
    out = []
    for node in nodes:
        for zone, entry in sorted(node_view(call.service.store, node).zones.items()):
            if not call.perms.has(f"/sdn/zones/{zone}", Privilege.SDN_AUDIT):
                continue
            out.append(
                {
                    "id": f"sdn/{node}/{zone}",
                    "sdn": zone,
                    "node": node,
                    "type": "sdn",
                    "status": entry["status"],
                    "zone-type": entry.get("type"),
                }
            )
    return out


def _nodes(call: Call, states: dict[str, str]) -> list[dict[str, Any]]:
    states = {local_node(): "online", **states}
    return [
        {"id": f"node/{n}", "node": n, "type": "node", "status": s}
        for n, s in sorted(states.items())
        if call.perms.has(f"/nodes/{n}", Privilege.SYS_AUDIT)
    ]


def _resources(call: Call) -> Any:
    wanted = call.params.get("type")
    states = node_states(call.service.store)
    out: list[dict[str, Any]] = []
    if wanted in (None, "node"):
        out += _nodes(call, states)
    if wanted in (None, "sdn"):
        out += _sdn(call, sorted(states))
    return out


def register(router: APIRouter) -> None:
    add(router, "GET", "/cluster/resources", _resources, spec=SPEC, summary="Cluster resources (sdn, node).")
