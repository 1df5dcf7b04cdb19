"""dnsmasq's lease file, and the leases that stand in the way of new static mappings.

Static mappings are leased for ever (``dhcp-range=…,static,…,infinite``). When a port is deleted
and its address given to another MAC, dnsmasq keeps the old lease and refuses the new owner
("not using configured address … because it is leased to …"); a SIGHUP does not re-read the
lease file. Such leases are found here so that the server is restarted without them.

The file (dnsmasq's ``lease_update_file``): one IPv4 lease per line, ``expiry mac ip hostname
client-id``; then a ``duid <server duid>`` line and IPv6 leases, ``expiry iaid ip hostname duid``,
which name no MAC.
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv6Address

__all__ = ["blocking_leases", "owners", "without_lines"]

Address = IPv4Address | IPv6Address


def owners(hosts_text: str) -> dict[Address, str]:
    """Static address → MAC, from a ``dhcp-hostsfile`` (``mac,ip,[ip6]`` per line)."""
    out: dict[Address, str] = {}
    for line in hosts_text.splitlines():
        if not line or line.startswith("#"):
            continue
        mac, *addrs = line.split(",")
        for addr in addrs:
            try:
                out[ipaddress.ip_address(addr.strip("[]"))] = mac.lower()
            except ValueError:
                continue  # not an address (a hostname or tag a person added)
    return out


def _lease(line: str) -> tuple[Address, str | None] | None:
    """The address and (IPv4 only) MAC of a lease line; None for other lines."""
    fields = line.split()
    if len(fields) < 3 or fields[0] == "duid":
        return None
    try:
        addr = ipaddress.ip_address(fields[2])
    except ValueError:
        return None
    return addr, fields[1].lower() if addr.version == 4 else None


def blocking_leases(lease_text: str, old_hosts: str, new_hosts: str) -> list[str]:
    """The lease lines that hold an address the new mappings give to another MAC.

    An IPv6 lease names no MAC: it blocks when its address changes owner between the old and the
    new mappings.
    """
    new, old = owners(new_hosts), owners(old_hosts)
    stale = []
    for line in lease_text.splitlines():
        lease = _lease(line)
        if lease is None:
            continue
        addr, mac = lease
        owner = new.get(addr)
        if owner is None:
            continue
        if (mac is not None and mac != owner) or (mac is None and old.get(addr) != owner):
            stale.append(line)
    return stale


def without_lines(lease_text: str, lines: list[str]) -> str:
    """``lease_text`` minus ``lines``."""
    drop = set(lines)
    kept = [line for line in lease_text.splitlines() if line not in drop]
    return "".join(line + "\n" for line in kept)
