"""Firewall macros: named services a rule may use instead of ``proto``/``dport`` (PVE's ``macro``).

A rule ``FORWARD SSH(ACCEPT)`` stands for one rule per entry of the macro, each with the entry's
protocol and ports and the rule's own source, destination and log level. The names are PVE's (a
rule written for PVE reads the same here); a macro name is matched without regard to case and
stored in its canonical spelling. ``Ping`` and ``Trcrt`` match ICMP echo requests of both IP
families (PVE's nftables firewall does the same).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MACROS", "MacroEntry", "canonical_macro"]


@dataclass(frozen=True, slots=True)
class MacroEntry:
    proto: str
    dport: str | None = None
    sport: str | None = None
    icmp_type: str | None = None


def _tcp(*ports: str) -> tuple[MacroEntry, ...]:
    return tuple(MacroEntry("tcp", p) for p in ports)


def _udp(*ports: str) -> tuple[MacroEntry, ...]:
    return tuple(MacroEntry("udp", p) for p in ports)


def _both(*ports: str) -> tuple[MacroEntry, ...]:
    return _udp(*ports) + _tcp(*ports)


_ECHO = (MacroEntry("icmp", icmp_type="echo-request"), MacroEntry("icmpv6", icmp_type="echo-request"))

MACROS: dict[str, tuple[MacroEntry, ...]] = {
    "Amanda": _both("10080"),
    "Auth": _tcp("113"),
    "BGP": _tcp("179"),
    "BitTorrent": (MacroEntry("tcp", "6881:6889"), MacroEntry("udp", "6881")),
    "Ceph": _tcp("6789", "3300", "6800:7300"),
    "CVS": _tcp("2401"),
    "DHCPfwd": (MacroEntry("udp", "67:68", "67:68"),),
    "DHCPv6": (MacroEntry("udp", "546:547", "546:547"),),
    "DNS": _both("53"),
    "FTP": _tcp("21"),
    "GRE": (MacroEntry("47"),),
    "Git": _tcp("9418"),
    "HKP": _tcp("11371"),
    "HTTP": _tcp("80"),
    "HTTPS": _tcp("443"),
    "IMAP": _tcp("143"),
    "IMAPS": _tcp("993"),
    "IPsec": (MacroEntry("udp", "500", "500"), MacroEntry("50")),
    "IRC": _tcp("6667"),
    "L2TP": _udp("1701"),
    "LDAP": _tcp("389"),
    "LDAPS": _tcp("636"),
    "MDNS": _udp("5353"),
    "MSSQL": _tcp("1433"),
    "Mail": _tcp("25", "465", "587"),
    "MySQL": _tcp("3306"),
    "NTP": _udp("123"),
    "OSPF": (MacroEntry("89"),),
    "OpenVPN": _udp("1194"),
    "POP3": _tcp("110"),
    "POP3S": _tcp("995"),
    "Ping": _ECHO,
    "PostgreSQL": _tcp("5432"),
    "RDP": _tcp("3389"),
    "RIP": _udp("520"),
    "Rsync": _tcp("873"),
    "SMB": (*_udp("135,445", "137:139"), MacroEntry("udp", "1024:65535", "137"), *_tcp("135,139,445")),
    "SMTP": _tcp("25"),
    "SMTPS": _tcp("465"),
    "SNMP": (MacroEntry("udp", "161:162"), MacroEntry("tcp", "161")),
    "SSH": _tcp("22"),
    "Submission": _tcp("587"),
    "Syslog": _both("514"),
    "TFTP": _udp("69"),
    "Telnet": _tcp("23"),
    "Trcrt": (MacroEntry("udp", "33434:33524"), *_ECHO),
    "VNC": _tcp("5900:5999"),
    "Web": _tcp("80", "443"),
    "Webcache": _tcp("8080"),
}

_BY_LOWER = {name.lower(): name for name in MACROS}


def canonical_macro(name: str) -> str:
    """The macro's canonical name; ``ValueError`` for an unknown one."""
    try:
        return _BY_LOWER[name.lower()]
    except KeyError:
        raise ValueError(f"unknown macro '{name}'") from None
