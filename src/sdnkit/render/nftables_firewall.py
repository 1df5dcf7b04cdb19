"""The VNet firewall plan as one nftables table, ``table inet sdnkit-vnetfw`` (pure text).

::

    table inet sdnkit-vnetfw {
        set vnet1-all-v4 { type ipv4_addr; flags interval; elements = { 10.0.1.0/24 } }
        chain forward {
            type filter hook forward priority filter; policy accept;
            iifname "vnet1" oifname "vnet1" jump vnet-vnet1
        }
        chain vnet-vnet1 {
            ct state established,related accept
            ct state invalid drop
            meta l4proto ipv6-icmp icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
            meta nfproto ipv4 meta l4proto 1 icmp type 8 drop
            ...
        }
    }

Why ``inet`` forward with ``iifname == oifname == <vnet>``: with the kernel's bridge netfilter
(``net.bridge.bridge-nf-call-iptables``/``-ip6tables``, which the realizer turns on) frames
bridged between two ports of a vnet bridge pass the IP forward hook with the bridge as both
input and output device, and there connection tracking and ``reject`` work. The ``bridge``
family's forward hook would see them too, but needs conntrack and reject modules for bridges
(``nf_conntrack_bridge``, ``nft_reject_bridge``) that kernels do not always have; measured in
``tests/kernel/test_vnet_firewall.py``. Routed traffic (guest to gateway, vnet to vnet) has the
bridge on one side only and is not matched, as upstream's vnet firewall does not filter it.

The renderer checks every name and value itself (device and set names against fixed patterns,
numbers as integers, log prefixes from a fixed alphabet) and raises ``InternalError`` for
anything else, so no value can add a statement to the table, whatever produced the plan.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sdnkit.errors import InternalError
from sdnkit.plan.vnet_firewall import AddressMatch, FilterRule, VnetChain, VnetFirewallPlan
from sdnkit.render.nftables_sets import element_text, nft_sets, set_body

__all__ = ["TABLE", "render_vnet_firewall"]

TABLE = "sdnkit-vnetfw"
_IFNAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,14}")
_SET = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,70}-v[46]")
_PREFIX = re.compile(r"[A-Za-z0-9 _.:-]{1,120}")
_LEVELS = frozenset({"emerg", "alert", "crit", "err", "warn", "notice", "info", "debug"})
_VERDICTS = frozenset({"accept", "drop", "reject"})
_FAMILY = {4: ("ip", "ipv4", "icmp"), 6: ("ip6", "ipv6", "icmpv6")}
ND_TYPES = "nd-neighbor-solicit, nd-neighbor-advert"


def _check(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not pattern.fullmatch(value):
        raise InternalError(f"vnet firewall: refusing to render {what} {value!r}")
    return value


def _int(value: object, low: int, high: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InternalError(f"vnet firewall: refusing to render {what} {value!r}")
    return value


def _ports(spans: Iterable[tuple[int, int]]) -> str:
    items = []
    for lo, hi in spans:
        lo, hi = _int(lo, 0, 65535, "port"), _int(hi, 0, 65535, "port")
        items.append(str(lo) if lo == hi else f"{lo}-{hi}")
    return items[0] if len(items) == 1 else "{ " + ", ".join(items) + " }"


def _address(match: AddressMatch, version: int, direction: str) -> str:
    keyword = f"{_FAMILY[version][0]} {direction}"
    if match.set_name is not None:
        return f"{keyword} @{_check(_SET, match.set_name, 'set name')}"
    limit = (1 << (32 if version == 4 else 128)) - 1
    texts = [element_text(version, (_int(lo, 0, limit, "address"), _int(hi, 0, limit, "address")))
             for lo, hi in match.intervals]  # fmt: skip
    return f"{keyword} {texts[0]}" if len(texts) == 1 else f"{keyword} {{ {', '.join(texts)} }}"


def _verdict(rule: FilterRule) -> str:
    verdict = rule.verdict if rule.verdict in _VERDICTS else ""
    if not verdict:
        raise InternalError(f"vnet firewall: refusing to render verdict {rule.verdict!r}")
    if verdict == "reject" and rule.l4proto == 6:
        return "reject with tcp reset"
    return verdict


def _log(level: str | None, prefix: str) -> list[str]:
    if level is None:
        return []
    if level not in _LEVELS:
        raise InternalError(f"vnet firewall: refusing to render log level {level!r}")
    return [f'log prefix "{_check(_PREFIX, prefix, "log prefix")}" level {level}']


def _rule(rule: FilterRule) -> str:
    parts = []
    if rule.version is not None:
        _int(rule.version, 4, 6, "IP version")
        parts.append(f"meta nfproto {_FAMILY[rule.version][1]}")
    for match, direction in ((rule.saddr, "saddr"), (rule.daddr, "daddr")):
        if match is not None:
            parts.append(_address(match, rule.version or 4, direction))
    if rule.l4proto is not None:
        parts.append(f"meta l4proto {_int(rule.l4proto, 0, 255, 'protocol')}")
    if rule.sports:
        parts.append(f"th sport {_ports(rule.sports)}")
    if rule.dports:
        parts.append(f"th dport {_ports(rule.dports)}")
    if rule.icmp is not None:
        name = _FAMILY[_int(rule.icmp.version, 4, 6, "IP version")][2]
        parts.append(f"{name} type {_int(rule.icmp.type, 0, 255, 'icmp type')}")
        if rule.icmp.code is not None:
            parts.append(f"{name} code {_int(rule.icmp.code, 0, 255, 'icmp code')}")
    parts += _log(rule.log, rule.log_prefix)
    parts.append(_verdict(rule))
    return " ".join(parts)


def _chain(chain: VnetChain) -> list[str]:
    name = _check(_IFNAME, chain.vnet, "vnet")
    lines = [
        f"\tchain vnet-{name} {{",
        "\t\tct state established,related accept",
        "\t\tct state invalid drop",
        f"\t\tmeta l4proto ipv6-icmp icmpv6 type {{ {ND_TYPES} }} accept",
        *(f"\t\t{_rule(rule)}" for rule in chain.rules),
    ]
    if chain.policy not in ("accept", "drop"):
        raise InternalError(f"vnet firewall: refusing to render policy {chain.policy!r}")
    lines += [
        f"\t\t{text}" for text in _log(chain.policy_log, f"vnetfw {name} policy {chain.policy.upper()}: ")
    ]
    lines += [f"\t\t{chain.policy}", "\t}"]
    return lines


def render_vnet_firewall(plan: VnetFirewallPlan) -> str:
    """The table (``""`` when no vnet of the node has an enabled firewall)."""
    if not plan.chains:
        return ""
    lines = [f"table inet {TABLE} {{"]
    for ipset in plan.sets:
        for nset in nft_sets(ipset):
            body = "; ".join(set_body(nset))
            lines.append(f"\tset {_check(_SET, nset.name, 'set name')} {{ {body}; }}")
    lines += ["\tchain forward {", "\t\ttype filter hook forward priority filter; policy accept;"]
    for chain in plan.chains:
        bridge = _check(_IFNAME, chain.bridge, "bridge")
        lines.append(
            f'\t\tiifname "{bridge}" oifname "{bridge}" jump vnet-{_check(_IFNAME, chain.vnet, "vnet")}'
        )
    lines.append("\t}")
    for chain in plan.chains:
        lines += _chain(chain)
    lines.append("}")
    return "\n".join(lines) + "\n"
