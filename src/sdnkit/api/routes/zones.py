"""``/cluster/sdn/zones``: zones (ACL paths ``/sdn/zones/<zone>``).

Creating needs ``SDN.Allocate`` on ``/sdn/zones``; reading, updating and deleting one zone are
guarded on ``/sdn/zones/<zone>`` (reading with Audit or Allocate: fix of §10.17).
"""

from __future__ import annotations

from fastapi import APIRouter

from sdnkit.api.params import create_spec, delete_spec, get_spec, id_param, list_spec, update_spec
from sdnkit.api.routes.crud import Acl, Collection, audit_visible, register_collection
from sdnkit.config.schema import Kind

COLLECTION = Collection(
    name="zones",
    base="/cluster/sdn/zones",
    id_name="zone",
    id_param=id_param(Kind.ZONES),
    acl=Acl(
        visible=audit_visible(lambda obj: f"/sdn/zones/{obj['zone']}"),
        read=lambda call, id_: f"/sdn/zones/{id_}",
        create=lambda call: "/sdn/zones",
        write=lambda call, id_: f"/sdn/zones/{id_}",
    ),
    list_spec=list_spec(Kind.ZONES),
    get_spec=get_spec(Kind.ZONES),
    create_spec=create_spec(Kind.ZONES),
    update_spec=update_spec(Kind.ZONES),
    delete_spec=delete_spec(),
)


def register(router: APIRouter) -> None:
    register_collection(router, COLLECTION, "SDN zones")
