"""``/cluster/sdn/zones``: zones (ACL paths ``/sdn/zones/<zone>``).

Creating needs ``SDN.Allocate`` on ``/sdn/zones``; reading, updating and deleting one zone are
guarded on ``/sdn/zones/<zone>`` (reading with Audit or Allocate: fix of §10.17).
"""

from __future__ import annotations

from fastapi import APIRouter

from sdnkit.api.routes.crud import Acl, audit_visible, kind_collection, register_collection
from sdnkit.config.schema import Kind

COLLECTION = kind_collection(
    Kind.ZONES,
    Acl(
        visible=audit_visible(lambda obj: f"/sdn/zones/{obj['zone']}"),
        read=lambda call, id_: f"/sdn/zones/{id_}",
        create=lambda call: "/sdn/zones",
        write=lambda call, id_: f"/sdn/zones/{id_}",
    ),
)


def register(router: APIRouter) -> None:
    register_collection(router, COLLECTION, "SDN zones")
