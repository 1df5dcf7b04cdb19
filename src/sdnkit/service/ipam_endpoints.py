"""The IPAM endpoints of PVE's API, with its parameters and answers (spec §5.1), for the REST API and pvesh.

* ``status`` (``GET /cluster/sdn/ipams/{ipam}/status``): every address of every zone using the
  IPAM, not only zones with DHCP (§10.16), in upstream's row shape, for any IPAM type;
* ``ips_create``/``ips_update``/``ips_delete``: ``POST/PUT/DELETE /cluster/sdn/vnets/{vnet}/ips``;
* ``IpamService``: the same on one store, one mapping of parameters per call;
  ``register_routes`` adds its paths to ``sdn pvesh``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sdnkit.config.model import IPAddress
from sdnkit.errors import ConfigError, NotFoundError
from sdnkit.ipam.base import Allocation, undo_on_error
from sdnkit.service.ipam_context import BUILTIN, IpamContext, resolve_vnet, running_context
from sdnkit.service.ipam_guests import add_ip, allocation_order, del_ip, find_mac, list_ips, update_ip
from sdnkit.service.ipam_values import parse_ip, parse_mac, parse_vmid
from sdnkit.service.params import Params, no_more, text
from sdnkit.store.base import Store

__all__ = ["IpamService", "ips_create", "ips_delete", "ips_update", "register_routes", "status"]


def status(ctx: IpamContext, ipam_id: str) -> list[dict[str, Any]]:
    """``GET /cluster/sdn/ipams/{ipam}/status``: every address of every zone using the IPAM."""
    ctx.ipam(ipam_id)
    rows = []
    for vnet in ctx.config.vnets.values():
        zone = ctx.config.zones.get(vnet.zone)
        if zone is None or zone.ipam != ipam_id:
            continue
        subnets = ctx.config.subnets_of(vnet.id)
        if subnets:
            rows.extend(ctx.plugin(ipam_id).allocations(subnets))
    return [_status_row(a) for a in sorted(rows, key=allocation_order)]


def _status_row(a: Allocation) -> dict[str, Any]:
    row = a.to_status()
    vmid = row.get("vmid")
    if isinstance(vmid, str) and vmid.isdigit():
        row["vmid"] = int(vmid)  # the API documents an integer; the state file keeps a string
    return row


# -- /cluster/sdn/vnets/{vnet}/ips ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IpsRequest:
    vnet: str
    ip: IPAddress
    mac: str | None
    vmid: str | None


def _ips_request(ctx: IpamContext, params: Params, what: str) -> IpsRequest:
    params = dict(params)
    vnet = text(params, "vnet", required=True) or ""
    zone = text(params, "zone", required=True) or ""
    ip = parse_ip(text(params, "ip", required=True))
    mac = text(params, "mac")
    vmid = parse_vmid(params.pop("vmid", None))
    params.pop("lock-token", None)  # accepted as PVE does; IPAM mappings are not configuration
    no_more(params, f"{what} /cluster/sdn/vnets/{{vnet}}/ips")
    scope = resolve_vnet(ctx, vnet)
    if scope.zone.id != zone:
        raise ConfigError(f'vnet "{vnet}" is in zone "{scope.zone.id}", not "{zone}"', key="zone", value=zone)
    return IpsRequest(vnet, ip, parse_mac(mac) if mac else None, vmid)


def ips_create(ctx: IpamContext, params: Params) -> None:
    """``POST``: register exactly this IP (for the MAC, if given)."""
    req = _ips_request(ctx, params, "POST")
    add_ip(ctx, req.vnet, req.ip, mac=req.mac, vmid=req.vmid)


def ips_update(ctx: IpamContext, params: Params) -> None:
    """``PUT``: give the MAC this IP instead of its address of the same family (restored on failure)."""
    req = _ips_request(ctx, params, "PUT")
    same = [a for a in find_mac(ctx, req.vnet, req.mac) if a.ip.version == req.ip.version] if req.mac else []
    old = same[0] if same else _registered(ctx, req.vnet, req.ip)
    if old is not None and old.ip == req.ip:
        entry = old.entry
        update_ip(
            ctx,
            req.vnet,
            req.ip,
            mac=req.mac or entry.mac,
            hostname=entry.hostname,
            vmid=req.vmid or entry.vmid,
        )
        return
    with undo_on_error() as undo:
        if old is not None:
            del_ip(ctx, req.vnet, old.ip)
            undo.push(f"restore {old.ip}", lambda: _restore(ctx, old))
        hostname, vmid = (old.entry.hostname, req.vmid or old.entry.vmid) if old else (None, req.vmid)
        add_ip(ctx, req.vnet, req.ip, mac=req.mac, hostname=hostname, vmid=vmid)


def _registered(ctx: IpamContext, vnet: str, ip: IPAddress) -> Allocation | None:
    return next((a for a in list_ips(ctx, vnet) if a.ip == ip), None)


def _restore(ctx: IpamContext, a: Allocation) -> None:
    ctx.plugin(ctx.config.zones[a.zone].ipam or BUILTIN).add_ip(a.subnet, a.ip, a.entry)


def ips_delete(ctx: IpamContext, params: Params) -> None:
    """``DELETE``: remove the mapping; refused if the IP belongs to another MAC than the one given."""
    req = _ips_request(ctx, params, "DELETE")
    found = _registered(ctx, req.vnet, req.ip)
    if found is None:
        raise NotFoundError(f'vnet "{req.vnet}": IP {req.ip} is not registered', key="ip", value=str(req.ip))
    if req.mac and not found.entry.same_mac(req.mac):
        owner = "the gateway" if found.entry.gateway else f"MAC {found.entry.mac or '(none)'}"
        raise ConfigError(f'vnet "{req.vnet}": IP {req.ip} belongs to {owner}, not {req.mac}', key="mac")
    del_ip(ctx, req.vnet, req.ip)


# -- on one store: the REST API and pvesh ------------------------------------------------------


class IpamService:
    """The IPAM operations with PVE's parameters (one mapping per call), on one store."""

    def __init__(self, store: Store, *, timeout: float = 30.0, cafile: str | None = None) -> None:
        self.store = store
        self._options: dict[str, Any] = {"timeout": timeout, "cafile": cafile}

    def _ctx(self) -> IpamContext:
        return running_context(self.store, **self._options)

    def status(self, params: Params) -> list[dict[str, Any]]:
        """``GET /cluster/sdn/ipams/{ipam}/status``."""
        params = dict(params)
        ipam = text(params, "ipam", required=True) or ""
        no_more(params, "GET /cluster/sdn/ipams/{ipam}/status")
        return status(self._ctx(), ipam)

    def add_ip(self, params: Params) -> None:
        ips_create(self._ctx(), params)

    def update_ip(self, params: Params) -> None:
        ips_update(self._ctx(), params)

    def delete_ip(self, params: Params) -> None:
        ips_delete(self._ctx(), params)


def register_routes(add: Callable[[str, str, Callable[[Any, Params], Any]], None]) -> None:
    """The IPAM paths for ``sdn pvesh`` (``handler(service, params)``, ``service.store``)."""
    add("GET", "/cluster/sdn/ipams/{ipam}/status", lambda svc, p: IpamService(svc.store).status(p))
    add("POST", "/cluster/sdn/vnets/{vnet}/ips", lambda svc, p: IpamService(svc.store).add_ip(p))
    add("PUT", "/cluster/sdn/vnets/{vnet}/ips", lambda svc, p: IpamService(svc.store).update_ip(p))
    add("DELETE", "/cluster/sdn/vnets/{vnet}/ips", lambda svc, p: IpamService(svc.store).delete_ip(p))
