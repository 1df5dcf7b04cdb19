"""``/cluster/sdn/vnets/{vnet}/subnets``: subnets of a vnet (ACL path ``/sdn/zones/<zone>/<vnet>``).

Every operation is guarded on the vnet's path: listing and reading with Audit or Allocate,
writing with Allocate. ``{subnet}`` is the subnet ID ``<zone>-<address>-<prefix length>``.
"""

from __future__ import annotations

from fastapi import APIRouter

from sdnkit.api.params import create_spec, delete_spec, get_spec, id_param, list_spec, update_spec
from sdnkit.api.routes.crud import Acl, Collection, register_collection
from sdnkit.api.routes.vnets import vnet_path
from sdnkit.config.schema import Kind

COLLECTION = Collection(
    name="subnets",
    base="/cluster/sdn/vnets/{vnet}/subnets",
    id_name="subnet",
    id_param=id_param(Kind.SUBNETS),
    parent={"vnet": id_param(Kind.VNETS)},
    acl=Acl(
        visible=None,
        read=lambda call, _id: vnet_path(call, call.path["vnet"]),
        create=lambda call: vnet_path(call, call.path["vnet"]),
        write=lambda call, _id: vnet_path(call, call.path["vnet"]),
        list_guard=lambda call: vnet_path(call, call.path["vnet"]),
    ),
    list_spec=list_spec(Kind.SUBNETS),
    get_spec=get_spec(Kind.SUBNETS),
    create_spec=create_spec(Kind.SUBNETS),
    update_spec=update_spec(Kind.SUBNETS),
    delete_spec=delete_spec(),
)


def register(router: APIRouter) -> None:
    register_collection(router, COLLECTION, "SDN subnets of a vnet")
