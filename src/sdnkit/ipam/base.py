"""The IPAM plugin interface and the registry of plugin types.

An IPAM plugin keeps the addresses of the subnets of the zones that use it. One module per type:
``pve`` (built-in, state in the store: ``ipam/pve.py``), ``netbox`` and ``phpipam`` (REST
servers). The service layer (``sdnkit.service.ipam``) decides which subnet and which family to
use; a plugin only does what it is told, for one subnet at a time, and raises:

* ``IpamExhaustedError`` when a pool has no free address left;
* ``IpamError`` when the address is taken, outside the subnet, or the subnet is not empty;
* ``NotFoundError`` when the address to change or delete is not registered;
* ``ExternalServiceError`` when a server answered badly, did not answer, or failed TLS checks.

Plugins never leave a partial change behind: an operation that makes several calls undoes the
earlier ones when a later one fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sdnkit.config.model import DhcpRange, IPAddress, Ipam, Subnet
from sdnkit.errors import ConfigError

if TYPE_CHECKING:
    from sdnkit.ipam.storage import IpamStorage

__all__ = [
    "IPAM_TYPES",
    "Allocation",
    "IpEntry",
    "IpamPlugin",
    "PluginEnv",
    "Undo",
    "build_plugin",
    "undo_on_error",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class IpEntry:
    """What an IPAM records about one address (upstream's entry kinds, spec §1.4).

    A gateway is ``IpEntry(gateway=True)``; a guest NIC has ``mac`` and usually ``vmid`` and
    ``hostname``; a mapping made through the API may have only ``mac``.
    """

    mac: str | None = None
    hostname: str | None = None
    vmid: str | None = None
    gateway: bool = False

    def to_json(self) -> dict[str, object]:
        """Upstream's JSON shape: ``{"gateway": 1}`` or ``{vmid?, mac?, hostname?}``."""
        if self.gateway:
            return {"gateway": 1}
        out: dict[str, object] = {}
        if self.vmid is not None:
            out["vmid"] = self.vmid
        if self.mac is not None:
            out["mac"] = self.mac
        if self.hostname is not None:
            out["hostname"] = self.hostname
        return out

    @classmethod
    def from_json(cls, data: object) -> IpEntry:
        if not isinstance(data, dict):
            return cls()
        if data.get("gateway"):
            return cls(gateway=True)
        vmid, mac, hostname = data.get("vmid"), data.get("mac"), data.get("hostname")
        return cls(
            vmid=str(vmid) if vmid not in (None, "") else None,
            mac=str(mac) if mac else None,
            hostname=str(hostname) if hostname else None,
        )

    def same_mac(self, mac: str) -> bool:
        return self.mac is not None and self.mac.lower() == mac.lower()


@dataclass(frozen=True, slots=True)
class Allocation:
    """One registered address of a configured subnet."""

    subnet: Subnet
    ip: IPAddress
    entry: IpEntry

    @property
    def zone(self) -> str:
        return self.subnet.zone

    @property
    def vnet(self) -> str:
        return self.subnet.vnet

    def to_status(self) -> dict[str, object]:
        """The row of ``GET /cluster/sdn/ipams/{ipam}/status`` (upstream: entry + location)."""
        row: dict[str, object] = dict(self.entry.to_json())
        row.update(zone=self.subnet.zone, subnet=self.subnet.cidr, vnet=self.subnet.vnet, ip=str(self.ip))
        return row


class IpamPlugin(Protocol):
    """One configured IPAM. Subnets are typed config objects; ``subnet.zone`` scopes them."""

    id: str

    def verify(self) -> None:
        """Check that the IPAM answers with the configured credentials (on ipam create/update)."""
        ...

    def add_subnet(self, subnet: Subnet) -> None:
        """Register the subnet (and its DHCP ranges where the IPAM knows ranges)."""
        ...

    def update_subnet(self, old: Subnet, new: Subnet) -> None: ...

    def del_subnet(self, subnet: Subnet) -> None:
        """Unregister the subnet; refused with ``IpamError`` if more than the gateway is left."""
        ...

    def add_ip(self, subnet: Subnet, ip: IPAddress, entry: IpEntry) -> None:
        """Register exactly ``ip``; ``IpamError`` if taken (a gateway may be re-registered)."""
        ...

    def update_ip(self, subnet: Subnet, ip: IPAddress, entry: IpEntry) -> None:
        """Replace the MAC/hostname/vmid recorded for ``ip``."""
        ...

    def del_ip(self, subnet: Subnet, ip: IPAddress) -> None: ...

    def next_free_ip(self, subnet: Subnet, entry: IpEntry, pool: DhcpRange | None = None) -> IPAddress:
        """Allocate and register the lowest free address of ``pool`` (or of the subnet)."""
        ...

    def find_mac(self, subnets: Sequence[Subnet], mac: str) -> list[Allocation]:
        """Addresses registered for ``mac`` (any case) in ``subnets``."""
        ...

    def allocations(self, subnets: Sequence[Subnet]) -> list[Allocation]:
        """Every address registered in ``subnets``."""
        ...


@dataclass
class Undo:
    """Inverse steps of the side effects made so far, run newest first if the operation fails."""

    steps: list[tuple[str, Callable[[], Any]]] = field(default_factory=list)

    def push(self, what: str, step: Callable[[], Any]) -> None:
        self.steps.append((what, step))

    def rollback(self, err: BaseException) -> None:
        """Run every step; a failing step becomes a note on ``err``, never hiding it."""
        while self.steps:
            what, step = self.steps.pop()
            try:
                step()
            except Exception as undo_err:  # reported on the original error
                err.add_note(f"undo failed ({what}): {undo_err}")


@contextmanager
def undo_on_error() -> Iterator[Undo]:
    """``with undo_on_error() as undo: …; undo.push("delete x", …)``: all or nothing."""
    undo = Undo()
    try:
        yield undo
    except BaseException as err:
        undo.rollback(err)
        raise


@dataclass(frozen=True, slots=True, kw_only=True)
class PluginEnv:
    """What plugins get besides their config section."""

    storage: IpamStorage | None = None  # state of the built-in IPAM
    timeout: float = 30.0  # seconds per HTTP call to an external IPAM (upstream: 30)
    cafile: str | None = None  # extra CA bundle that external IPAM certificates may chain to


IpamFactory = Callable[[Ipam, PluginEnv], IpamPlugin]


def _pve(ipam: Ipam, env: PluginEnv) -> IpamPlugin:
    from sdnkit.ipam.pve import PveIpam

    if env.storage is None:
        raise ConfigError(f'ipam "{ipam.id}": the built-in IPAM needs a state storage')
    return PveIpam(ipam.id, env.storage)


def _netbox(ipam: Ipam, env: PluginEnv) -> IpamPlugin:
    from sdnkit.ipam.netbox import NetboxIpam

    return NetboxIpam.from_config(ipam, env)


def _phpipam(ipam: Ipam, env: PluginEnv) -> IpamPlugin:
    from sdnkit.ipam.phpipam import PhpipamIpam

    return PhpipamIpam.from_config(ipam, env)


# type name (the section type in ipams.cfg) → factory; imports are deferred so that a plugin
# module may import this one
IPAM_TYPES: dict[str, IpamFactory] = {"pve": _pve, "netbox": _netbox, "phpipam": _phpipam}


def build_plugin(ipam: Ipam, env: PluginEnv) -> IpamPlugin:
    factory = IPAM_TYPES.get(ipam.type)
    if factory is None:
        known = ", ".join(sorted(IPAM_TYPES))
        raise ConfigError(
            f'ipam "{ipam.id}": unknown IPAM type {ipam.type!r} (known: {known})',
            obj=f'ipam "{ipam.id}"',
            key="type",
            value=ipam.type,
        )
    return factory(ipam, env)
