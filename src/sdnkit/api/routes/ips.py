"""``/cluster/sdn/vnets/{vnet}/ips``: IP/MAC mappings in the vnet's IPAM (PVE ``Ips.pm``).

POST adds a mapping, PUT replaces the address of a MAC (same family), DELETE removes one. All
need ``SDN.Allocate`` on ``/sdn/zones/<zone>/<vnet>``. PVE checks the path built from the
``zone`` parameter as given; sdnkit checks the vnet's real zone and refuses a ``zone`` that is
not the vnet's, so a right on one zone cannot reach a vnet of another.

The work is done by the IPAM service (``sdnkit.service.ipam``), which the routes find through
``ipam_service`` (see the docstring there).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sdnkit.api.endpoint import Call, add
from sdnkit.api.params import IPS_SPEC, id_param
from sdnkit.api.roles import Privilege
from sdnkit.api.routes.vnets import zone_of
from sdnkit.config.schema import Kind
from sdnkit.errors import ConfigError, NotSupportedError

__all__ = ["ipam_service", "register"]


def ipam_service(call: Call) -> Any:
    """The IPAM operations: ``extras["ipam"]`` if the app was given one, else ``sdnkit.service.ipam``.

    Expected interface (each takes PVE's parameters as one mapping, like ``SdnService``)::

        add_ip(params)     POST   /vnets/{vnet}/ips   zone, vnet, ip, mac?, lock-token?
        update_ip(params)  PUT    /vnets/{vnet}/ips   zone, vnet, ip, mac?, vmid?, lock-token?
        delete_ip(params)  DELETE /vnets/{vnet}/ips   zone, vnet, ip, mac?, lock-token?
        status(params)     GET    /ipams/{ipam}/status   ipam -> [{zone, vnet, subnet, ip, ...}]
    """
    given = call.state.extras.get("ipam")
    if given is not None:
        return given
    try:
        from sdnkit.service import ipam  # type: ignore[attr-defined]
    except ImportError:
        raise NotSupportedError("IP address management is not available in this build") from None
    return ipam.IpamService(call.service.store) if hasattr(ipam, "IpamService") else ipam


def _checked(call: Call) -> dict[str, Any]:
    vnet = call.path["vnet"]
    zone = zone_of(call, vnet)
    if call.params["zone"] != zone:
        raise ConfigError(f'vnet "{vnet}" is in zone "{zone}", not "{call.params["zone"]}"', key="zone")
    call.perms.check(f"/sdn/zones/{zone}/{vnet}", Privilege.SDN_ALLOCATE)
    return {**call.params, "vnet": vnet}


def _add(call: Call) -> Any:
    ipam_service(call).add_ip(_checked(call))


def _update(call: Call) -> Any:
    ipam_service(call).update_ip(_checked(call))


def _delete(call: Call) -> Any:
    ipam_service(call).delete_ip(_checked(call))


def register(router: APIRouter) -> None:
    path = "/cluster/sdn/vnets/{vnet}/ips"
    vnet = {"vnet": id_param(Kind.VNETS)}
    add(router, "POST", path, _add, spec=IPS_SPEC, path_params=vnet, summary="Create an IP/MAC mapping.")
    add(router, "PUT", path, _update, spec=IPS_SPEC, path_params=vnet, summary="Change the IP of a MAC.")
    add(router, "DELETE", path, _delete, spec=IPS_SPEC, path_params=vnet, summary="Delete an IP/MAC mapping.")
