"""The VNet firewall file, ``firewall/<vnet>.fw``, in PVE's format, and its digests.

::

    [OPTIONS]

    enable: 1
    policy_forward: DROP

    [RULES]

    FORWARD ACCEPT -source +sdn/vnet1-all -p tcp -dport 22 -log info # admins
    |FORWARD Ping(DROP)

A rule line is ``[|]DIRECTION ACTION`` or ``[|]DIRECTION MACRO(ACTION)`` followed by ``-source``,
``-dest``, ``-p``, ``-dport``, ``-sport``, ``-log``, ``-icmp-type`` and an optional ``# comment``;
``|`` marks a disabled rule. Lines starting with ``#`` and empty lines are ignored. Options are
written sorted (PVE writes them in hash order). An empty firewall is no file at all.

Digests are PVE's (``copy_opject_with_digest``, ``copy_list_with_digest``): SHA-1 over the sorted
``key:value`` lines of the options, and of every rule in order.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sdnkit.config.fwrule import (
    FirewallOptions,
    FirewallRule,
    parse_options,
    parse_rule_fields,
    updated_rule,
)
from sdnkit.errors import ConfigError

__all__ = ["VnetFirewall", "document_name", "list_digest", "object_digest", "parse_fw", "render_fw"]

_SECTION = re.compile(r"\[(\w+)\]")
_OPTION = re.compile(r"([a-z_]+):\s*(\S+)")
_HEAD = re.compile(r"(\|)?(\S+)\s+(\S+)")
_MACRO = re.compile(r"([A-Za-z0-9]+)\((ACCEPT|DROP|REJECT)\)")
_FLAGS = {"-source": "source", "-dest": "dest", "-p": "proto", "-dport": "dport", "-sport": "sport",
          "-log": "log", "-icmp-type": "icmp-type", "-i": "iface"}  # fmt: skip
_WRITE_ORDER = ("source", "dest", "proto", "dport", "sport", "log", "icmp-type")


def document_name(vnet: str) -> str:
    """The store document of a vnet's firewall (PVE: ``/etc/pve/sdn/firewall/<vnet>.fw``)."""
    return f"firewall/{vnet}.fw"


@dataclass(frozen=True, slots=True)
class VnetFirewall:
    options: FirewallOptions = field(default_factory=FirewallOptions)
    rules: tuple[FirewallRule, ...] = ()

    @property
    def enabled(self) -> bool:
        return bool(self.options.enable)


def _rule_line(text: str) -> FirewallRule:
    raw: dict[str, Any] = {}
    if "#" in text:
        text, comment = text.split("#", 1)
        if comment.strip():
            raw["comment"] = comment.strip()
    head = _HEAD.match(text.strip())
    if head is None:
        raise ValueError("expected '<direction> <action>'")
    raw["enable"] = "0" if head[1] else "1"
    raw["type"] = head[2].lower()
    macro = _MACRO.fullmatch(head[3])
    if macro:
        raw["macro"], raw["action"] = macro[1], macro[2]
    else:
        raw["action"] = head[3]
    words = text.strip()[head.end() :].split()
    if len(words) % 2:
        raise ValueError(f"unable to parse rule parameters: {' '.join(words)}")
    for flag, value in zip(words[::2], words[1::2], strict=True):
        if flag not in _FLAGS:
            raise ValueError(f"unable to parse rule parameters: {flag} {value}")
        raw[_FLAGS[flag]] = value
    return updated_rule(None, {k: v for k, v in parse_rule_fields(raw).items() if v is not None})


def parse_fw(vnet: str, text: str) -> VnetFirewall:
    """The firewall of ``vnet`` from its file; ``ConfigError`` names the line at fault."""
    section = None
    options: dict[str, str] = {}
    rules: list[FirewallRule] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            if _SECTION.fullmatch(line):
                section = line[1:-1].upper()
                if section not in ("OPTIONS", "RULES"):
                    raise ValueError(f"section [{section}] is not supported in a vnet firewall")
            elif section == "OPTIONS":
                match = _OPTION.fullmatch(line)
                if match is None:
                    raise ValueError("expected '<option>: <value>'")
                options[match[1]] = match[2]
            elif section == "RULES":
                rules.append(_rule_line(line))
            else:
                raise ValueError("text outside of a section")
        except (ValueError, ConfigError) as err:
            raise ConfigError(
                f'vnet "{vnet}": {document_name(vnet)} line {number}: {err}', obj=vnet
            ) from None
    try:
        parsed = parse_options(options)
    except ConfigError as err:
        raise ConfigError(f'vnet "{vnet}": {document_name(vnet)}: {err.errors}', obj=vnet) from None
    return VnetFirewall(parsed, tuple(rules))


def _render_rule(rule: FirewallRule) -> str:
    action = f"{rule.macro}({rule.action})" if rule.macro else rule.action
    parts = [("" if rule.enable else "|") + rule.type.upper(), action]
    values = rule.api()
    for key in _WRITE_ORDER:
        if key in values:
            parts += [f"-{'p' if key == 'proto' else key}", str(values[key])]
    line = " ".join(parts)
    if rule.comment and rule.comment.strip():
        line += f" # {rule.comment}"
    return line + "\n"


def render_fw(fw: VnetFirewall) -> str:
    """The file text ("" when there is nothing to keep: no file)."""
    out = ""
    options = fw.options.api()
    if options:
        out += "[OPTIONS]\n\n" + "".join(f"{k}: {v}\n" for k, v in sorted(options.items())) + "\n"
    if fw.rules:
        out += "[RULES]\n\n" + "".join(map(_render_rule, fw.rules)) + "\n"
    return out


def _add(sha: Any, values: Mapping[str, Any]) -> None:
    for key in sorted(values):
        sha.update(f"{key}:{values[key]}\n".encode())


def object_digest(values: Mapping[str, Any]) -> str:
    sha = hashlib.sha1()  # PVE's digest, not a security use
    _add(sha, values)
    return sha.hexdigest()


def list_digest(items: Iterable[Mapping[str, Any]]) -> str:
    sha = hashlib.sha1()  # PVE's digest, not a security use
    for values in items:
        _add(sha, values)
    return sha.hexdigest()
