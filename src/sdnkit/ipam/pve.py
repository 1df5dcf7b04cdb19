"""The built-in IPAM (``pve`` type): state in the store, upstream's semantics (spec §5.2), fixed.

What differs from upstream, on purpose:

* next free address: one binary search in the used intervals instead of a linear scan;
* IPv6 never hands out the subnet-router anycast (network) address (§10.10);
* the configured gateway is never handed out, even if it was not registered;
* a subnet missing from the state is created on first use instead of failing, since the
  configuration says it exists;
* ``update_ip`` records the new MAC/hostname/vmid (upstream: no-op);
* ``find_mac`` looks at every subnet given (upstream's loop skips some, §10.10).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from sdnkit.config.model import DhcpRange, IPAddress, Subnet
from sdnkit.errors import IpamError, IpamExhaustedError, IpamTakenError, NotFoundError
from sdnkit.ipam.base import Allocation, IpEntry
from sdnkit.ipam.ranges import first_free, int_to_ip, network, pools
from sdnkit.ipam.state import AddSubnet, DelIp, DelSubnet, PutIp, SubnetState
from sdnkit.ipam.storage import IpamStorage, Txn

__all__ = ["PveIpam"]


def _label(subnet: Subnet) -> str:
    return f'subnet "{subnet.id}"'


def _subnet(txn: Txn, subnet: Subnet) -> SubnetState:
    sub = txn.state.subnet(subnet.zone, subnet.cidr)
    if sub is None:
        txn.apply(AddSubnet(subnet.zone, subnet.cidr))
        sub = txn.state.subnet(subnet.zone, subnet.cidr)
        assert sub is not None
    return sub


def _check_in_subnet(subnet: Subnet, ip: IPAddress) -> None:
    net = network(subnet.cidr)
    if ip.version != net.version or ip not in net:
        label = _label(subnet)
        raise IpamError(f"{label}: {ip} is not in {net}", obj=label, key="ip", value=str(ip))


def _check_registered(txn: Txn, subnet: Subnet, key: str) -> None:
    sub = txn.state.subnet(subnet.zone, subnet.cidr)
    if sub is None or key not in sub.ips:
        raise NotFoundError(f"{_label(subnet)}: IP {key} is not registered", obj=_label(subnet))


class PveIpam:
    """The built-in IPAM over an ``IpamStorage``."""

    def __init__(self, ipam_id: str, storage: IpamStorage) -> None:
        self.id = ipam_id
        self.storage = storage

    def verify(self) -> None:
        pass

    # -- subnets ------------------------------------------------------------------------------

    def add_subnet(self, subnet: Subnet) -> None:
        self.storage.run(lambda txn: _subnet(txn, subnet))

    def update_subnet(self, old: Subnet, new: Subnet) -> None:
        pass  # the state is keyed by zone and CIDR, which an update cannot change

    def del_subnet(self, subnet: Subnet) -> None:
        def delete(txn: Txn) -> None:
            sub = txn.state.subnet(subnet.zone, subnet.cidr)
            if sub is None:
                return
            if not sub.only_gateway_left():
                used = sorted(ip for ip, e in sub.ips.items() if not e.gateway)
                raise IpamError(
                    f"{_label(subnet)}: cannot delete, {len(used)} address(es) still registered "
                    f"(e.g. {used[0]}): release them first",
                    obj=_label(subnet),
                )
            txn.apply(DelSubnet(subnet.zone, subnet.cidr))

        self.storage.run(delete)

    # -- addresses ----------------------------------------------------------------------------

    def add_ip(self, subnet: Subnet, ip: IPAddress, entry: IpEntry) -> None:
        _check_in_subnet(subnet, ip)
        key = str(ip)

        def add(txn: Txn) -> None:
            sub = _subnet(txn, subnet)
            old = sub.ips.get(key)
            if old is not None and not (old.gateway and entry.gateway):
                raise IpamTakenError(
                    f"{_label(subnet)}: IP {key} is already registered{_owner(old)}",
                    obj=_label(subnet),
                    key="ip",
                    value=key,
                )
            txn.apply(PutIp(subnet.zone, subnet.cidr, key, entry))

        self.storage.run(add)

    def update_ip(self, subnet: Subnet, ip: IPAddress, entry: IpEntry) -> None:
        key = str(ip)

        def update(txn: Txn) -> None:
            _check_registered(txn, subnet, key)
            txn.apply(PutIp(subnet.zone, subnet.cidr, key, entry))

        self.storage.run(update)

    def del_ip(self, subnet: Subnet, ip: IPAddress) -> None:
        key = str(ip)

        def delete(txn: Txn) -> None:
            _check_registered(txn, subnet, key)
            txn.apply(DelIp(subnet.zone, subnet.cidr, key))

        self.storage.run(delete)

    def next_free_ip(self, subnet: Subnet, entry: IpEntry, pool: DhcpRange | None = None) -> IPAddress:
        net = network(subnet.cidr)
        bounds = pools(net, (pool,)) if pool is not None else pools(net)
        reserved = [int(subnet.gateway)] if subnet.gateway is not None else []

        def allocate(txn: Txn) -> IPAddress:
            sub = _subnet(txn, subnet)
            for lo, hi in bounds:
                found = first_free(sub.used, lo, hi, reserved)
                if found is not None:
                    ip = int_to_ip(net.version, found)
                    txn.apply(PutIp(subnet.zone, subnet.cidr, str(ip), entry, found))
                    return ip
            where = f"range {pool.start}-{pool.end}" if pool is not None else str(net)
            raise IpamExhaustedError(
                f"{_label(subnet)}: no free IP left in {where}", obj=_label(subnet), value=where
            )

        return self.storage.run(allocate)

    # -- lookups ------------------------------------------------------------------------------

    def find_mac(self, subnets: Sequence[Subnet], mac: str) -> list[Allocation]:
        wanted = {(s.zone, s.cidr): s for s in subnets}

        def find(txn: Txn) -> list[Allocation]:
            out = []
            for zone, cidr, ip, entry in txn.state.find_mac(mac):
                subnet = wanted.get((zone, cidr))
                if subnet is not None:
                    out.append(Allocation(subnet, ipaddress.ip_address(ip), entry))
            return out

        return self.storage.run(find)

    def allocations(self, subnets: Sequence[Subnet]) -> list[Allocation]:
        def collect(txn: Txn) -> list[Allocation]:
            out = []
            for subnet in subnets:
                sub = txn.state.subnet(subnet.zone, subnet.cidr)
                if sub is not None:
                    out.extend(Allocation(subnet, ipaddress.ip_address(ip), e) for ip, e in sub.ips.items())
            return out

        return self.storage.run(collect)


def _owner(entry: IpEntry) -> str:
    if entry.gateway:
        return " as the gateway"
    parts = [f"{k}={v}" for k, v in (("vmid", entry.vmid), ("mac", entry.mac)) if v]
    return f" ({', '.join(parts)})" if parts else ""
