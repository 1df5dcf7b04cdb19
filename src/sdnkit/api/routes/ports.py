"""``/cluster/sdn/ports``: guest ports through the API (an sdnkit extension; PVE has no such path).

A port is a guest NIC on a vnet, ``(vnet, guest, mac)`` (``service/ports.py``, what ``sdn port``
uses): creating one allocates its addresses in the zone's IPAM and registers its DNS records;
deleting it gives them back. The node agents then write the DHCP mappings (they watch the port
registry), so no SDN apply is involved. Devices (veth, tap) are local to a hypervisor and are not
made through the API: ``sdn port add --netns|--tap`` on the node does that.

* ``GET /cluster/sdn/ports`` (``vnet``, ``guest``): ``[Port.to_json()]``: ``vnet, zone, guest,
  mac, node, hostname, ips, device, device_kind, netns, ifname, device_created``, the ports of
  vnets the caller may audit (``SDN.Audit`` or ``SDN.Allocate`` on ``/sdn/zones/<zone>/<vnet>``);
* ``POST /cluster/sdn/ports`` (``vnet``, ``guest``, ``mac``, ``ip`` (repeatable, one per
  family), ``hostname``, ``node``): ``SDN.Use`` on the vnet, as PVE asks to plug a NIC into it;
  answers the new port;
* ``GET|DELETE /cluster/sdn/ports/{vnet}/{guest}/{mac}``: read (audit) or delete (``SDN.Use``).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from fastapi import APIRouter

from sdnkit.api.endpoint import Call, add
from sdnkit.api.params import NODE, Param, ParamSpec, id_param
from sdnkit.api.roles import Privilege
from sdnkit.api.routes.vnets import vnet_path
from sdnkit.config.formats import DNS, IpAddress, Mac, Text
from sdnkit.config.schema import Kind
from sdnkit.errors import ConfigError, NotFoundError
from sdnkit.service.port_registry import Port, port_key
from sdnkit.service.ports import PortContext, PortSpec, add_port, del_port, list_ports, local_node

__all__ = ["register"]

READ = (Privilege.SDN_AUDIT, Privilege.SDN_ALLOCATE)
VNET = id_param(Kind.VNETS)
GUEST = Param("guest", "The guest ID (PVE vmid, 100-999999999).", Text(r"[1-9][0-9]{2,8}", 9, "guest ID"))
MAC = Param("mac", "The NIC's unicast MAC address.", Mac())
LIST_SPEC = ParamSpec(
    (
        Param(VNET.name, "Only this vnet's ports.", VNET.format),
        Param("guest", "Only this guest's ports.", GUEST.format),
    )
)
CREATE_SPEC = ParamSpec(
    (
        Param(VNET.name, VNET.description, VNET.format, required=True),
        Param("guest", GUEST.description, GUEST.format, required=True),
        Param("mac", MAC.description, MAC.format, required=True),
        Param(
            "ip",
            "A wanted address (at most one per family); else the next free one.",
            IpAddress(),
            array=True,
        ),
        Param("hostname", "Register <hostname>.<dnszone> in the zone's DNS.", DNS),
        Param(NODE.name, "The node the guest runs on (default: this one).", NODE.format),
    )
)


def _context(call: Call, node: str | None = None) -> PortContext:
    # DHCP mappings and firewall sets are the node agents' to write (they watch the registry)
    return PortContext(store=call.service.store, node=node or local_node(), dhcp=None, firewall=False)


def _visible(call: Call, port: Port) -> bool:
    return call.perms.has(f"/sdn/zones/{port.zone}/{port.vnet}", *READ, any_of=True)


def _list(call: Call) -> Any:
    ports = list_ports(_context(call), vnet=call.params.get("vnet"), guest=call.params.get("guest"))
    return [p.to_json() for p in ports if _visible(call, p)]


def _one(call: Call) -> Port:
    key = port_key(call.path["vnet"], call.path["guest"], call.path["mac"])
    for port in list_ports(_context(call), vnet=call.path["vnet"], guest=call.path["guest"]):
        if port.key == key:
            return port
    raise NotFoundError(f'port "{key}" does not exist', key="mac", value=call.path["mac"])


def _get(call: Call) -> Any:
    port = _one(call)
    call.perms.check(f"/sdn/zones/{port.zone}/{port.vnet}", *READ, any_of=True)
    return port.to_json()


def _create(call: Call) -> Any:
    params = call.params
    call.perms.check(vnet_path(call, params["vnet"]), Privilege.SDN_USE)
    try:
        ips = tuple(ipaddress.ip_address(str(ip)) for ip in params.get("ip") or ())
    except ValueError as err:
        raise ConfigError(f"invalid value for 'ip': {err}", key="ip") from None
    spec = PortSpec(
        vnet=params["vnet"],
        guest=params["guest"],
        mac=params["mac"],
        hostname=params.get("hostname"),
        ips=ips,
    )
    return add_port(_context(call, params.get("node")), spec).to_json()


def _delete(call: Call) -> Any:
    port = _one(call)
    call.perms.check(f"/sdn/zones/{port.zone}/{port.vnet}", Privilege.SDN_USE)
    return del_port(_context(call, port.node), port.vnet, port.guest, port.mac).to_json()


def register(router: APIRouter) -> None:
    one = {"vnet": VNET, "guest": GUEST, "mac": MAC}
    item = "/cluster/sdn/ports/{vnet}/{guest}/{mac}"
    add(router, "GET", "/cluster/sdn/ports", _list, spec=LIST_SPEC, summary="List guest ports (sdnkit).")
    add(
        router,
        "POST",
        "/cluster/sdn/ports",
        _create,
        spec=CREATE_SPEC,
        summary="Create a guest port (sdnkit).",
    )
    add(router, "GET", item, _get, path_params=one, summary="Read a guest port (sdnkit).")
    add(router, "DELETE", item, _delete, path_params=one, summary="Delete a guest port (sdnkit).")
