"""The IPAM change hooks (``HOOKS``): subnets registered in the zones' IPAMs, IPAMs checked.

As PVE's ``Subnets.pm`` does inside its locked configuration write, a subnet change registers,
updates or unregisters the subnet and its gateway (hostname ``<vnet>-gw``) in the zone's IPAM;
every step registers its undo with the transaction, so an aborted write leaves the IPAM as it was.

Creating or updating an external IPAM (NetBox, phpIPAM) first checks that the server answers with
the configured URL, credentials and TLS trust (PVE's ``on_update_hook`` of those plugins): a
wrong token or URL is refused at once, naming the IPAM, the option and what the server said,
instead of at the first subnet. The CLI, ``pvesh`` and the REST API all write through here.

Imported changes (``cause == "import"``) bring their IPAM state along and are skipped.
"""

from __future__ import annotations

from collections.abc import Callable

from sdnkit.config.model import IPAddress, Ipam, SdnConfig, Subnet
from sdnkit.config.schema import Kind
from sdnkit.config.section import Section
from sdnkit.ipam.base import IpamPlugin, IpEntry, PluginEnv, build_plugin
from sdnkit.service.ipam_context import BUILTIN, IpamContext, storage_for
from sdnkit.service.transaction import Action, ObjectChange, Transaction

__all__ = ["CHECK_TIMEOUT", "HOOKS", "on_ipam_change", "on_subnet_change"]

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
        plugin.add_ip(subnet, gw, _gateway_entry(subnet))
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
        tx.on_abort(lambda: plugin.add_ip(old, old_gw, _gateway_entry(old)))


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


def on_ipam_change(change: ObjectChange, tx: Transaction) -> None:
    """Refuse an external IPAM that does not answer with its URL, token and TLS trust."""
    if change.kind is not Kind.IPAMS or change.action is Action.DELETE or change.cause != "edit":
        return
    assert change.new is not None
    ipam = Ipam.from_section(change.new)
    if ipam.type != BUILTIN:
        build_plugin(ipam, PluginEnv(timeout=CHECK_TIMEOUT)).verify()


HOOKS = (on_ipam_change, on_subnet_change)
