"""IPAM operations of the service layer: guest addresses, the ``ips`` and ``status`` APIs, subnet hooks.

Semantics are PVE's (spec §5.1, ``Vnets.pm``/``Subnets.pm``), with its bugs fixed:

* ``allocate`` (``add_next_free_cidr``): one address per IP family that the vnet has subnets of,
  from the first subnet (by ID) with a free address, inside its DHCP ranges when it has some;
  all families or none (§10.11: upstream keeps the first family when a plugin fails);
* ``ensure`` (``add_dhcp_mapping``): keeps the MAC's addresses and allocates only the missing
  families;
* ``release`` (``del_ips_from_mac``), ``add_ip``/``update_ip``/``del_ip`` (the subnet is the vnet
  subnet that contains the address), ``find_mac``, ``find_guest``, ``list_ips``;
* ``status`` (``GET /cluster/sdn/ipams/{ipam}/status``): every address of every zone using the
  IPAM, not only zones with DHCP (§10.16), in upstream's row shape, for any IPAM type;
* ``ips_create``/``ips_update``/``ips_delete``: ``POST/PUT/DELETE /cluster/sdn/vnets/{vnet}/ips``;
* ``HOOKS``: subnet create/update/delete register the subnet and its gateway (hostname
  ``<vnet>-gw``) in the zone's IPAM inside the locked configuration write, undone if it aborts.

Guest operations resolve names in ``IpamContext.config``: the running zones, vnets and subnets
with the current IPAM definitions (what PVE uses), built by ``running_context(store)``. Zones
without ``ipam`` have no IPAM: guest operations are no-ops there (as upstream).

DNS registration and DHCP mappings are not done here: callers (the port operations) do them with
the ``Allocation`` values returned, and undo them in the same way.
"""

from __future__ import annotations

import ipaddress
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdnkit.config.formats import DNS, Mac
from sdnkit.config.model import IPAddress, Ipam, SdnConfig, Subnet, Vnet, Zone
from sdnkit.config.schema import Kind
from sdnkit.config.section import Section
from sdnkit.errors import ConfigError, IpamExhaustedError, NotFoundError
from sdnkit.ipam.base import Allocation, IpamPlugin, IpEntry, PluginEnv, build_plugin, undo_on_error
from sdnkit.ipam.journal import JournalStorage
from sdnkit.ipam.ranges import network
from sdnkit.ipam.storage import DocumentStorage, IpamStorage
from sdnkit.service.params import Params, no_more, text
from sdnkit.service.transaction import Action, ObjectChange, Transaction
from sdnkit.store.base import Store
from sdnkit.store.local import LocalStore
from sdnkit.store.snapshot import load_snapshot

__all__ = [
    "HOOKS",
    "IpamContext",
    "IpamService",
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

BUILTIN = "pve"
JOURNAL = ".sdnkit/pve-ipam.journal"

_MAC = Mac()
_journals: OrderedDict[Path, IpamStorage] = OrderedDict()  # most recently used last
_MAX_JOURNALS = 32  # a process serves one store; tests open many: keep file descriptors bounded
_documents: weakref.WeakKeyDictionary[Any, IpamStorage] = weakref.WeakKeyDictionary()
_storages_lock = threading.Lock()


def storage_for(store: Store) -> IpamStorage:
    """The built-in IPAM's storage for ``store``, one per store and process (it caches state).

    A local directory store gets the journal (``<dir>/.sdnkit/pve-ipam.journal``); any other
    store the whole-document fallback, until its own backend exists (etcd).
    """
    with _storages_lock:
        if isinstance(store, LocalStore):
            root = Path(store.root).resolve()
            if root not in _journals:
                _journals[root] = JournalStorage(store, root / JOURNAL)
                while len(_journals) > _MAX_JOURNALS:  # closed storages reopen on their next use
                    _journals.popitem(last=False)[1].close()
            _journals.move_to_end(root)
            return _journals[root]
        if store not in _documents:
            _documents[store] = DocumentStorage(store)
        return _documents[store]


@dataclass
class IpamContext:
    """Where names are resolved (``config``) and how plugins are built (``env``)."""

    config: SdnConfig
    env: PluginEnv
    _plugins: dict[Ipam, IpamPlugin] = field(default_factory=dict, repr=False)

    def ipam(self, ipam_id: str) -> Ipam:
        found = self.config.ipams.get(ipam_id)
        if found is None and ipam_id == BUILTIN:  # always there, as in PVE
            found = Ipam(id=BUILTIN, type=BUILTIN)
        if found is None:
            raise NotFoundError(f'ipam "{ipam_id}" does not exist', key="ipam", value=ipam_id)
        return found

    def plugin(self, ipam_id: str) -> IpamPlugin:
        cfg = self.ipam(ipam_id)
        plugin = self._plugins.get(cfg)
        if plugin is None:
            plugin = self._plugins[cfg] = build_plugin(cfg, self.env)
        return plugin


def context(
    store: Store, config: SdnConfig, *, timeout: float = 30.0, cafile: str | None = None
) -> IpamContext:
    return IpamContext(config, PluginEnv(storage=storage_for(store), timeout=timeout, cafile=cafile))


def running_context(store: Store, **kw: Any) -> IpamContext:
    """Running zones, vnets and subnets with the current IPAM definitions (what guests use)."""
    snap = load_snapshot(store)
    sections = dict(snap.running.config.sections)
    sections[Kind.IPAMS] = snap.sections(Kind.IPAMS)
    return context(store, SdnConfig(sections), **kw)


# -- resolution --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scope:
    vnet: Vnet
    zone: Zone
    plugin: IpamPlugin | None
    subnets: list[Subnet]


def _scope(ctx: IpamContext, vnet_id: str) -> Scope:
    vnet = ctx.config.vnets.get(vnet_id)
    if vnet is None:
        raise NotFoundError(
            f'vnet "{vnet_id}" does not exist (or is not applied yet)', key="vnet", value=vnet_id
        )
    zone = ctx.config.zones.get(vnet.zone)
    if zone is None:
        raise NotFoundError(
            f'vnet "{vnet_id}": zone "{vnet.zone}" does not exist', key="zone", value=vnet.zone
        )
    plugin = ctx.plugin(zone.ipam) if zone.ipam else None
    return Scope(vnet, zone, plugin, ctx.config.subnets_of(vnet_id))


def _need_plugin(scope: Scope) -> IpamPlugin:
    if scope.plugin is None:
        raise ConfigError(f'zone "{scope.zone.id}" has no IPAM (set its "ipam" option)', key="ipam")
    return scope.plugin


def _subnet_of(scope: Scope, ip: IPAddress) -> Subnet:
    for subnet in scope.subnets:
        net = network(subnet.cidr)
        if net.version == ip.version and ip in net:
            return subnet
    raise ConfigError(f'vnet "{scope.vnet.id}": {ip} is not in any of its subnets', key="ip", value=str(ip))


def _mac(value: object) -> str:
    try:
        return _MAC.parse(value)
    except ValueError as err:
        raise ConfigError(f"invalid value for 'mac': {err}", key="mac", value=value) from None


def _hostname(value: object) -> str:
    try:
        return str(DNS.parse(value))
    except ValueError as err:
        raise ConfigError(f"invalid value for 'hostname': {err}", key="hostname", value=value) from None


def _entry(mac: str | None, hostname: str | None, vmid: str | int | None) -> IpEntry:
    return IpEntry(
        mac=_mac(mac) if mac else None,
        hostname=_hostname(hostname) if hostname else None,
        vmid=_vmid(vmid),
    )


def _vmid(vmid: str | int | None) -> str | None:
    if vmid is None or vmid == "":
        return None
    text_ = str(vmid)
    if not text_.isdigit() or not 100 <= int(text_) <= 999_999_999:
        raise ConfigError(f"invalid value for 'vmid': {vmid!r} is not a guest ID (100-999999999)", key="vmid")
    return str(int(text_))


def _ip(value: object) -> IPAddress:
    try:
        return ipaddress.ip_address(str(value).strip())
    except ValueError:
        raise ConfigError(
            f"invalid value for 'ip': {value!r} is not an IP address", key="ip", value=value
        ) from None


# -- guest operations ----------------------------------------------------------------------------


def allocate(
    ctx: IpamContext,
    vnet: str,
    *,
    mac: str,
    hostname: str | None = None,
    vmid: str | int | None = None,
    versions: Iterable[int] = (4, 6),
) -> list[Allocation]:
    """One new address per family (of ``versions``) the vnet has subnets of; all or none."""
    scope = _scope(ctx, vnet)
    if scope.plugin is None:
        return []
    plugin, entry, out = scope.plugin, _entry(mac, hostname, vmid), []
    with undo_on_error() as undo:
        for version in sorted(set(versions)):
            subnets = [s for s in scope.subnets if network(s.cidr).version == version]
            if not subnets:
                continue
            found = _first_free(plugin, subnets, entry)
            if found is None:
                where = f'the IPv{version} subnets of vnet "{vnet}"'
                raise IpamExhaustedError(
                    f'zone "{scope.zone.id}": no free IP left in {where}', obj=f'vnet "{vnet}"'
                )
            undo.push(f"release {found.ip}", lambda a=found: plugin.del_ip(a.subnet, a.ip))
            out.append(found)
    return out


def _first_free(plugin: IpamPlugin, subnets: Sequence[Subnet], entry: IpEntry) -> Allocation | None:
    for subnet in subnets:
        version = network(subnet.cidr).version
        pools = [r for r in subnet.dhcp_ranges if r.start.version == version] or [None]
        for pool in pools:
            try:
                return Allocation(subnet, plugin.next_free_ip(subnet, entry, pool), entry)
            except IpamExhaustedError:
                continue
    return None


def ensure(
    ctx: IpamContext, vnet: str, *, mac: str, hostname: str | None = None, vmid: str | int | None = None
) -> list[Allocation]:
    """The MAC's addresses in the vnet, allocating only the families it has none of yet."""
    have = find_mac(ctx, vnet, mac)
    missing = {4, 6} - {a.ip.version for a in have}
    new = allocate(ctx, vnet, mac=mac, hostname=hostname, vmid=vmid, versions=missing)
    return sorted(have + new, key=lambda a: (a.ip.version, int(a.ip)))


def add_ip(
    ctx: IpamContext,
    vnet: str,
    ip: object,
    *,
    mac: str | None = None,
    hostname: str | None = None,
    vmid: str | int | None = None,
) -> Allocation:
    """Register exactly ``ip`` (in the vnet subnet that contains it)."""
    scope = _scope(ctx, vnet)
    plugin, addr = _need_plugin(scope), _ip(ip)
    subnet, entry = _subnet_of(scope, addr), _entry(mac, hostname, vmid)
    plugin.add_ip(subnet, addr, entry)
    return Allocation(subnet, addr, entry)


def update_ip(
    ctx: IpamContext,
    vnet: str,
    ip: object,
    *,
    mac: str | None = None,
    hostname: str | None = None,
    vmid: str | int | None = None,
) -> Allocation:
    scope = _scope(ctx, vnet)
    plugin, addr = _need_plugin(scope), _ip(ip)
    subnet, entry = _subnet_of(scope, addr), _entry(mac, hostname, vmid)
    plugin.update_ip(subnet, addr, entry)
    return Allocation(subnet, addr, entry)


def del_ip(ctx: IpamContext, vnet: str, ip: object) -> None:
    scope = _scope(ctx, vnet)
    plugin, addr = _need_plugin(scope), _ip(ip)
    plugin.del_ip(_subnet_of(scope, addr), addr)


def release(ctx: IpamContext, vnet: str, mac: str) -> list[Allocation]:
    """Delete every address of the MAC in the vnet (all or none); returns them."""
    scope = _scope(ctx, vnet)
    if scope.plugin is None:
        return []
    plugin = scope.plugin
    found = plugin.find_mac(scope.subnets, _mac(mac))
    with undo_on_error() as undo:
        for a in found:
            plugin.del_ip(a.subnet, a.ip)
            undo.push(f"re-register {a.ip}", lambda a=a: plugin.add_ip(a.subnet, a.ip, a.entry))
    return found


def find_mac(ctx: IpamContext, vnet: str, mac: str) -> list[Allocation]:
    scope = _scope(ctx, vnet)
    if scope.plugin is None:
        return []
    return sorted(scope.plugin.find_mac(scope.subnets, _mac(mac)), key=lambda a: (a.ip.version, int(a.ip)))


def list_ips(ctx: IpamContext, vnet: str | None = None) -> list[Allocation]:
    """Every registered address of one vnet, or of every vnet whose zone has an IPAM."""
    vnets = [vnet] if vnet is not None else list(ctx.config.vnets)
    out: list[Allocation] = []
    for vid in vnets:
        scope = _scope(ctx, vid)
        if scope.plugin is not None and scope.subnets:
            out.extend(scope.plugin.allocations(scope.subnets))
    return sorted(out, key=_order)


def find_guest(ctx: IpamContext, vmid: str | int) -> list[Allocation]:
    """Every address registered for a guest, in every vnet (the firewall's ``guest-ipam-<id>``)."""
    want = _vmid(vmid)
    return [a for a in list_ips(ctx) if a.entry.vmid == want]


def _order(a: Allocation) -> tuple[str, str, str, int, int]:
    return (a.zone, a.vnet, a.subnet.id, a.ip.version, int(a.ip))


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
    return [_status_row(a) for a in sorted(rows, key=_order)]


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
    ip = _ip(text(params, "ip", required=True))
    mac = text(params, "mac")
    vmid = _vmid(params.pop("vmid", None))
    params.pop("lock-token", None)  # accepted as PVE does; IPAM mappings are not configuration
    no_more(params, f"{what} /cluster/sdn/vnets/{{vnet}}/ips")
    scope = _scope(ctx, vnet)
    if scope.zone.id != zone:
        raise ConfigError(f'vnet "{vnet}" is in zone "{scope.zone.id}", not "{zone}"', key="zone", value=zone)
    return IpsRequest(vnet, ip, _mac(mac) if mac else None, vmid)


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


# -- subnet hooks --------------------------------------------------------------------------------


def _hook_plugin(tx: Transaction, subnet: Subnet, config: SdnConfig) -> IpamPlugin | None:
    vnet = config.vnets.get(subnet.vnet)
    zone = config.zones.get(vnet.zone) if vnet else None
    if zone is None or not zone.ipam:
        return None
    return IpamContext(config, PluginEnv(storage=storage_for(tx.store))).plugin(zone.ipam)


def _gateway(subnet: Subnet) -> IPAddress | None:
    """The gateway to register; none for IPv4 /32 point-to-point subnets (as upstream)."""
    if subnet.gateway is None or (subnet.version == 4 and subnet.prefixlen == 32):
        return None
    return subnet.gateway


def _subnet(section: Section | None) -> Subnet | None:
    return Subnet.from_section(section) if section is not None else None


def on_subnet_change(change: ObjectChange, tx: Transaction) -> None:
    """Register, update or unregister a subnet and its gateway in the zone's IPAM."""
    if change.kind is not Kind.SUBNETS or change.cause == "import":
        return
    old, new = _subnet(change.old), _subnet(change.new)
    config = change.before if change.action is Action.DELETE else change.after
    subnet = new or old
    assert subnet is not None
    plugin = _hook_plugin(tx, subnet, config)
    if plugin is None:
        return
    _HOOK_ACTIONS[change.action](plugin, tx, old, new)


def _created(plugin: IpamPlugin, tx: Transaction, old: Subnet | None, new: Subnet | None) -> None:
    assert new is not None
    plugin.add_subnet(new)
    tx.on_abort(lambda: plugin.del_subnet(new))
    _add_gateway(plugin, tx, new)


def _add_gateway(plugin: IpamPlugin, tx: Transaction, subnet: Subnet) -> None:
    gw = _gateway(subnet)
    if gw is not None:
        plugin.add_ip(subnet, gw, IpEntry(gateway=True, hostname=f"{subnet.vnet}-gw"))
        tx.on_abort(lambda: plugin.del_ip(subnet, gw))


def _updated(plugin: IpamPlugin, tx: Transaction, old: Subnet | None, new: Subnet | None) -> None:
    assert old is not None and new is not None
    plugin.update_subnet(old, new)
    tx.on_abort(lambda: plugin.update_subnet(new, old))
    old_gw, new_gw = _gateway(old), _gateway(new)
    if old_gw == new_gw:
        return
    _add_gateway(plugin, tx, new)
    if old_gw is not None:
        plugin.del_ip(old, old_gw)
        tx.on_abort(lambda: plugin.add_ip(old, old_gw, IpEntry(gateway=True, hostname=f"{old.vnet}-gw")))


def _deleted(plugin: IpamPlugin, tx: Transaction, old: Subnet | None, new: Subnet | None) -> None:
    assert old is not None
    before = plugin.allocations([old])  # only the gateway can be left: del_subnet refuses otherwise
    plugin.del_subnet(old)

    def restore() -> None:
        plugin.add_subnet(old)
        for a in before:
            plugin.add_ip(a.subnet, a.ip, a.entry)

    tx.on_abort(restore)


_HOOK_ACTIONS: dict[Action, Callable[[IpamPlugin, Transaction, Subnet | None, Subnet | None], None]] = {
    Action.CREATE: _created,
    Action.UPDATE: _updated,
    Action.DELETE: _deleted,
}

HOOKS = (on_subnet_change,)


# -- PVE parameters: the REST API and pvesh ------------------------------------------------------


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
