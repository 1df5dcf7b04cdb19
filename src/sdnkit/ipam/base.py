"""The IPAM plugin interface and the registry of plugin types.

An IPAM plugin keeps the addresses of the subnets of the zones that use it. One module per type:
``pve`` (built-in, state in the store: ``ipam/pve.py``), ``netbox`` and ``phpipam`` (REST
servers). The service layer (``sdnkit.service.ipam``) decides which subnet and which family to
use; a plugin only does what it is told, for one subnet at a time, and raises:

* ``IpamExhaustedError`` when a pool has no free address left;
* ``IpamTakenError`` when the address is already registered (the API answers 409);
* ``IpamError`` when the address is outside the subnet, or the subnet is not empty;
* ``NotFoundError`` when the address to change or delete is not registered;
* ``ExternalServiceError`` when a server answered badly, did not answer, failed TLS checks, or
  sent an answer the plugin cannot read (``reads_answers``: never a bare ``KeyError``);
* ``ConfigError`` from ``verify`` when the server refuses the configured URL, token or section.

Plugins never leave a partial change behind: an operation that makes several calls undoes the
earlier ones when a later one fails.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from sdnkit.config.model import DhcpRange, IPAddress, Ipam, Subnet
from sdnkit.errors import ConfigError, ExternalServiceError, SdnError
from sdnkit.ipam.http import HttpSettings

if TYPE_CHECKING:
    from sdnkit.ipam.storage import IpamStorage

__all__ = [
    "IPAM_TYPES",
    "Allocation",
    "CheckFailure",
    "IpEntry",
    "IpamPlugin",
    "PluginEnv",
    "Undo",
    "build_plugin",
    "http_settings",
    "reads_answers",
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
        """Check that the IPAM answers with the configured credentials (on ipam create/update).

        ``ConfigError`` naming the option to fix (``url``, ``token``, ``section``, ``fingerprint``,
        ``cafile``) and what the server said.
        """
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
    cafile: str | None = None  # process-wide extra CA bundle; an IPAM's own ``cafile`` option wins


def http_settings(ipam: Ipam, env: PluginEnv, product: str, headers: Mapping[str, str]) -> HttpSettings:
    """How to reach an external IPAM: its URL, TLS trust (pin or CA file) and the timeout."""
    label = f'ipam "{ipam.id}"'
    if ipam.fingerprint and ipam.cafile:
        raise ConfigError(
            f'{label}: give "fingerprint" (pin the certificate) or "cafile" (trust a CA), not both',
            obj=label,
            key="cafile",
            value=ipam.cafile,
        )
    return HttpSettings(
        url=str(ipam.url),
        service=f"{label} ({product})",
        headers=headers,
        fingerprint=ipam.fingerprint,
        timeout=env.timeout,
        cafile=ipam.cafile or env.cafile,
    )


# what a failed ``verify`` means, by the option to fix
_CHECK_PROBLEMS = {
    "url": "{product} cannot be reached at this URL",
    "answer": "{product} answered the check with an error",
    "token": "{product} refused the token",
    "section": "{product} has no such section",
    "fingerprint": "the server certificate does not match the pinned fingerprint",
    "cafile": "the server certificate is not trusted (set cafile, or pin its fingerprint)",
}


@dataclass(frozen=True, slots=True)
class CheckFailure:
    """How a plugin's ``verify`` reads a failed check: which HTTP statuses point to which option."""

    ipam: str
    product: str
    shown: Mapping[str, object]  # option values that may appear in the message (never the token)
    keys: Mapping[int, str]  # HTTP status → option to fix

    def error(self, err: ExternalServiceError, said: str) -> ConfigError:
        """A ``ConfigError`` naming the option and what the server said (``said``): the IPAM is
        not saved. A status no option explains (a server fault) is put on ``url``."""
        key = (err.key if err.status is None else self.keys.get(err.status)) or "url"
        problem = _CHECK_PROBLEMS["answer" if key == "url" and err.status else key]
        label = f'ipam "{self.ipam}"'
        said = said.removeprefix(f"{label} ({self.product}): ")  # no HTTP answer: the error itself
        value = self.shown.get(key)
        where = f" ({key}={value})" if value is not None else ""
        message = f"{label}: {problem.format(product=self.product)}{where}: {said}"
        return ConfigError(message, obj=label, key=key, value=value)


_Plugin = TypeVar("_Plugin")
_UNREADABLE = (KeyError, IndexError, TypeError, ValueError, AttributeError)


def reads_answers(cls: type[_Plugin]) -> type[_Plugin]:
    """Class decorator for plugins of REST servers: an answer a public method cannot read (a
    missing key, a wrong type, a value that is no address) becomes an ``ExternalServiceError``
    naming the IPAM and the operation, so that no server's surprise surfaces as a traceback."""
    for name, method in list(vars(cls).items()):
        if not name.startswith("_") and inspect.isfunction(method):
            setattr(cls, name, _reading(name, method))
    return cls


def _reading(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kw: Any) -> Any:
        try:
            return method(self, *args, **kw)
        except SdnError:
            raise
        except _UNREADABLE as err:
            service = self.http.settings.service
            msg = f"{service}: {name}: unexpected answer from the server ({type(err).__name__}: {err})"
            raise ExternalServiceError(msg) from err

    return wrapper


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
