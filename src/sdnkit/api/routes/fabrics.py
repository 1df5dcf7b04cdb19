"""``/cluster/sdn/fabrics``: underlay fabrics and their nodes (PVE 9, spec §4.1).

* ``/fabrics/fabric[/{id}]``: fabrics, guarded on ``/sdn/fabrics/<id>`` (create: ``/sdn/fabrics``).
  Deleting a fabric also needs ``Sys.Modify`` on every member node, as in PVE.
* ``/fabrics/node[/{fabric_id}[/{node_id}]]``: a node's membership; seeing one needs Audit or
  Allocate on the fabric and ``Sys.Audit`` or ``Sys.Modify`` on ``/nodes/<node>``; changing one
  needs Allocate on the fabric and ``Sys.Modify`` on the node.
* ``/fabrics/all``: both lists at once, filtered the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter

from sdnkit.api.endpoint import Call, add
from sdnkit.api.params import (
    DELETE,
    DIGEST,
    LOCK_TOKEN,
    PENDING,
    RUNNING,
    Param,
    ParamSpec,
    option_params,
    type_options,
)
from sdnkit.api.roles import Privilege
from sdnkit.api.routes.crud import READ, Acl, Collection, audit_visible, register_collection
from sdnkit.config.formats import NODE, Enum
from sdnkit.config.schema import REF_FABRIC, Kind

FABRIC_ID = Param("id", "The fabric ID (2-8 letters, digits and -).", REF_FABRIC, required=True)
FABRIC_REF = Param("fabric_id", "The fabric ID.", REF_FABRIC, required=True)
NODE_ID = Param("node_id", "The node name.", NODE, required=True)
PROTOCOL = Param("protocol", "The fabric's routing protocol.", Enum(("openfabric", "ospf")))
VIEW = ParamSpec((RUNNING, PENDING))
NODE_AUDIT = (Privilege.SYS_AUDIT, Privilege.SYS_MODIFY)


def _fabric_path(fabric: str) -> str:
    return f"/sdn/fabrics/{fabric}"


def _node_visible(call: Call, obj: Mapping[str, Any]) -> bool:
    return call.perms.has(_fabric_path(obj["fabric_id"]), *READ, any_of=True) and call.perms.has(
        f"/nodes/{obj['node_id']}", *NODE_AUDIT, any_of=True
    )


def _fabric_extra(call: Call, method: str) -> None:
    if method != "DELETE":
        return
    members = call.service.list("fabric-nodes", {"fabric_id": call.path["id"]})
    for member in members:
        call.perms.check(f"/nodes/{member['node_id']}", Privilege.SYS_MODIFY)


def _node_extra(call: Call, method: str) -> None:
    node = call.path.get("node_id") or call.params.get("node_id")
    if method == "GET":
        call.perms.check_any(f"/nodes/{node}", NODE_AUDIT)
    else:
        call.perms.check(f"/nodes/{node}", Privilege.SYS_MODIFY)


FABRIC_OPTIONS = option_params(Kind.FABRICS, type_options(Kind.FABRICS, "_fabric"))
NODE_OPTIONS = option_params(Kind.FABRICS, type_options(Kind.FABRICS, "_node"))

FABRICS = Collection(
    name="fabrics",
    base="/cluster/sdn/fabrics/fabric",
    id_name="id",
    id_param=FABRIC_ID,
    acl=Acl(
        visible=audit_visible(lambda obj: _fabric_path(obj["id"])),
        read=lambda call, id_: _fabric_path(id_),
        create=lambda call: "/sdn/fabrics",
        write=lambda call, id_: _fabric_path(id_),
        extra=_fabric_extra,
    ),
    list_spec=VIEW,
    get_spec=VIEW,
    create_spec=ParamSpec(
        (
            FABRIC_ID,
            Param("protocol", PROTOCOL.description, PROTOCOL.format, required=True),
            *FABRIC_OPTIONS,
            DIGEST,
            LOCK_TOKEN,
        )
    ),
    update_spec=ParamSpec((PROTOCOL, *FABRIC_OPTIONS, DELETE, DIGEST, LOCK_TOKEN)),
    delete_spec=ParamSpec((DIGEST, LOCK_TOKEN)),
)

NODES = Collection(
    name="fabric-nodes",
    base="/cluster/sdn/fabrics/node/{fabric_id}",
    id_name="node_id",
    id_param=NODE_ID,
    parent={"fabric_id": FABRIC_REF},
    acl=Acl(
        visible=lambda call, obj: call.perms.has(f"/nodes/{obj['node_id']}", *NODE_AUDIT, any_of=True),
        read=lambda call, _id: _fabric_path(call.path["fabric_id"]),
        create=lambda call: _fabric_path(call.path["fabric_id"]),
        write=lambda call, _id: _fabric_path(call.path["fabric_id"]),
        list_guard=lambda call: _fabric_path(call.path["fabric_id"]),
        extra=_node_extra,
    ),
    list_spec=VIEW,
    get_spec=VIEW,
    create_spec=ParamSpec((NODE_ID, PROTOCOL, *NODE_OPTIONS, DIGEST, LOCK_TOKEN)),
    update_spec=ParamSpec((PROTOCOL, *NODE_OPTIONS, DELETE, DIGEST, LOCK_TOKEN)),
    delete_spec=ParamSpec((DIGEST, LOCK_TOKEN)),
)


def _index(call: Call) -> Any:
    call.perms.check("/sdn/fabrics", Privilege.SDN_AUDIT)
    return [{"subdir": s} for s in ("fabric", "node", "all")]


def _all_nodes(call: Call) -> list[dict[str, Any]]:
    return [n for n in call.service.list("fabric-nodes", call.params) if _node_visible(call, n)]


def _all(call: Call) -> Any:
    fabrics = call.service.list("fabrics", call.params)
    visible = [f for f in fabrics if call.perms.has(_fabric_path(f["id"]), *READ, any_of=True)]
    return {"fabrics": visible, "nodes": _all_nodes(call)}


def register(router: APIRouter) -> None:
    add(router, "GET", "/cluster/sdn/fabrics", _index, summary="Fabrics index.")
    add(router, "GET", "/cluster/sdn/fabrics/all", _all, spec=VIEW, summary="All fabrics and fabric nodes.")
    add(router, "GET", "/cluster/sdn/fabrics/node", _all_nodes, spec=VIEW, summary="All fabric nodes.")
    register_collection(router, FABRICS, "fabrics")
    register_collection(router, NODES, "the nodes of a fabric")
