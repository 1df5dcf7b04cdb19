"""Collections whose ACL paths are ``/sdn/<collection>[/<id>]``: controllers, IPAMs, DNS servers.

PVE guards their writes with ``SDN.Allocate`` on ``/sdn/<collection>`` and filters lists per
``/sdn/<collection>/<id>``; reading one needs Audit or Allocate on that path (fix of §10.17).
"""

from __future__ import annotations

from sdnkit.api.routes.crud import Acl, Collection, audit_visible, kind_collection
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
    return kind_collection(kind, acl)
