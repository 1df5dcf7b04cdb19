"""The built-in IPAM state, in upstream's ``pve-ipam-state.json`` shape (spec §1.4).

::

    {"zones": {"<zone>": {"subnets": {"<cidr>": {"ips": {
        "10.0.0.1":   {"gateway": 1},
        "10.0.0.101": {"vmid": "1000", "mac": "BC:24:11:00:00:01", "hostname": "test0"}}}}}}}

``IpamState`` is that document in memory, plus what makes it fast: per subnet an
``IntervalSet`` of the used addresses (next free address in one binary search) and a MAC index
(per-MAC lookups without a scan). Changes are ``Op`` values, applied with ``IpamState.apply``;
the storage (``ipam/storage.py``) journals the same ops, so replaying them rebuilds the state.

Keys are canonical addresses (``str(ipaddress.ip_address(...))``: RFC 5952 for IPv6, as
upstream's ``NetAddr::IP->canon``). A real file that mixes forms (spec §10.10) is read with its
keys canonicalised; subnet keys stay the configured CIDR, as upstream.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sdnkit.errors import ConfigError
from sdnkit.ipam.base import IpEntry
from sdnkit.ipam.ranges import IntervalSet, network

__all__ = [
    "AddSubnet",
    "DelIp",
    "DelSubnet",
    "IpamState",
    "Op",
    "PutIp",
    "SubnetState",
    "op_from_json",
]


@dataclass(frozen=True, slots=True)
class AddSubnet:
    zone: str
    cidr: str

    def to_json(self) -> list[Any]:
        return ["subnet+", self.zone, self.cidr]


@dataclass(frozen=True, slots=True)
class DelSubnet:
    zone: str
    cidr: str

    def to_json(self) -> list[Any]:
        return ["subnet-", self.zone, self.cidr]


@dataclass(frozen=True, slots=True)
class PutIp:
    """Set the entry of one address (new or replaced)."""

    zone: str
    cidr: str
    ip: str
    entry: IpEntry
    value: int | None = field(default=None, compare=False)  # int(ip) when the caller has it

    def to_json(self) -> list[Any]:
        return ["ip+", self.zone, self.cidr, self.ip, self.entry.to_json()]


@dataclass(frozen=True, slots=True)
class DelIp:
    zone: str
    cidr: str
    ip: str

    def to_json(self) -> list[Any]:
        return ["ip-", self.zone, self.cidr, self.ip]


Op = AddSubnet | DelSubnet | PutIp | DelIp

_DECODE: dict[str, Any] = {
    "subnet+": lambda a: AddSubnet(a[1], a[2]),
    "subnet-": lambda a: DelSubnet(a[1], a[2]),
    "ip+": lambda a: PutIp(a[1], a[2], a[3], IpEntry.from_json(a[4])),
    "ip-": lambda a: DelIp(a[1], a[2], a[3]),
}


def op_from_json(data: Any) -> Op:
    try:
        op: Op = _DECODE[data[0]](data)
    except (KeyError, IndexError, TypeError) as err:
        raise ConfigError(f"IPAM journal: unreadable operation {data!r}") from err
    return op


class SubnetState:
    """The registered addresses of one subnet of one zone."""

    __slots__ = ("cidr", "ips", "used", "version")

    def __init__(self, cidr: str) -> None:
        self.cidr = cidr
        self.version = network(cidr).version
        self.ips: dict[str, IpEntry] = {}
        self.used = IntervalSet()

    def only_gateway_left(self) -> bool:
        return all(e.gateway for e in self.ips.values())

    def to_json(self) -> dict[str, Any]:
        return {"ips": {ip: self.ips[ip].to_json() for ip in self.ips}}


def canonical_ip(text: str) -> str:
    return str(ipaddress.ip_address(text))


class IpamState:
    """All zones of the built-in IPAM; mutate only through ``apply``."""

    __slots__ = ("_by_mac", "zones")

    def __init__(self) -> None:
        self.zones: dict[str, dict[str, SubnetState]] = {}
        self._by_mac: dict[str, set[tuple[str, str, str]]] = {}

    def subnet(self, zone: str, cidr: str) -> SubnetState | None:
        subnets = self.zones.get(zone)
        return subnets.get(cidr) if subnets else None

    def entries(self) -> Iterator[tuple[str, str, str, IpEntry]]:
        """(zone, cidr, ip, entry) for every address, in document order."""
        for zone, subnets in self.zones.items():
            for cidr, sub in subnets.items():
                for ip, entry in sub.ips.items():
                    yield zone, cidr, ip, entry

    def find_mac(self, mac: str) -> list[tuple[str, str, str, IpEntry]]:
        out = []
        for zone, cidr, ip in sorted(self._by_mac.get(mac.lower(), ())):
            sub = self.subnet(zone, cidr)
            if sub is not None and ip in sub.ips:
                out.append((zone, cidr, ip, sub.ips[ip]))
        return out

    # -- changes ------------------------------------------------------------------------------

    def apply(self, op: Op) -> None:
        _APPLY[type(op)](self, op)

    def inverse(self, op: Op) -> list[Op]:
        """The ops that undo ``op`` if applied now (in order), for rollback."""
        sub = self.subnet(op.zone, op.cidr)
        if isinstance(op, AddSubnet | PutIp) and sub is None:
            return [DelSubnet(op.zone, op.cidr)]
        if sub is None:
            return []
        if isinstance(op, DelSubnet):
            restore = [PutIp(op.zone, op.cidr, ip, e) for ip, e in sub.ips.items()]
            return [AddSubnet(op.zone, op.cidr), *restore]
        if isinstance(op, AddSubnet):
            return []
        old = sub.ips.get(op.ip)
        if old is not None:
            return [PutIp(op.zone, op.cidr, op.ip, old)]
        return [DelIp(op.zone, op.cidr, op.ip)] if isinstance(op, PutIp) else []

    def _add_subnet(self, op: AddSubnet) -> SubnetState:
        subnets = self.zones.setdefault(op.zone, {})
        sub = subnets.get(op.cidr)
        if sub is None:
            sub = subnets[op.cidr] = SubnetState(op.cidr)
        return sub

    def _del_subnet(self, op: DelSubnet) -> None:
        subnets = self.zones.get(op.zone)
        sub = subnets.pop(op.cidr, None) if subnets is not None else None
        if sub is not None:
            for ip, entry in sub.ips.items():
                self._unindex(op.zone, op.cidr, ip, entry)
        if subnets == {}:
            del self.zones[op.zone]

    def _put_ip(self, op: PutIp) -> None:
        sub = self._add_subnet(AddSubnet(op.zone, op.cidr))
        old = sub.ips.get(op.ip)
        if old is not None:
            self._unindex(op.zone, op.cidr, op.ip, old)
        sub.ips[op.ip] = op.entry
        sub.used.add(op.value if op.value is not None else int(ipaddress.ip_address(op.ip)))
        if op.entry.mac:
            self._by_mac.setdefault(op.entry.mac.lower(), set()).add((op.zone, op.cidr, op.ip))

    def _del_ip(self, op: DelIp) -> None:
        sub = self.subnet(op.zone, op.cidr)
        if sub is None or op.ip not in sub.ips:
            return
        self._unindex(op.zone, op.cidr, op.ip, sub.ips.pop(op.ip))
        sub.used.discard(int(ipaddress.ip_address(op.ip)))

    def _unindex(self, zone: str, cidr: str, ip: str, entry: IpEntry) -> None:
        if entry.mac:
            refs = self._by_mac.get(entry.mac.lower())
            if refs is not None:
                refs.discard((zone, cidr, ip))
                if not refs:
                    del self._by_mac[entry.mac.lower()]

    # -- JSON ---------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "zones": {
                zone: {"subnets": {cidr: sub.to_json() for cidr, sub in subnets.items()}}
                for zone, subnets in self.zones.items()
            }
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IpamState:
        """Read upstream's document; unreadable parts are refused with the path to them."""
        state = cls()
        zones = data.get("zones") or {}
        if not isinstance(zones, Mapping):
            raise ConfigError('IPAM state: "zones" is not an object')
        for zone, zdata in zones.items():
            subnets = (zdata or {}).get("subnets") or {} if isinstance(zdata, Mapping) else None
            if not isinstance(subnets, Mapping):
                raise ConfigError(f'IPAM state: zone "{zone}": "subnets" is not an object')
            for cidr, sdata in subnets.items():
                state._load_subnet(zone, cidr, sdata)
        return state

    def _load_subnet(self, zone: str, cidr: str, sdata: Any) -> None:
        where = f'IPAM state: zone "{zone}" subnet "{cidr}"'
        try:
            self._add_subnet(AddSubnet(zone, cidr))
        except ValueError as err:
            raise ConfigError(f"{where}: not a CIDR") from err
        ips = (sdata or {}).get("ips") or {} if isinstance(sdata, Mapping) else None
        if not isinstance(ips, Mapping):
            raise ConfigError(f'{where}: "ips" is not an object')
        seen = self.zones[zone][cidr].ips
        for ip, edata in ips.items():
            try:
                key = canonical_ip(ip)
            except ValueError as err:
                raise ConfigError(f"{where}: {ip!r} is not an IP address") from err
            # two spellings of one address (upstream mixes canon/short): the canonical one wins
            if key in seen and key != ip:
                continue
            self._put_ip(PutIp(zone, cidr, key, IpEntry.from_json(edata)))


_APPLY: dict[type, Any] = {
    AddSubnet: IpamState._add_subnet,
    DelSubnet: IpamState._del_subnet,
    PutIp: IpamState._put_ip,
    DelIp: IpamState._del_ip,
}
