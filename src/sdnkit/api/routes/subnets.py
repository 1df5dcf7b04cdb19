"""``/cluster/sdn/vnets/{vnet}/subnets``: subnets of a vnet (ACL path ``/sdn/zones/<zone>/<vnet>``).

Every operation is guarded on the vnet's path: listing and reading with Audit or Allocate,
writing with Allocate. ``{subnet}`` is the subnet ID ``<zone>-<address>-<prefix length>``.
"""

from __future__ import annotations

from fastapi import APIRouter

from sdnkit.api.params import id_param
from sdnkit.api.routes.crud import Acl, kind_collection, register_collection
from sdnkit.api.routes.vnets import vnet_path
from sdnkit.config.schema import Kind

COLLECTION = kind_collection(
    Kind.SUBNETS,
    Acl(
        visible=None,
        read=lambda call, _id: vnet_path(call, call.path["vnet"]),
        create=lambda call: vnet_path(call, call.path["vnet"]),
        write=lambda call, _id: vnet_path(call, call.path["vnet"]),
        list_guard=lambda call: vnet_path(call, call.path["vnet"]),
    ),
    base="/cluster/sdn/vnets/{vnet}/subnets",
    parent={"vnet": id_param(Kind.VNETS)},
)


def register(router: APIRouter) -> None:
    register_collection(router, COLLECTION, "SDN subnets of a vnet")
