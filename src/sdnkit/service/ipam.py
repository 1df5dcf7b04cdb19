"""IPAM operations of the service layer: guest addresses, the ``ips`` and ``status`` APIs, subnet hooks.

Semantics are PVE's (spec §5.1, ``Vnets.pm``/``Subnets.pm``), with its bugs fixed. This module
gathers the public names of the parts, each in its own module:

* ``ipam_context``: ``IpamContext`` (where names resolve, how plugins are built),
  ``running_context(store)`` (what guests use: the running zones, vnets and subnets with the
  current IPAM definitions), ``storage_for(store)`` (the built-in IPAM's storage);
* ``ipam_guests``: ``allocate``, ``ensure``, ``release``, ``add_ip``/``update_ip``/``del_ip``,
  ``find_mac``, ``find_guest``, ``list_ips``;
* ``ipam_endpoints``: ``status`` (``GET /cluster/sdn/ipams/{ipam}/status``),
  ``ips_create``/``ips_update``/``ips_delete`` (``POST/PUT/DELETE /cluster/sdn/vnets/{vnet}/ips``),
  ``IpamService`` and ``register_routes`` (the same for the REST API and ``sdn pvesh``);
* ``ipam_hooks``: ``HOOKS``: subnet create/update/delete register the subnet and its gateway
  (hostname ``<vnet>-gw``) in the zone's IPAM inside the locked configuration write, undone if
  it aborts.

Zones without ``ipam`` have no IPAM: guest operations are no-ops there (as upstream). DNS
registration and DHCP mappings are not done here: callers (the port operations) do them with
the ``Allocation`` values returned, and undo them in the same way.
"""

from __future__ import annotations

from sdnkit.service.ipam_context import (
    BUILTIN,
    JOURNAL,
    IpamContext,
    context,
    running_context,
    storage_for,
)
from sdnkit.service.ipam_endpoints import (
    IpamService,
    ips_create,
    ips_delete,
    ips_update,
    register_routes,
    status,
)
from sdnkit.service.ipam_guests import (
    add_ip,
    allocate,
    del_ip,
    ensure,
    find_guest,
    find_mac,
    list_ips,
    release,
    update_ip,
)
from sdnkit.service.ipam_hooks import HOOKS

__all__ = [
    "BUILTIN",
    "HOOKS",
    "JOURNAL",
    "IpamContext",
    "IpamService",
    "add_ip",
    "allocate",
    "context",
    "del_ip",
    "ensure",
    "find_guest",
    "find_mac",
    "ips_create",
    "ips_delete",
    "ips_update",
    "list_ips",
    "register_routes",
    "release",
    "running_context",
    "status",
    "storage_for",
    "update_ip",
]
