"""Values of firewall rules: addresses, protocols, ports and ICMP types, checked and canonical.

Each parser takes the text of one rule field (as PVE's ``pve-fw-*`` formats take it) and either
returns it unchanged or raises ``ValueError`` with PVE's wording where PVE has one. The tables
here are also what the nftables renderer uses to turn names into numbers, so a value that passes
validation can always be rendered, and nothing else can reach the ruleset: every accepted value is
made of letters, digits and ``.:/,+_-`` only.

Protocol and service names are a fixed table rather than the host's ``/etc/protocols`` and
``/etc/services`` (which PVE reads), so that every node renders the same rules.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

__all__ = [
    "ICMP_TYPES",
    "LOG_LEVELS",
    "PORT_PROTOCOLS",
    "PROTOCOLS",
    "SERVICES",
    "AddressSpec",
    "IcmpType",
    "parse_address",
    "parse_icmp_type",
    "parse_ports",
    "parse_protocol",
    "port_ranges",
    "protocol_number",
]

LOG_LEVELS = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "nolog")

PROTOCOLS: dict[str, int] = {
    "icmp": 1, "igmp": 2, "ipencap": 4, "tcp": 6, "egp": 8, "udp": 17, "ipv6": 41, "ipv6-route": 43,
    "ipv6-frag": 44, "rsvp": 46, "gre": 47, "esp": 50, "ah": 51, "icmpv6": 58, "ipv6-icmp": 58,
    "ipv6-nonxt": 59, "ipv6-opts": 60, "ospf": 89, "ipip": 94, "etherip": 97, "encap": 98, "pim": 103,
    "vrrp": 112, "l2tp": 115, "sctp": 132, "udplite": 136, "dccp": 33,
}  # fmt: skip
# tcp, udp, dccp, sctp, udplite: PVE's $PROTOCOLS_WITH_PORTS
PORT_PROTOCOLS = frozenset({6, 17, 33, 132, 136})
ICMP4, ICMP6 = 1, 58

SERVICES: dict[str, int] = {
    "ftp-data": 20, "ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "bootps": 67,
    "bootpc": 68, "tftp": 69, "http": 80, "kerberos": 88, "pop3": 110, "sunrpc": 111, "auth": 113,
    "ntp": 123, "netbios-ns": 137, "netbios-dgm": 138, "netbios-ssn": 139, "imap2": 143, "snmp": 161,
    "snmp-trap": 162, "bgp": 179, "ldap": 389, "https": 443, "microsoft-ds": 445, "submissions": 465,
    "syslog": 514, "submission": 587, "ldaps": 636, "rsync": 873, "imaps": 993, "pop3s": 995,
    "openvpn": 1194, "ms-sql-s": 1433, "mysql": 3306, "postgresql": 5432, "http-alt": 8080,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class IcmpType:
    version: int  # 4 or 6
    type: int
    code: int | None = None


def _icmp(version: int, table: dict[str, tuple[int, int | None]]) -> dict[str, IcmpType]:
    return {name: IcmpType(version, t, c) for name, (t, c) in table.items()}


# iptables' names (PVE's), by family: (type, code)
ICMP_TYPES: dict[int, dict[str, IcmpType]] = {
    4: _icmp(4, {
        "echo-reply": (0, None), "destination-unreachable": (3, None), "network-unreachable": (3, 0),
        "host-unreachable": (3, 1), "protocol-unreachable": (3, 2), "port-unreachable": (3, 3),
        "fragmentation-needed": (3, 4), "source-route-failed": (3, 5), "network-unknown": (3, 6),
        "host-unknown": (3, 7), "network-prohibited": (3, 9), "host-prohibited": (3, 10),
        "TOS-network-unreachable": (3, 11), "TOS-host-unreachable": (3, 12),
        "communication-prohibited": (3, 13), "host-precedence-violation": (3, 14),
        "precedence-cutoff": (3, 15), "source-quench": (4, None), "redirect": (5, None),
        "network-redirect": (5, 0), "host-redirect": (5, 1), "TOS-network-redirect": (5, 2),
        "TOS-host-redirect": (5, 3), "echo-request": (8, None), "router-advertisement": (9, None),
        "router-solicitation": (10, None), "time-exceeded": (11, None), "ttl-zero-during-transit": (11, 0),
        "ttl-zero-during-reassembly": (11, 1), "parameter-problem": (12, None), "ip-header-bad": (12, 0),
        "required-option-missing": (12, 1), "timestamp-request": (13, None), "timestamp-reply": (14, None),
        "address-mask-request": (17, None), "address-mask-reply": (18, None),
    }),
    6: _icmp(6, {
        "destination-unreachable": (1, None), "no-route": (1, 0), "communication-prohibited": (1, 1),
        "address-unreachable": (1, 3), "port-unreachable": (1, 4), "packet-too-big": (2, None),
        "time-exceeded": (3, None), "ttl-zero-during-transit": (3, 0), "ttl-zero-during-reassembly": (3, 1),
        "parameter-problem": (4, None), "bad-header": (4, 0), "unknown-header-type": (4, 1),
        "unknown-option": (4, 2), "echo-request": (128, None), "echo-reply": (129, None),
        "router-solicitation": (133, None), "router-advertisement": (134, None),
        "neighbor-solicitation": (135, None), "neighbour-solicitation": (135, None),
        "neighbor-advertisement": (136, None), "neighbour-advertisement": (136, None),
        "redirect": (137, None),
    }),
}  # fmt: skip

_IPSET = re.compile(r"\+sdn/([A-Za-z][A-Za-z0-9_-]{1,63})")
_ALIAS = re.compile(r"[A-Za-z][A-Za-z0-9_-]+")
_PORT_ITEM = re.compile(r"(\d{1,5})(?::(\d{1,5}))?")
MAX_PORT_COUNT = 15


@dataclass(frozen=True, slots=True)
class AddressSpec:
    """A parsed ``source``/``dest``: an SDN IP set, or literal networks of one family."""

    ipset: str | None = None  # the set's name, without "+sdn/"
    version: int | None = None  # family of the literal networks (None for an ipset)
    ranges: tuple[tuple[str, str], ...] = ()  # (first, last) addresses, as text


def _literal(item: str) -> tuple[int, tuple[str, str]]:
    try:
        if "-" in item:
            first, last = (ipaddress.ip_address(p) for p in item.split("-", 1))
            if first.version != last.version or int(first) > int(last):
                raise ValueError
            return first.version, (str(first), str(last))
        net = ipaddress.ip_network(item, strict=False)
    except ValueError:
        raise ValueError(f"invalid IP address: '{item}'") from None
    return net.version, (str(net.network_address), str(net.broadcast_address))


def parse_address(text: str) -> AddressSpec:
    """``+sdn/<set>``, or an address, network, ``first-last`` range or comma list of one family."""
    if text.startswith("+"):
        match = _IPSET.fullmatch(text)
        if not match:
            raise ValueError(
                f"invalid ipset reference '{text}' (only the SDN sets are known: +sdn/<name>, "
                "e.g. +sdn/vnet1-all)"
            )
        return AddressSpec(ipset=match[1])
    if _ALIAS.fullmatch(text):
        raise ValueError(f"no such alias '{text}' (firewall aliases are not supported)")
    items = text.split(",")
    if any(not item for item in items):
        raise ValueError("extraneous commas in list")
    parsed = [_literal(item) for item in items]
    if len({v for v, _ in parsed}) > 1:
        raise ValueError(f"detected mixed ipv4/ipv6 addresses in address list '{text}'")
    if len(items) > 1 and any("-" in item for item in items):
        raise ValueError("you can't use a range in a list")
    return AddressSpec(version=parsed[0][0], ranges=tuple(r for _, r in parsed))


def parse_protocol(text: str) -> str:
    protocol_number(text)
    return text


def protocol_number(text: str) -> int:
    if text.isdigit() and int(text) <= 255:
        return int(text)
    if text in PROTOCOLS:
        return PROTOCOLS[text]
    raise ValueError(f"unknown protocol '{text}'")


def port_ranges(text: str) -> tuple[tuple[int, int], ...]:
    """``22``, ``80:85``, ``http``, or a comma list of them, as (first, last) ranges."""
    out: list[tuple[int, int]] = []
    items = text.split(",")
    if any(not item for item in items):
        raise ValueError("extraneous commas in list")
    count = 0
    for item in items:
        match = _PORT_ITEM.fullmatch(item)
        if match:
            first, last = int(match[1]), int(match[2] or match[1])
            for port in (first, last):
                if port > 65535:
                    raise ValueError(f"invalid port '{port}'")
            if first > last:
                raise ValueError(f"invalid port range '{item}'")
            count += 2 if match[2] else 1
        elif item in SERVICES:
            first = last = SERVICES[item]
            count += 1
        else:
            raise ValueError(f"invalid port '{item}'")
        out.append((first, last))
    if count > MAX_PORT_COUNT:
        raise ValueError(f"too many entries in port list (> {MAX_PORT_COUNT} numbers)")
    return tuple(out)


def parse_ports(text: str) -> str:
    port_ranges(text)
    return text


def parse_icmp_type(text: str) -> str:
    """An ICMP or ICMPv6 type name, or a type number (checked against the protocol later)."""
    if text == "any" or (text.isdigit() and int(text) <= 255):
        return text
    if text in ICMP_TYPES[4] or text in ICMP_TYPES[6]:
        return text
    raise ValueError(f"invalid icmp type '{text}'")


def icmp_type(text: str, version: int) -> IcmpType | None:
    """The type (and code) of a checked name for one family; None for ``any``."""
    if text == "any":
        return None
    if text.isdigit():
        return IcmpType(version, int(text))
    if text not in ICMP_TYPES[version]:
        raise ValueError(f"icmp type '{text}' does not exist for IPv{version}")
    return ICMP_TYPES[version][text]
