"""``GET /cluster/sdn/ports`` (sdnkit extension): the guest ports, for the topology view.

A port is a guest NIC plugged into a vnet (``service/port_registry.py``): one entry per port, as
``Port.to_json()`` gives it (``vnet``, ``zone``, ``guest``, ``mac``, ``node``, ``hostname``,
``ips``, ``device``, ...). Read only; ``sdn port add|del`` changes them. A port is listed when
the caller has ``SDN.Audit`` on its zone (``/sdn/zones/<zone>``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sdnkit.api.endpoint import Call, add
from sdnkit.api.roles import Privilege
from sdnkit.service.port_registry import read_ports


def _ports(call: Call) -> Any:
    ports, _revision = read_ports(call.service.store)
    return [
        p.to_json()
        for _key, p in sorted(ports.items())
        if call.perms.has(f"/sdn/zones/{p.zone}", Privilege.SDN_AUDIT)
    ]


def register(router: APIRouter) -> None:
    add(
        router,
        "GET",
        "/cluster/sdn/ports",
        _ports,
        summary="Guest ports (filtered by SDN.Audit on their zone).",
    )
