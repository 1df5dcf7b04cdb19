"""DHCP server types by name (the zone option ``dhcp``): see ``base.py`` for the interface."""

from __future__ import annotations

from collections.abc import Callable

from sdnkit.dhcp.base import DhcpServer, DhcpSettings
from sdnkit.errors import NotSupportedError


def _dnsmasq(settings: DhcpSettings) -> DhcpServer:
    from sdnkit.dhcp.dnsmasq import Dnsmasq  # deferred: the renderer imports this package

    return Dnsmasq(settings)


SERVER_TYPES: dict[str, Callable[[DhcpSettings], DhcpServer]] = {"dnsmasq": _dnsmasq}


def server_for(kind: str, settings: DhcpSettings) -> DhcpServer:
    factory = SERVER_TYPES.get(kind)
    if factory is None:
        known = ", ".join(SERVER_TYPES)
        raise NotSupportedError(f"dhcp: unknown server type {kind!r} (known: {known})")
    return factory(settings)
