"""VNet firewall rules and options: typed values, checked per field, then as a whole.

A rule is what one line of ``[RULES]`` in ``firewall/<vnet>.fw`` holds and what
``/cluster/sdn/vnets/{vnet}/firewall/rules`` shows (spec §6): type, action or macro, source,
dest, proto, dport, sport, icmp-type, log, comment, enable. The checks are PVE's
(``PVE::Firewall::verify_rule``) for the vnet context, where only ``forward`` rules exist:

* ``action`` is ACCEPT, DROP or REJECT; security groups (``type group``) and interface matches
  (``iface``) are refused, aliases and IP sets other than the SDN ones (``+sdn/<name>``) too;
* ``dport``/``sport`` need a protocol with ports (tcp, udp, dccp, sctp, udplite), ``icmp-type``
  needs icmp or icmpv6; a macro fixes the protocol and ports;
* addresses of one rule are of one family, and icmp/icmpv6 fix it.

Every accepted value is single-line text from a fixed alphabet (``config/fwvalues.py``), and a
comment has no control characters, so nothing a client sends can add a line to the ``.fw`` file
or a statement to the nftables ruleset.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from sdnkit.config import fwvalues
from sdnkit.config.formats import clean_text
from sdnkit.config.fwmacros import MACROS, canonical_macro
from sdnkit.errors import ConfigError

__all__ = [
    "ACTIONS",
    "OPTION_KEYS",
    "POLICIES",
    "RULE_KEYS",
    "FirewallOptions",
    "FirewallRule",
    "check_rule",
    "parse_options",
    "parse_rule_fields",
    "rule_ipversion",
    "updated_rule",
]

ACTIONS = ("ACCEPT", "DROP", "REJECT")
POLICIES = ("ACCEPT", "DROP")
MAX_COMMENT = 4096


def _enum(values: tuple[str, ...], what: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in values:
            raise ValueError(f"value '{text}' does not have a value in the enumeration '{', '.join(values)}'")
        return text

    parse.__name__ = what
    return parse


def _type(text: str) -> str:
    if text == "group":
        raise ValueError("security groups are not supported in vnet rules")
    if text in ("in", "out"):
        raise ValueError(f"direction '{text}' is not allowed in vnet rules (only 'forward')")
    return _enum(("forward",), "type")(text)


def _comment(text: str) -> str:
    if len(text) > MAX_COMMENT:
        raise ValueError(f"longer than {MAX_COMMENT} characters")
    return text


def _iface(text: str) -> str:
    raise ValueError("interface matches are not supported in vnet rules (the rule applies to the whole vnet)")


def _enable(text: str) -> str:
    if not text.isdigit():
        raise ValueError("type check ('integer') failed")
    return "1" if int(text) else "0"


# key -> parser of the field's text (PVE's rule properties)
RULE_FIELDS: dict[str, Callable[[str], str]] = {
    "type": _type,
    "action": _enum(ACTIONS, "action"),
    "macro": canonical_macro,
    "iface": _iface,
    "source": lambda t: (fwvalues.parse_address(t), t)[1],
    "dest": lambda t: (fwvalues.parse_address(t), t)[1],
    "proto": fwvalues.parse_protocol,
    "dport": fwvalues.parse_ports,
    "sport": fwvalues.parse_ports,
    "icmp-type": fwvalues.parse_icmp_type,
    "log": _enum(fwvalues.LOG_LEVELS, "log"),
    "comment": _comment,
    "enable": _enable,
}
RULE_KEYS = tuple(RULE_FIELDS)
OPTION_FIELDS: dict[str, Callable[[str], str]] = {
    "enable": _enable,
    "policy_forward": _enum(POLICIES, "policy_forward"),
    "log_level_forward": _enum(fwvalues.LOG_LEVELS, "log_level_forward"),
}
OPTION_KEYS = tuple(OPTION_FIELDS)


def _text(raw: Any) -> str:
    if isinstance(raw, bool):
        return "1" if raw else "0"
    return clean_text(raw)


def _parse_fields(
    raw: Mapping[str, Any], table: Mapping[str, Callable[[str], str]], *, erase: bool
) -> dict[str, str | None]:
    """Checked field texts; with ``erase``, ``''`` or ``'-'`` is "remove" (None): PVE's copy_rule_data."""
    errors: dict[str, str] = {}
    out: dict[str, str | None] = {}
    for key, value in raw.items():
        if value is None:
            continue
        if key not in table:
            errors[key] = (
                "property is not defined in schema and the schema does not allow additional properties"
            )
            continue
        try:
            text = _text(value)
            out[key] = None if erase and text in ("", "-") else table[key](text)
        except ValueError as err:
            errors[key] = str(err)
    if errors:
        raise ConfigError("Parameter verification failed.", key=next(iter(errors)), errors=errors)
    return out


def parse_rule_fields(raw: Mapping[str, Any]) -> dict[str, str | None]:
    return _parse_fields(raw, RULE_FIELDS, erase=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class FirewallRule:
    type: str = "forward"
    action: str = ""
    enable: bool = False
    macro: str | None = None
    source: str | None = None
    dest: str | None = None
    proto: str | None = None
    dport: str | None = None
    sport: str | None = None
    icmp_type: str | None = None
    log: str | None = None
    comment: str | None = None

    def api(self) -> dict[str, Any]:
        """PVE's keys and values (``enable`` as 0/1; ``ipversion`` when the rule fixes it)."""
        out: dict[str, Any] = {"type": self.type, "action": self.action, "enable": int(self.enable)}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name not in out and value is not None:
                out[f.name.replace("_", "-")] = value
        version = rule_ipversion(self)
        if version:
            out["ipversion"] = version
        return out


def _attr(key: str) -> str:
    return key.replace("-", "_")


def updated_rule(rule: FirewallRule | None, changes: Mapping[str, str | None]) -> FirewallRule:
    """``rule`` (or a new one) with checked field ``changes`` applied (None removes a field)."""
    values: dict[str, Any] = {}
    for key, text in changes.items():
        if key == "enable":
            values["enable"] = text == "1"
        elif key in ("type", "action") and text is None:
            raise ConfigError(f"unable to delete required property '{key}'", key="delete")
        else:
            values[_attr(key)] = text
    return replace(rule or FirewallRule(), **values)


def rule_ipversion(rule: FirewallRule) -> int | None:
    """The IP version the rule's addresses or protocol fix (None: both families)."""
    versions = set()
    for addr in (rule.source, rule.dest):
        if addr:
            spec = fwvalues.parse_address(addr)
            if spec.version:
                versions.add(spec.version)
    if rule.proto:
        number = fwvalues.protocol_number(rule.proto)
        versions |= {4} if number == fwvalues.ICMP4 else {6} if number == fwvalues.ICMP6 else set()
    if len(versions) > 1:
        raise ConfigError("detected mixed ipv4/ipv6 adresses in rule", key="source")
    return next(iter(versions), None)


def _check_ports(rule: FirewallRule, errors: dict[str, str]) -> None:
    proto = fwvalues.protocol_number(rule.proto) if rule.proto else None
    if rule.dport or rule.sport:
        if proto is None:
            errors["proto"] = (
                f"missing property - '{'dport' if rule.dport else 'sport'}' requires this property"
            )
        else:
            for key in ("dport", "sport"):
                if getattr(rule, key) and proto not in fwvalues.PORT_PROTOCOLS:
                    errors[key] = f"protocol '{rule.proto}' does not support ports"
    if rule.icmp_type:
        if proto not in (fwvalues.ICMP4, fwvalues.ICMP6):
            errors["icmp-type"] = "icmp-type requires proto icmp or icmpv6"
        else:
            try:
                fwvalues.icmp_type(rule.icmp_type, 4 if proto == fwvalues.ICMP4 else 6)
            except ValueError as err:
                errors["icmp-type"] = str(err)


def _check_macro(rule: FirewallRule, errors: dict[str, str]) -> None:
    for key in ("proto", "dport", "sport", "icmp_type"):
        if getattr(rule, key) is None:
            continue
        fixed = {getattr(entry, key) for entry in MACROS[str(rule.macro)]} - {None}
        if fixed:
            errors[key.replace("_", "-")] = (
                f"parameter '{key.replace('_', '-')}' already defined in macro '{rule.macro}'"
            )


def check_rule(rule: FirewallRule, vnet: str) -> FirewallRule:
    """The composite checks of a whole rule (``ConfigError`` names every field at fault)."""
    errors: dict[str, str] = {}
    if not rule.action:
        errors["action"] = "missing property"
    if rule.macro:
        _check_macro(rule, errors)
    _check_ports(rule, errors)
    try:
        rule_ipversion(rule)
    except ConfigError as err:
        errors.update(err.errors)
    if errors:
        key = next(iter(errors))
        raise ConfigError(f'vnet "{vnet}": firewall rule: {key}: {errors[key]}', key=key, errors=errors)
    return rule


@dataclass(frozen=True, slots=True, kw_only=True)
class FirewallOptions:
    enable: bool | None = None
    policy_forward: str | None = None
    log_level_forward: str | None = None

    def api(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.enable is not None:
            out["enable"] = int(self.enable)
        for key in ("policy_forward", "log_level_forward"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


def parse_options(raw: Mapping[str, Any], base: FirewallOptions | None = None) -> FirewallOptions:
    """``base`` with the checked options of ``raw`` set."""
    values: dict[str, Any] = {}
    for key, text in _parse_fields(raw, OPTION_FIELDS, erase=False).items():
        values[key] = (text == "1") if key == "enable" else text
    return replace(base or FirewallOptions(), **values)
