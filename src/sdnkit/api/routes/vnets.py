"""``/cluster/sdn/vnets``: vnets (ACL paths ``/sdn/zones/<zone>/<vnet>``).

A vnet's zone comes from its configuration; a vnet that exists only as a pending creation has
it in ``pending.zone`` (PVE: ``zone // pending.zone``). Creating needs ``SDN.Allocate`` on
``/sdn/zones/<zone>``; moving a vnet to another zone needs it on the new zone's path as well
(PVE checks only the old one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter

from sdnkit.api.endpoint import Call
from sdnkit.api.roles import Privilege
from sdnkit.api.routes.crud import Acl, audit_visible, kind_collection, register_collection
from sdnkit.config.schema import Kind

__all__ = ["COLLECTION", "vnet_path", "zone_of"]


def _zone_in(obj: Mapping[str, Any]) -> str:
    pending = obj.get("pending") or {}
    return str(obj.get("zone") or pending.get("zone") or "")


def zone_of(call: Call, vnet: str) -> str:
    """The zone of an existing vnet (pending, current or running); NotFoundError otherwise."""
    return _zone_in(call.service.get("vnets", {"vnet": vnet, "pending": True}))


def vnet_path(call: Call, vnet: str) -> str:
    return f"/sdn/zones/{zone_of(call, vnet)}/{vnet}"


def _check_move(call: Call, method: str) -> None:
    new_zone = call.params.get("zone")
    if method == "PUT" and new_zone:
        call.perms.check(f"/sdn/zones/{new_zone}/{call.path['vnet']}", Privilege.SDN_ALLOCATE)


COLLECTION = kind_collection(
    Kind.VNETS,
    Acl(
        visible=audit_visible(lambda obj: f"/sdn/zones/{_zone_in(obj)}/{obj['vnet']}"),
        read=vnet_path,
        create=lambda call: f"/sdn/zones/{call.params['zone']}",
        write=vnet_path,
        extra=_check_move,
    ),
)


def register(router: APIRouter) -> None:
    register_collection(router, COLLECTION, "SDN vnets")
