"""DNS plugins: the interface, the registry of types, and registering one guest address.

A DNS plugin (one module per type; today ``powerdns``) keeps forward (A/AAAA) and reverse (PTR)
records in zones that already exist on its server (spec §5.6). Zones come from the config: the
zone options ``dns`` (forward server), ``reversedns`` (reverse server) and ``dnszone`` (domain),
and the subnet option ``dnszoneprefix``: a guest ``web1`` in a subnet with prefix ``dc1`` of a zone
with ``dnszone=example.com`` is ``web1.dc1.example.com.``.

:class:`DnsRegistration` is what the port service uses: ``add(ip)`` writes the A/AAAA and the
PTR record and undoes the first when the second fails; ``remove(ip)`` deletes only that address,
so other addresses under the same name stay. Plugins raise ``DnsError`` for a refusal they
understand (zone missing) and ``ExternalServiceError`` when the server answered badly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from sdnkit.config.formats import DNS_NAME
from sdnkit.config.model import Dns, IPAddress, Subnet, Zone
from sdnkit.errors import ConfigError, NotSupportedError

__all__ = [
    "DNS_TYPES",
    "DnsPlugin",
    "DnsRegistration",
    "build_dns",
    "forward_name",
    "registration_for",
]

DEFAULT_TTL = 14400


class DnsPlugin(Protocol):
    id: str

    def verify(self) -> None:
        """Check that the server answers with the configured key (on dns create/update)."""
        ...

    def verify_zone(self, zone: str) -> None:
        """Raise ``DnsError`` unless the server hosts ``zone``."""
        ...

    def reverse_zone(self, ip: IPAddress) -> str:
        """The reverse zone the server hosts for ``ip`` (see ``dns/reverse.py``)."""
        ...

    def add_a_record(self, zone: str, name: str, ip: IPAddress) -> None:
        """Add ``ip`` to the A/AAAA record set of ``name`` (a FQDN), keeping its other addresses."""
        ...

    def del_a_record(self, zone: str, name: str, ip: IPAddress) -> None:
        """Remove only ``ip`` from the record set of ``name``; nothing to remove is not an error."""
        ...

    def add_ptr_record(self, zone: str, name: str, ip: IPAddress) -> None:
        """Point the PTR record of ``ip`` at ``name`` (replacing a stale one)."""
        ...

    def del_ptr_record(self, zone: str, ip: IPAddress) -> None: ...


def _powerdns(dns: Dns, timeout: float) -> DnsPlugin:
    from sdnkit.dns.powerdns import PowerDns

    return PowerDns.from_config(dns, timeout=timeout)


# type name (the section type in dns.cfg) → factory (imports deferred: plugins import this module)
DNS_TYPES: dict[str, Callable[[Dns, float], DnsPlugin]] = {"powerdns": _powerdns}


def build_dns(dns: Dns, *, timeout: float = 30.0) -> DnsPlugin:
    factory = DNS_TYPES.get(dns.type)
    if factory is None:
        known = ", ".join(sorted(DNS_TYPES))
        raise NotSupportedError(f'dns "{dns.id}": unknown DNS type {dns.type!r} (known: {known})')
    return factory(dns, timeout)


def forward_name(hostname: str, zone: str, prefix: str | None = None) -> str:
    """``<hostname>[.<prefix>].<zone>.``, lower case; the hostname must be a DNS name."""
    host = hostname.rstrip(".")
    if not host or not DNS_NAME.fullmatch(host):
        raise ConfigError(f"hostname {hostname!r} is not a valid DNS name", key="hostname", value=hostname)
    parts = [host, prefix.strip(".") if prefix else "", zone.strip(".")]
    return ".".join(p for p in parts if p).lower() + "."


@dataclass(frozen=True, slots=True)
class DnsRegistration:
    """The records one guest hostname gets in one subnet's zone."""

    forward: DnsPlugin | None  # None: the zone has no ``dns``
    reverse: DnsPlugin | None  # None: no ``reversedns``
    zone: str  # the forward zone (``dnszone``)
    name: str  # the guest's FQDN

    def check(self, ips: list[IPAddress]) -> None:
        """Fail before anything is allocated when a zone the records need is missing."""
        if self.forward is not None:
            self.forward.verify_zone(self.zone)
        if self.reverse is not None:
            for ip in ips:
                self.reverse.reverse_zone(ip)

    def add(self, ip: IPAddress) -> None:
        if self.forward is not None:
            self.forward.add_a_record(self.zone, self.name, ip)
        if self.reverse is not None:
            try:
                self.reverse.add_ptr_record(self.reverse.reverse_zone(ip), self.name, ip)
            except Exception as err:
                if self.forward is not None:
                    try:
                        self.forward.del_a_record(self.zone, self.name, ip)
                    except Exception as undo_err:  # never hide the first failure
                        err.add_note(f"undoing the A/AAAA record of {ip} failed too: {undo_err}")
                raise

    def remove(self, ip: IPAddress) -> None:
        """Delete both records of ``ip``; both are tried, the first failure is raised."""
        errors: list[Exception] = []
        if self.forward is not None:
            try:
                self.forward.del_a_record(self.zone, self.name, ip)
            except Exception as err:
                errors.append(err)
        if self.reverse is not None:
            try:
                self.reverse.del_ptr_record(self.reverse.reverse_zone(ip), ip)
            except Exception as err:
                errors.append(err)
        if errors:
            for extra in errors[1:]:
                errors[0].add_note(f"also: {extra}")
            raise errors[0]


def registration_for(
    servers: Mapping[str, Dns], zone: Zone, subnet: Subnet, hostname: str | None, *, timeout: float = 30.0
) -> DnsRegistration | None:
    """The DNS registration of ``hostname`` in ``subnet``; None when nothing is to be registered.

    Upstream registers only with a ``dnszone`` (the forward zone) and a hostname. ``servers`` are
    the entries of ``dns.cfg`` (not versioned: the current configuration, not the running one).
    """
    if not hostname or not zone.dnszone or not (zone.dns or zone.reversedns):
        return None

    def plugin(dns_id: str | None, key: str) -> DnsPlugin | None:
        if dns_id is None:
            return None
        if dns_id not in servers:
            raise ConfigError(f'zone "{zone.id}": {key} "{dns_id}" does not exist in dns.cfg', key=key)
        return build_dns(servers[dns_id], timeout=timeout)

    return DnsRegistration(
        forward=plugin(zone.dns, "dns"),
        reverse=plugin(zone.reversedns, "reversedns"),
        zone=zone.dnszone.rstrip(".").lower() + ".",
        name=forward_name(hostname, zone.dnszone, subnet.dnszoneprefix),
    )
