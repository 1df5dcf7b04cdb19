"""The IPAM change hooks (``HOOKS``): subnets registered in the zones' IPAMs, IPAMs checked.

As PVE's ``Subnets.pm`` does inside its locked configuration write, a subnet change registers,
updates or unregisters the subnet and its gateway (hostname ``<vnet>-gw``) in the zone's IPAM;
every step registers its undo with the transaction, so an aborted write leaves the IPAM as it was.

Creating or updating an external IPAM (NetBox, phpIPAM) first checks that the server answers with
the configured URL, credentials and TLS trust (PVE's ``on_update_hook`` of those plugins): a
wrong token or URL is refused at once, naming the IPAM, the option and what the server said,
instead of at the first subnet. The CLI, ``pvesh`` and the REST API all write through here.

Imported changes (``cause == "import"``) bring their IPAM state along and are skipped.

Before any change acts, ``SubnetIpamHook.check`` refuses what the IPAM would refuse part way, by
reading it (see ``service/transaction.py``): a new gateway that is registered to a guest, and a
deleted subnet that still holds guest addresses. A refused change therefore writes nothing, not
even an undo record in the IPAM journal. An old gateway is unregistered only if the IPAM holds
it as the gateway: a state that lost it (or gave the address to a guest) does not block the edit.
"""

from __future__ import annotations

from collections.abc import Callable

from sdnkit.config.model import IPAddress, Ipam, SdnConfig, Subnet
from sdnkit.config.schema import Kind
from sdnkit.config.section import Section
from sdnkit.errors import ConfigError
from sdnkit.ipam.base import Allocation, IpamPlugin, IpEntry, PluginEnv, build_plugin
from sdnkit.service.ipam_context import BUILTIN, IpamContext, storage_for
from sdnkit.service.transaction import Action, ObjectChange, Transaction

__all__ = ["CHECK_TIMEOUT", "HOOKS", "IpamCheckHook", "SubnetIpamHook", "on_ipam_change", "on_subnet_change"]

CHECK_TIMEOUT = 10.0  # seconds per call when an IPAM is checked: the SDN lock is held meanwhile


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


def _gateway_entry(subnet: Subnet) -> IpEntry:
    return IpEntry(gateway=True, hostname=f"{subnet.vnet}-gw")


def _subnet(section: Section | None) -> Subnet | None:
    return Subnet.from_section(section) if section is not None else None


def _registered(plugin: IpamPlugin, subnet: Subnet) -> dict[IPAddress, Allocation]:
    return {a.ip: a for a in plugin.allocations([subnet])}


def _owner(entry: IpEntry) -> str:
    fields = (("vmid", entry.vmid), ("mac", entry.mac), ("hostname", entry.hostname))
    parts = [f"{k}={v}" for k, v in fields if v]
    return f" ({', '.join(parts)})" if parts else ""


def _check_gateway_free(plugin: IpamPlugin, subnet: Subnet) -> None:
    gw = _gateway(subnet)
    if gw is None:
        return
    taken = _registered(plugin, subnet).get(gw)
    if taken is not None and not taken.entry.gateway:
        label = f'subnet "{subnet.id}"'
        raise ConfigError(
            f'{label}: gateway {gw} is already registered in ipam "{plugin.id}"{_owner(taken.entry)}: '
            "release that address first or choose another gateway",
            obj=label,
            key="gateway",
            value=str(gw),
        )


def _check_empty(plugin: IpamPlugin, subnet: Subnet) -> None:
    used = sorted((a.ip for a in plugin.allocations([subnet]) if not a.entry.gateway), key=int)
    if used:
        label = f'subnet "{subnet.id}"'
        raise ConfigError(
            f"{label}: cannot delete it, {len(used)} address(es) are still registered in ipam "
            f'"{plugin.id}" (e.g. {used[0]}): release them first',
            obj=label,
            key="subnet",
            value=subnet.id,
        )


class SubnetIpamHook:
    """Register, update or unregister a subnet and its gateway in the zone's IPAM."""

    @staticmethod
    def _plugin(
        change: ObjectChange, tx: Transaction
    ) -> tuple[IpamPlugin | None, Subnet | None, Subnet | None]:
        """The zone's IPAM plugin (None: nothing to do) and the subnet before and after."""
        if change.kind is not Kind.SUBNETS or change.cause == "import":
            return None, None, None
        old, new = _subnet(change.old), _subnet(change.new)
        config = change.before if change.action is Action.DELETE else change.after
        subnet = new or old
        assert subnet is not None
        return _hook_plugin(tx, subnet, config), old, new

    def check(self, change: ObjectChange, tx: Transaction) -> None:
        """What the IPAM would refuse, found by reading it before anything is written."""
        plugin, old, new = self._plugin(change, tx)
        if plugin is None:
            return
        if change.action is Action.DELETE:
            assert old is not None
            _check_empty(plugin, old)
        elif new is not None and (old is None or _gateway(old) != _gateway(new)):
            _check_gateway_free(plugin, new)

    def __call__(self, change: ObjectChange, tx: Transaction) -> None:
        plugin, old, new = self._plugin(change, tx)
        if plugin is not None:
            _HOOK_ACTIONS[change.action](plugin, tx, old, new)


def _created(plugin: IpamPlugin, tx: Transaction, old: Subnet | None, new: Subnet | None) -> None:
    assert new is not None
    plugin.add_subnet(new)
    tx.on_abort(lambda: plugin.del_subnet(new))
    _add_gateway(plugin, tx, new)


def _add_gateway(plugin: IpamPlugin, tx: Transaction, subnet: Subnet) -> None:
    gw = _gateway(subnet)
    if gw is not None:
        plugin.add_ip(subnet, gw, _gateway_entry(subnet))
        tx.on_abort(lambda: plugin.del_ip(subnet, gw))


def _updated(plugin: IpamPlugin, tx: Transaction, old: Subnet | None, new: Subnet | None) -> None:
    assert old is not None and new is not None
    plugin.update_subnet(old, new)
    tx.on_abort(lambda: plugin.update_subnet(new, old))
    old_gw, new_gw = _gateway(old), _gateway(new)
    if old_gw == new_gw:
        return
    held = _registered(plugin, old).get(old_gw) if old_gw is not None else None
    _add_gateway(plugin, tx, new)
    if old_gw is not None and held is not None and held.entry.gateway:
        plugin.del_ip(old, old_gw)
        tx.on_abort(lambda: plugin.add_ip(old, old_gw, held.entry))


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


class IpamCheckHook:
    """Refuse an external IPAM that does not answer with its URL, token and TLS trust.

    Only a check (it reads the server), so it runs before any hook writes anything."""

    def check(self, change: ObjectChange, tx: Transaction) -> None:
        if change.kind is not Kind.IPAMS or change.action is Action.DELETE or change.cause != "edit":
            return
        assert change.new is not None
        ipam = Ipam.from_section(change.new)
        if ipam.type != BUILTIN:
            build_plugin(ipam, PluginEnv(timeout=CHECK_TIMEOUT)).verify()

    def __call__(self, change: ObjectChange, tx: Transaction) -> None:
        pass  # everything happened in ``check``


on_ipam_change = IpamCheckHook()
on_subnet_change = SubnetIpamHook()
HOOKS = (on_ipam_change, on_subnet_change)
