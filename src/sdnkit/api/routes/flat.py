"""Collections whose ACL paths are ``/sdn/<collection>[/<id>]``: controllers, IPAMs, DNS servers.

PVE guards their writes with ``SDN.Allocate`` on ``/sdn/<collection>`` and filters lists per
``/sdn/<collection>/<id>``; reading one needs Audit or Allocate on that path (fix of §10.17).
"""

from __future__ import annotations

from sdnkit.api.params import create_spec, delete_spec, get_spec, id_param, list_spec, update_spec
from sdnkit.api.routes.crud import Acl, Collection, audit_visible
from sdnkit.config.schema import Kind

__all__ = ["flat_collection"]


def flat_collection(kind: Kind) -> Collection:
    root = f"/sdn/{kind.value}"
    acl = Acl(
        visible=audit_visible(lambda obj: f"{root}/{obj[kind.singular]}"),
        read=lambda call, id_: f"{root}/{id_}",
        create=lambda call: root,
        write=lambda call, _id: root,
    )
    return Collection(
        name=kind.value,
        base=f"/cluster/sdn/{kind.value}",
        id_name=kind.singular,
        id_param=id_param(kind),
        acl=acl,
        list_spec=list_spec(kind),
        get_spec=get_spec(kind),
        create_spec=create_spec(kind),
        update_spec=update_spec(kind),
        delete_spec=delete_spec(),
    )
