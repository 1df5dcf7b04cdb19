"""Where the IPAM operations resolve names and find plugins: the context, the built-in IPAM's storage.

``IpamContext.config`` holds the zones, vnets and subnets that names are resolved in, and the
IPAM definitions; guest operations use ``running_context(store)``: the running zones, vnets and
subnets with the current IPAM definitions (what PVE uses). ``resolve_vnet(ctx, vnet)`` gives a
vnet's zone, the zone's IPAM plugin (``None`` for a zone without ``ipam``) and its subnets.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdnkit.config.model import IPAddress, Ipam, SdnConfig, Subnet, Vnet, Zone
from sdnkit.config.schema import Kind
from sdnkit.errors import ConfigError, NotFoundError
from sdnkit.ipam.base import IpamPlugin, PluginEnv, build_plugin
from sdnkit.ipam.journal import JournalStorage
from sdnkit.ipam.keyed import KeyedStorage
from sdnkit.ipam.ranges import network
from sdnkit.ipam.storage import IpamStorage
from sdnkit.store.base import Store
from sdnkit.store.local import LocalStore
from sdnkit.store.snapshot import load_snapshot

__all__ = [
    "BUILTIN",
    "JOURNAL",
    "IpamContext",
    "Scope",
    "context",
    "need_plugin",
    "resolve_vnet",
    "running_context",
    "storage_for",
    "subnet_of",
]

BUILTIN = "pve"
JOURNAL = ".sdnkit/pve-ipam.journal"

_journals: OrderedDict[Path, IpamStorage] = OrderedDict()  # most recently used last
_MAX_JOURNALS = 32  # a process serves one store; tests open many: keep file descriptors bounded
_documents: weakref.WeakKeyDictionary[Any, IpamStorage] = weakref.WeakKeyDictionary()
_storages_lock = threading.Lock()


def storage_for(store: Store) -> IpamStorage:
    """The built-in IPAM's storage for ``store``, one per store and process (it caches state).

    A local directory store gets the journal (``<dir>/.sdnkit/pve-ipam.journal``); any other
    store (etcd) one document per address (``ipam/keyed.py``).
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
            _documents[store] = KeyedStorage(store)
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


def resolve_vnet(ctx: IpamContext, vnet_id: str) -> Scope:
    """The vnet, its zone, the zone's IPAM plugin (``None`` without ``ipam``) and its subnets."""
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


def need_plugin(scope: Scope) -> IpamPlugin:
    if scope.plugin is None:
        raise ConfigError(f'zone "{scope.zone.id}" has no IPAM (set its "ipam" option)', key="ipam")
    return scope.plugin


def subnet_of(scope: Scope, ip: IPAddress) -> Subnet:
    for subnet in scope.subnets:
        net = network(subnet.cidr)
        if net.version == ip.version and ip in net:
            return subnet
    raise ConfigError(f'vnet "{scope.vnet.id}": {ip} is not in any of its subnets', key="ip", value=str(ip))
