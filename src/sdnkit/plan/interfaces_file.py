"""Parse a node's ``/etc/network/interfaces`` (ifupdown2 syntax) into interface facts.

Recognised: ``auto``/``allow-*`` lines, ``iface <name> [inet|inet6 <method>]`` stanzas with
indented options, ``source``/``source-directory`` lines (recorded, not followed: the SDN file
itself is sourced from there and must not count as the node's own network) and ``mapping``
blocks (skipped). Several stanzas of one interface (``inet`` and ``inet6``) are merged.

From the options: ``address`` (CIDR, or with ``netmask``), ``mtu``, ``hwaddress``,
``bridge-ports``/``bridge_ports``, ``bridge-vlan-aware``, ``ovs_type``, ``ovs_ports``. An
interface with bridge ports or ``bridge-vlan-aware`` is a Linux bridge; ``ovs_type OVSBridge``
an OVS bridge; other ``ovs_type`` values OVS ports. Errors name the file and the line.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from sdnkit.config.model import IPInterface
from sdnkit.errors import ConfigError
from sdnkit.plan.facts import IfaceKind, InterfaceFacts

TRUE_WORDS = frozenset({"yes", "on", "1", "true"})
FAMILIES = frozenset({"inet", "inet6"})
OVS_KINDS = {"ovsbridge": IfaceKind.OVS_BRIDGE}


@dataclass(slots=True)
class _Iface:
    name: str
    addresses: list[IPInterface] = field(default_factory=list)
    mtu: int | None = None
    mac: str | None = None
    bridge_ports: list[str] | None = None
    vlan_aware: bool = False
    ovs_type: str | None = None
    ovs_ports: list[str] = field(default_factory=list)

    def facts(self) -> InterfaceFacts:
        if self.ovs_type is not None:
            kind = OVS_KINDS.get(self.ovs_type.lower(), IfaceKind.OVS_PORT)
        elif self.bridge_ports is not None or self.vlan_aware:
            kind = IfaceKind.LINUX_BRIDGE
        else:
            kind = IfaceKind.OTHER
        ports = self.ovs_ports if kind is IfaceKind.OVS_BRIDGE else (self.bridge_ports or [])
        return InterfaceFacts(
            name=self.name,
            kind=kind,
            addresses=tuple(self.addresses),
            mtu=self.mtu,
            vlan_aware=self.vlan_aware,
            ports=tuple(ports),
            mac=self.mac,
        )


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.ifaces: dict[str, _Iface] = {}
        self.sources: list[str] = []
        self.current: _Iface | None = None
        self.pending_netmask: list[int] = []  # addresses of the current stanza without a prefix
        self.in_mapping = False
        self.lineno = 0

    def error(self, problem: str) -> ConfigError:
        return ConfigError(f"{self.source}: line {self.lineno}: {problem}", obj=self.source)

    def top_level(self, words: list[str]) -> None:
        keyword = words[0]
        self.current, self.in_mapping, self.pending_netmask = None, False, []
        if keyword == "iface":
            self.stanza(words)
        elif keyword in ("source", "source-directory"):
            self.sources.extend(words[1:])
        elif keyword == "mapping":
            self.in_mapping = True
        elif keyword not in ("auto",) and not keyword.startswith("allow-"):
            raise self.error(f"unknown statement {keyword!r} (expected auto, iface, source, allow-*)")

    def stanza(self, words: list[str]) -> None:
        if len(words) < 2:
            raise self.error("iface without an interface name")
        if len(words) >= 3 and words[2] not in FAMILIES:
            raise self.error(f"unknown address family {words[2]!r} (expected inet or inet6)")
        self.current = self.ifaces.setdefault(words[1], _Iface(words[1]))

    def option(self, key: str, values: list[str]) -> None:
        iface = self.current
        if iface is None:
            if self.in_mapping:
                return
            raise self.error("option outside an iface stanza")
        handler = OPTION_HANDLERS.get(key.lower().replace("_", "-"))
        if handler is not None:
            if not values:
                raise self.error(f"option {key!r} needs a value")
            handler(self, iface, values)

    def address(self, iface: _Iface, values: list[str]) -> None:
        for value in values:
            try:
                addr = ipaddress.ip_interface(value)
            except ValueError:
                raise self.error(f"invalid address {value!r}") from None
            if "/" not in value:
                self.pending_netmask.append(len(iface.addresses))
            iface.addresses.append(addr)

    def netmask(self, iface: _Iface, values: list[str]) -> None:
        for index in self.pending_netmask:
            addr = iface.addresses[index]
            try:
                iface.addresses[index] = ipaddress.ip_interface(f"{addr.ip}/{values[0]}")
            except ValueError:
                raise self.error(f"invalid netmask {values[0]!r} for {addr.ip}") from None
        self.pending_netmask = []

    def mtu(self, iface: _Iface, values: list[str]) -> None:
        if not values[0].isdigit():
            raise self.error(f"invalid mtu {values[0]!r}")
        iface.mtu = int(values[0])

    def parse(self, text: str) -> dict[str, InterfaceFacts]:
        for self.lineno, raw in enumerate(text.splitlines(), start=1):
            words = raw.split()
            if not words or words[0].startswith("#"):
                continue
            if raw[0] in " \t":
                self.option(words[0], words[1:])
            else:
                self.top_level(words)
        return {name: iface.facts() for name, iface in sorted(self.ifaces.items())}


def _hwaddress(parser: _Parser, iface: _Iface, values: list[str]) -> None:
    iface.mac = values[-1].lower()  # "hwaddress ether XX:.." or "hwaddress XX:.."


def _bridge_ports(parser: _Parser, iface: _Iface, values: list[str]) -> None:
    iface.bridge_ports = [v for v in values if v != "none"]


def _vlan_aware(parser: _Parser, iface: _Iface, values: list[str]) -> None:
    iface.vlan_aware = values[0].lower() in TRUE_WORDS


def _ovs_type(parser: _Parser, iface: _Iface, values: list[str]) -> None:
    iface.ovs_type = values[0]


def _ovs_ports(parser: _Parser, iface: _Iface, values: list[str]) -> None:
    iface.ovs_ports.extend(v for v in values if v not in iface.ovs_ports)


OPTION_HANDLERS = {
    "address": _Parser.address,
    "netmask": _Parser.netmask,
    "mtu": _Parser.mtu,
    "hwaddress": _hwaddress,
    "bridge-ports": _bridge_ports,
    "bridge-vlan-aware": _vlan_aware,
    "ovs-type": _ovs_type,
    "ovs-ports": _ovs_ports,
}


def parse_interfaces(text: str, source: str = "interfaces") -> dict[str, InterfaceFacts]:
    """The interfaces an ``/etc/network/interfaces`` text defines, by name."""
    return _Parser(source).parse(text)
