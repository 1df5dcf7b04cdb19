"""Guest ports: ``(vnet, guest id, mac)`` with its addresses, DHCP mapping, DNS records and device.

Operations (the CLI ``sdn port`` and the REST API call these; the lab's ``sdn lab guest add
--dhcp`` too)::

    ctx = PortContext(store=store, node="node1", node_netns="lab-node1",
                      dhcp=DhcpSettings(paths=DhcpPaths.under(node_dir), netns="lab-node1"))
    port = add_port(ctx, PortSpec(vnet="vnet1", guest="100", mac="bc:24:11:00:00:01",
                                  hostname="web1", netns="lab-vm1"))   # veth "veth100i0" → eth0
    port.ips                                  # ("10.0.1.100", "2001:db8::100")
    del_port(ctx, "vnet1", "100", "bc:24:11:00:00:01")
    list_ports(ctx, vnet="vnet1")

``add_port`` runs these steps, each undone again when a later one fails, so a port is either
fully there or not at all; the error names the step (``port "vnet1/100/bc:…": dns failed: …``)
and keeps its type (``IpamExhaustedError`` stays a 409):

1. ``ipam``: one address per family the vnet has subnets of, in the zone's IPAM (none when the
   zone has no ``ipam``): the requested one (``ips``), else the next free (``port_addresses``);
2. ``dhcp``: this node's static mappings of the zone (when ``ctx.dhcp`` is set and the node
   serves the zone): a reload, never a restart. Other nodes' agents take them from IPAM state;
3. ``dns``: A/AAAA and PTR records (zone ``dns``/``reversedns``/``dnszone``, with a hostname);
4. ``firewall``: this node's ``guest-ipam-<guest>`` nftables sets (when ``ctx.firewall``);
5. ``device``: a veth into ``netns``, or a tap, plugged into the vnet bridge (when asked);
6. ``registry``: the port record, the store document ``ports/<vnet>/<guest>/<mac>.json``.

``del_port`` removes the same things (device first), all or nothing as well. Port operations
hold the store lock ``ports``; ports are created on ``ctx.node``.
"""

from __future__ import annotations

import ipaddress
import platform
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from sdnkit.config.formats import DNS_NAME, Mac
from sdnkit.config.model import Dns, IPAddress, SdnConfig, Subnet, Vnet, Zone
from sdnkit.config.schema import Kind
from sdnkit.dhcp.base import DhcpSettings
from sdnkit.dns.base import DnsRegistration, registration_for
from sdnkit.errors import ConfigError, NotFoundError, RealizeError, SdnError
from sdnkit.ipam.base import Allocation
from sdnkit.plan.dhcp import hosts_for, plan_dhcp
from sdnkit.plan.firewall import guest_ipsets
from sdnkit.realize.dhcp import sync_hosts
from sdnkit.realize.ipsets import apply_ipsets
from sdnkit.realize.port_device import DeviceKind, PortDevice, link_exists, netns_exists, plug, unplug
from sdnkit.service import ipam as ipam_service
from sdnkit.service.port_addresses import PortRequest, builtin_zone, give_back, take, zone_allocations
from sdnkit.service.port_registry import PORTS_DOC, Port, PortsRevision, port_key, read_ports, write_ports
from sdnkit.store.base import Store
from sdnkit.store.snapshot import load_snapshot

__all__ = ["PORTS_DOC", "Port", "PortContext", "PortSpec", "add_port", "del_port", "list_ports", "local_node"]

_GUEST_ID = re.compile(r"[1-9][0-9]{2,8}")  # PVE vmid: 100-999999999


def local_node() -> str:
    return platform.node().split(".")[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class PortSpec:
    vnet: str
    guest: str  # guest ID (PVE vmid)
    mac: str
    hostname: str | None = None
    ips: tuple[IPAddress, ...] = ()  # wanted addresses, at most one per family
    netns: str | None = None  # create a veth into this network namespace
    tap: str | None = None  # or plug (creating it if needed) this tap
    ifname: str = "eth0"  # the veth's name inside ``netns``


@dataclass(frozen=True, slots=True, kw_only=True)
class PortContext:
    store: Store
    node: str = field(default_factory=local_node)
    node_netns: str | None = None  # the namespace holding this node's vnet bridges (lab nodes)
    dhcp: DhcpSettings | None = None  # this node's DHCP servers; None: leave them to the agent
    firewall: bool = field(default_factory=lambda: shutil.which("nft") is not None)
    timeout: float = 10.0  # seconds per call to an external IPAM or DNS server
    lock_timeout: float = 30.0


@dataclass
class _View:
    """Everything a port operation reads, once, under the ports lock."""

    ctx: PortContext
    ipam: ipam_service.IpamContext  # running zones/vnets/subnets + current IPAM definitions
    dns: dict[str, Dns]
    ports: dict[str, Port]
    revision: PortsRevision

    @classmethod
    def load(cls, ctx: PortContext) -> _View:
        snap = load_snapshot(ctx.store, lenient=True)
        sections = {**snap.running.config.sections, Kind.IPAMS: snap.sections(Kind.IPAMS)}
        ictx = ipam_service.context(ctx.store, SdnConfig(sections), timeout=ctx.timeout)
        ports, revision = read_ports(ctx.store)
        return cls(ctx, ictx, dict(snap.config.dns), ports, revision)

    @property
    def running(self) -> SdnConfig:
        return self.ipam.config

    def vnet(self, vnet_id: str) -> tuple[Vnet, Zone, list[Subnet]]:
        vnet = self.running.vnets.get(vnet_id)
        if vnet is None:
            raise NotFoundError(f'vnet "{vnet_id}" is not in the running config (apply it first)', key="vnet")
        zone = self.running.zones.get(vnet.zone)
        if zone is None:
            raise NotFoundError(
                f'vnet "{vnet_id}": zone "{vnet.zone}" is not in the running config', key="vnet"
            )
        return vnet, zone, self.running.subnets_of(vnet_id)


def _check_spec(spec: PortSpec, subnets: list[Subnet]) -> PortSpec:
    if not _GUEST_ID.fullmatch(spec.guest):
        raise ConfigError(
            f"guest ID {spec.guest!r} is not a number 100-999999999", key="guest", value=spec.guest
        )
    try:
        mac = Mac().parse(spec.mac).lower()
    except ValueError as err:
        raise ConfigError(f"invalid MAC: {err}", key="mac", value=spec.mac) from None
    if spec.hostname is not None and not DNS_NAME.fullmatch(spec.hostname.rstrip(".")):
        raise ConfigError(f"hostname {spec.hostname!r} is not a valid DNS name", key="hostname")
    if spec.netns and spec.tap:
        raise ConfigError("give either a netns or a tap, not both", key="netns")
    families = [ip.version for ip in spec.ips]
    if len(families) != len(set(families)):
        raise ConfigError("at most one address per family", key="ip")
    for ip in spec.ips:
        if getattr(ip, "scope_id", None) is not None:
            raise ConfigError(f'invalid value for "ip": {str(ip)!r} has an IPv6 zone ID (%...)', key="ip")
        if not any(ip in s.network for s in subnets):
            nets = ", ".join(str(s.network) for s in subnets) or "none"
            raise ConfigError(f'{ip} is in no subnet of vnet "{spec.vnet}" ({nets})', key="ip", value=str(ip))
    return replace(spec, mac=mac)


# -- step plumbing -------------------------------------------------------------------------------


@contextmanager
def _step(port: str, name: str) -> Iterator[None]:
    """Name the failing step in the error, keeping the error's type."""
    try:
        yield
    except SdnError as err:
        err.message = f'port "{port}": {name} failed: {err.message}'
        err.args = (err.message,)
        raise
    except (OSError, subprocess.SubprocessError, ValueError) as err:
        raise RealizeError(f'port "{port}": {name} failed: {err}') from err


class _Undo:
    """Undo steps that never raise: their failures are reported with the original error."""

    def __init__(self, stack: ExitStack) -> None:
        self.stack = stack
        self.failures: list[str] = []

    def add(self, what: str, fn: Callable[..., object], *args: object) -> None:
        def run() -> None:
            try:
                fn(*args)
            except Exception as err:  # keep undoing the rest
                self.failures.append(f"undo {what}: {err}")

        self.stack.callback(run)


def _all_or_nothing(work: Callable[[_Undo], Port]) -> Port:
    with ExitStack() as stack:
        undo = _Undo(stack)
        try:
            result = work(undo)
        except SdnError as err:
            stack.close()
            if undo.failures:
                err.message += f" (and undoing failed: {'; '.join(undo.failures)})"
                err.args = (err.message,)
            raise
        stack.pop_all()
    return result


# -- the steps' effects --------------------------------------------------------------------------


def _sync_dhcp(view: _View, zone: Zone, allocations: list[Allocation]) -> None:
    settings = view.ctx.dhcp
    if settings is None or not zone.dhcp:
        return
    for inst in plan_dhcp(view.running, view.ctx.node).instances:
        if inst.zone == zone.id:
            sync_hosts(zone.id, hosts_for(inst, allocations), settings)


def _dhcp_step(view: _View, zone: Zone, now: list[Allocation], before: list[Allocation], undo: _Undo) -> None:
    undo.add("restore the DHCP mappings", _sync_dhcp, view, zone, before)
    _sync_dhcp(view, zone, now)


def _guest_allocations(view: _View, guest: str) -> list[Allocation]:
    out: list[Allocation] = []
    for zone in view.running.zones.values():
        if builtin_zone(view.ipam, zone):
            out += [a for a in zone_allocations(view.ipam, zone) if a.entry.vmid == guest]
    return out


def _sync_firewall(view: _View, guest: str, allocations: list[Allocation]) -> None:
    sets = guest_ipsets(allocations)
    apply_ipsets(sets, netns=view.ctx.node_netns, scope=[f"guest-ipam-{guest}"])


def _firewall_step(view: _View, guest: str, changed: list[Allocation], added: bool, undo: _Undo) -> None:
    """The guest's sets from IPAM now, with an undo back to before this port change."""
    if not view.ctx.firewall:
        return
    now = _guest_allocations(view, guest)
    ips = {a.ip for a in changed}
    before = [a for a in now if a.ip not in ips] if added else now + changed
    undo.add("restore the guest's IP set", _sync_firewall, view, guest, before)
    _sync_firewall(view, guest, now)


def _registrations(view: _View, zone: Zone, subnets: list[Subnet], hostname: str | None) -> dict[str, Any]:
    regs = {s.id: registration_for(view.dns, zone, s, hostname, timeout=view.ctx.timeout) for s in subnets}
    for reg in regs.values():
        if reg is not None:
            reg.check([])  # the forward zone exists: fail before allocating anything
    return regs


def _port_device(view: _View, vnet: Vnet, zone: Zone, mac: str, **kw: Any) -> PortDevice:
    """The device of a port on this vnet: isolation and learning from the config (spec §3.7)."""
    return PortDevice(
        bridge=vnet.id,
        mac=mac,
        node_netns=view.ctx.node_netns,
        isolated=vnet.isolate_ports,
        learning=not zone.bridge_disable_mac_learning,
        **kw,
    )


def _new_device(view: _View, spec: PortSpec, vnet: Vnet, zone: Zone) -> PortDevice | None:
    node_ns = view.ctx.node_netns
    if spec.tap:
        created = not link_exists(spec.tap, node_ns)
        return _port_device(view, vnet, zone, spec.mac, kind=DeviceKind.TAP, name=spec.tap, created=created)
    if not spec.netns:
        return None
    used = {p.device for p in view.ports.values() if p.node == view.ctx.node}
    names = (f"veth{spec.guest}i{i}" for i in range(100))  # PVE's veth<vmid>i<n>
    name = next((n for n in names if n not in used and not link_exists(n, node_ns)), None)
    if name is None:
        raise ConfigError(f'guest "{spec.guest}" has no free veth name left on this node', key="guest")
    kw = {"kind": DeviceKind.VETH, "name": name, "netns": spec.netns, "ifname": spec.ifname}
    return _port_device(view, vnet, zone, spec.mac, **kw)


def _old_device(view: _View, port: Port, vnet: Vnet, zone: Zone) -> PortDevice | None:
    if not port.device or port.node != view.ctx.node:
        return None  # another node's device is that node's business
    kind = DeviceKind(port.device_kind or "veth")
    kw = {"kind": kind, "name": port.device, "netns": port.netns, "ifname": port.ifname or "eth0"}
    return _port_device(view, vnet, zone, port.mac, created=port.device_created, **kw)


def _ipam_request(view: _View, spec: PortSpec) -> PortRequest:
    """The port's IPAM request; the addresses of the vnet's other ports are never reused."""
    held = [ipaddress.ip_address(i) for p in view.ports.values() if p.vnet == spec.vnet for i in p.ips]
    return PortRequest(
        vnet=spec.vnet, mac=spec.mac, hostname=spec.hostname, guest=spec.guest, wanted=spec.ips, held=held
    )


def _subnet_of(subnets: list[Subnet], ip: IPAddress) -> Subnet:
    return next(s for s in subnets if ip in s.network)


# -- operations ----------------------------------------------------------------------------------


def add_port(ctx: PortContext, spec: PortSpec) -> Port:
    """Create a port, all or nothing (see the module docstring)."""
    with ctx.store.lock("ports", timeout=ctx.lock_timeout):
        view = _View.load(ctx)
        vnet, zone, subnets = view.vnet(spec.vnet)
        spec = _check_spec(spec, subnets)
        key = port_key(spec.vnet, spec.guest, spec.mac)
        if key in view.ports:
            raise ConfigError(f'port "{key}" already exists', key="mac", value=spec.mac)
        return _all_or_nothing(lambda undo: _add_steps(view, spec, key, (vnet, zone, subnets), undo))


def _add_steps(
    view: _View, spec: PortSpec, key: str, where: tuple[Vnet, Zone, list[Subnet]], undo: _Undo
) -> Port:
    vnet, zone, subnets = where
    with _step(key, "dns"):
        regs = _registrations(view, zone, subnets, spec.hostname)
    ips: list[IPAddress] = list(spec.ips)
    if zone.ipam:
        with _step(key, "ipam"):
            new = take(view.ipam, _ipam_request(view, spec))
            for alloc in new:
                undo.add(f"release {alloc.ip}", give_back, view.ipam, alloc)
            ips = [a.ip for a in new]
        with _step(key, "dhcp"):
            now = zone_allocations(view.ipam, zone)
            _dhcp_step(view, zone, now, [a for a in now if a.ip not in ips], undo)
        with _step(key, "firewall"):
            _firewall_step(view, spec.guest, new, True, undo)
    with _step(key, "dns"):
        for ip in ips:
            reg: DnsRegistration | None = regs[_subnet_of(subnets, ip).id]
            if reg is not None:
                reg.add(ip)
                undo.add(f"remove the DNS records of {ip}", reg.remove, ip)
    device = _new_device(view, spec, vnet, zone)
    if device is not None:
        with _step(key, "device"):
            plug(device)
            undo.add(f"remove {device.name}", unplug, device)
    port = Port(
        vnet=vnet.id, zone=zone.id, guest=spec.guest, mac=spec.mac, node=view.ctx.node,
        hostname=spec.hostname, ips=tuple(str(i) for i in ips), device=device.name if device else None,
        device_kind=str(device.kind) if device else None, netns=spec.netns,
        ifname=spec.ifname if spec.netns else None, device_created=device.created if device else True,
    )  # fmt: skip
    with _step(key, "registry"):
        write_ports(view.ctx.store, {**view.ports, key: port}, view.revision)
    return port


def del_port(ctx: PortContext, vnet_id: str, guest: str, mac: str) -> Port:
    """Remove a port and everything it holds, all or nothing."""
    with ctx.store.lock("ports", timeout=ctx.lock_timeout):
        view = _View.load(ctx)
        key = port_key(vnet_id, guest, mac)
        port = view.ports.get(key)
        if port is None:
            raise NotFoundError(f'port "{key}" does not exist', key="mac", value=mac)
        return _all_or_nothing(lambda undo: _del_steps(view, port, undo))


def _del_steps(view: _View, port: Port, undo: _Undo) -> Port:
    vnet, zone, subnets = view.vnet(port.vnet)
    key, ips = port.key, [ipaddress.ip_address(i) for i in port.ips]
    device = _old_device(view, port, vnet, zone)
    if device is not None:
        with _step(key, "device"):
            unplug(device)
            if device.kind is DeviceKind.TAP or (device.netns and netns_exists(device.netns)):
                undo.add(f"plug {device.name} again", plug, device)
    with _step(key, "dns"):
        regs = _registrations(view, zone, subnets, port.hostname)
        for ip in ips:
            reg = regs.get(_subnet_of(subnets, ip).id)
            if reg is not None:
                reg.remove(ip)
                undo.add(f"restore the DNS records of {ip}", reg.add, ip)
    if zone.ipam:
        with _step(key, "ipam"):
            mine = [
                a for a in zone_allocations(view.ipam, zone) if a.entry.same_mac(port.mac) and a.ip in ips
            ]
            plugin = view.ipam.plugin(zone.ipam)
            for alloc in mine:
                give_back(view.ipam, alloc)
                undo.add(f"register {alloc.ip} again", plugin.add_ip, alloc.subnet, alloc.ip, alloc.entry)
        with _step(key, "dhcp"):
            now = zone_allocations(view.ipam, zone)
            _dhcp_step(view, zone, now, now + mine, undo)
        with _step(key, "firewall"):
            _firewall_step(view, port.guest, mine, False, undo)
    with _step(key, "registry"):
        write_ports(view.ctx.store, {k: p for k, p in view.ports.items() if k != key}, view.revision)
    return port


def list_ports(ctx: PortContext, *, vnet: str | None = None, guest: str | None = None) -> list[Port]:
    ports, _revision = read_ports(ctx.store)
    return [
        p
        for _key, p in sorted(ports.items())
        if (vnet is None or p.vnet == vnet) and (guest is None or p.guest == guest)
    ]
