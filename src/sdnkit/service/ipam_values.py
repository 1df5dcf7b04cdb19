"""The values callers give the IPAM operations (IP, MAC, hostname, guest ID), checked.

Each parser raises ``ConfigError`` naming the field (``invalid value for "mac": …``).
"""

from __future__ import annotations

import ipaddress
import re

from sdnkit.config.formats import DNS, IP, Mac
from sdnkit.config.model import IPAddress
from sdnkit.errors import ConfigError
from sdnkit.ipam.base import IpEntry

__all__ = ["guest_entry", "parse_hostname", "parse_ip", "parse_mac", "parse_vmid"]

_MAC = Mac()


def parse_mac(value: object) -> str:
    try:
        return _MAC.parse(value)
    except ValueError as err:
        raise ConfigError(f'invalid value for "mac": {err}', key="mac", value=value) from None


def parse_hostname(value: object) -> str:
    try:
        return str(DNS.parse(value))
    except ValueError as err:
        raise ConfigError(f'invalid value for "hostname": {err}', key="hostname", value=value) from None


def parse_vmid(vmid: str | int | None) -> str | None:
    """A guest ID (100-999999999) as a canonical string; ``None`` when absent."""
    if vmid is None or vmid == "":
        return None
    text_ = str(vmid)
    if not re.fullmatch(r"[0-9]{1,9}", text_) or not 100 <= int(text_) <= 999_999_999:
        raise ConfigError(f'invalid value for "vmid": {vmid!r} is not a guest ID (100-999999999)', key="vmid")
    return str(int(text_))


def parse_ip(value: object) -> IPAddress:
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        value = str(value)  # checked like text: an IPv6Address may carry a zone ID
    try:
        return ipaddress.ip_address(IP.parse(value))
    except ValueError as err:
        raise ConfigError(f'invalid value for "ip": {err}', key="ip", value=value) from None


def guest_entry(mac: str | None, hostname: str | None, vmid: str | int | None) -> IpEntry:
    """What the IPAM records for a guest address; empty values are absent."""
    return IpEntry(
        mac=parse_mac(mac) if mac else None,
        hostname=parse_hostname(hostname) if hostname else None,
        vmid=parse_vmid(vmid),
    )
