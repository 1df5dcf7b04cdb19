"""``GET /cluster/resources``: the cluster's resources as PVE lists them, for the kinds sdnkit has.

``type=sdn``: one entry per node and zone, ``{id: "sdn/<node>/<zone>", sdn, node, type: "sdn",
status, zone-type}``, from the node agents' status records (``api/nodestatus.py``; status
``available``, ``pending`` or ``error``), only for zones the caller may audit (PVE: SDN.Audit on
``/sdn/zones/<zone>``). ``type=node``: ``{id: "node/<node>", node, type: "node", status}`` for the
nodes that reported (``online``) and this one, with Sys.Audit on ``/nodes/<node>``. Without
``type``: both. ``vm`` and ``storage`` exist in PVE's enumeration and answer an empty list here
(sdnkit manages no guests or storage).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sdnkit.api.endpoint import Call, add
from sdnkit.api.nodestatus import known_nodes, node_view
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


def _nodes(call: Call, reported: list[str]) -> list[dict[str, Any]]:
    names = sorted({local_node(), *reported})
    return [
        {"id": f"node/{n}", "node": n, "type": "node", "status": "online" if n in reported else "unknown"}
        for n in names
        if call.perms.has(f"/nodes/{n}", Privilege.SYS_AUDIT)
    ]


def _resources(call: Call) -> Any:
    wanted = call.params.get("type")
    reported = known_nodes(call.service.store)
    out: list[dict[str, Any]] = []
    if wanted in (None, "node"):
        out += _nodes(call, reported)
    if wanted in (None, "sdn"):
        out += _sdn(call, reported)
    return out


def register(router: APIRouter) -> None:
    add(router, "GET", "/cluster/resources", _resources, spec=SPEC, summary="Cluster resources (sdn, node).")
