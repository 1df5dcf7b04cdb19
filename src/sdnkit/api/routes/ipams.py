"""``/cluster/sdn/ipams``: IPAMs (ACL paths ``/sdn/ipams[/<id>]``) and ``/{ipam}/status``.

The status lists the IPAM's address entries, each visible with Audit or Allocate on the
entry's ``/sdn/zones/<zone>/<vnet>`` (PVE's rule). PVE lists only zones with DHCP (§10.16);
what is listed is the IPAM service's decision.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sdnkit.api.endpoint import Call, add
from sdnkit.api.params import id_param
from sdnkit.api.routes.crud import READ, register_collection
from sdnkit.api.routes.flat import flat_collection
from sdnkit.api.routes.ips import ipam_service
from sdnkit.config.schema import Kind

COLLECTION = flat_collection(Kind.IPAMS)


def _status(call: Call) -> Any:
    ipam = call.path["ipam"]
    call.service.get("ipams", {"ipam": ipam})  # NotFoundError for an unknown IPAM
    entries = ipam_service(call).status({"ipam": ipam})
    return [
        e
        for e in entries
        if call.perms.has(f"/sdn/zones/{e.get('zone')}/{e.get('vnet')}", *READ, any_of=True)
    ]


def register(router: APIRouter) -> None:
    register_collection(router, COLLECTION, "SDN IPAMs")
    add(
        router,
        "GET",
        "/cluster/sdn/ipams/{ipam}/status",
        _status,
        path_params={"ipam": id_param(Kind.IPAMS)},
        summary="The IPAM's address entries (filtered by the vnets the caller may see).",
    )
