"""VNet firewall operations: options and rules of ``firewall/<vnet>.fw`` (PVE ``API2/Firewall/Vnet.pm``).

Usage (parameters as PVE's handlers get them; the API checks permissions first)::

    fw = VnetFirewallService(store)
    fw.options("vnet1")                                   -> {enable?, policy_forward?, ..., digest}
    fw.set_options("vnet1", {"enable": 1, "digest": ...})
    fw.rules("vnet1")                                     -> [{pos, type, action, ..., digest}]
    fw.create_rule("vnet1", {"type": "forward", "action": "DROP", "proto": "icmp", "enable": 1})
    fw.update_rule("vnet1", 0, {"moveto": 2, "digest": ...})
    fw.delete_rule("vnet1", 0, {"digest": ...})

As in PVE, the firewall of a vnet is not part of the pending/running SDN configuration: a change
is written at once (node agents pick it up without an SDN apply). Each change holds the vnet's
firewall lock (PVE ``lock_vnetfw_conf``: ``firewall-vnet-<vnet>``, 10 s), checks the ``digest``
the client read (options and rules have their own), and commits only if the file is unchanged
since it was read. A new rule goes to the top (position 0), or to ``pos`` when given. The vnet
must exist in the current configuration; IP sets named by a rule must exist.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sdnkit.config.formats import split_list
from sdnkit.config.fwfile import VnetFirewall, document_name, list_digest, object_digest, parse_fw, render_fw
from sdnkit.config.fwrule import (
    OPTION_KEYS,
    RULE_KEYS,
    FirewallRule,
    check_rule,
    parse_options,
    parse_rule_fields,
    updated_rule,
)
from sdnkit.config.fwvalues import parse_address
from sdnkit.config.schema import Kind
from sdnkit.errors import ConfigError, ConflictError, NotFoundError
from sdnkit.store.base import ABSENT, Store
from sdnkit.store.snapshot import load_snapshot

__all__ = ["SET_SUFFIXES", "VnetFirewallService", "referenced_sets"]

SET_SUFFIXES = ("-all", "-gateway", "-no-gateway", "-dhcp")
_GUEST_SET = re.compile(r"guest-ipam-[0-9]+")
RULE_PARAMS = ("pos", "digest", "moveto", "delete")


def referenced_sets(rule: FirewallRule) -> list[str]:
    """The SDN IP set names a rule's source and dest refer to."""
    specs = (parse_address(a) for a in (rule.source, rule.dest) if a)
    return [s.ipset for s in specs if s.ipset]


def set_vnet(name: str) -> str | None:
    """The vnet whose set ``name`` is (``vnet1-no-gateway`` -> ``vnet1``); None for guest sets."""
    for suffix in sorted(SET_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return None


def _int(params: Mapping[str, Any], key: str) -> int | None:
    value = params.get(key)
    if value is None:
        return None
    try:
        number = int(str(value))
    except ValueError:
        raise ConfigError(
            "Parameter verification failed.", key=key, errors={key: "type check ('integer') failed"}
        ) from None
    if number < 0:
        raise ConfigError("Parameter verification failed.", key=key, errors={key: "value must be at least 0"})
    return number


def _moved(rules: list[FirewallRule], pos: int, moveto: int) -> list[FirewallRule]:
    """PVE's move: the rule goes before the one that was at ``moveto`` (or last)."""
    out = [r for i, r in enumerate(rules) if i != pos]
    before = sum(1 for i in range(min(moveto, len(rules))) if i != pos)
    out.insert(before, rules[pos])
    return out


def _deleted(text: Any) -> dict[str, None]:
    """The fields a ``delete`` list removes (PVE ``delete_rule_properties``)."""
    out: dict[str, None] = {}
    for key in split_list(text or ""):
        if key not in RULE_KEYS:
            raise ConfigError(f"no such property ('{key}')", key="delete")
        if key in ("type", "action"):
            raise ConfigError(f"unable to delete required property '{key}'", key="delete")
        out[key] = None
    return out


class VnetFirewallService:
    def __init__(self, store: Store, *, lock_timeout: float = 10.0) -> None:
        self.store = store
        self.lock_timeout = lock_timeout

    # reading ---------------------------------------------------------------------------------

    def _vnets(self) -> set[str]:
        return set(load_snapshot(self.store).sections(Kind.VNETS))

    def load(self, vnet: str) -> tuple[VnetFirewall, str]:
        """The vnet's firewall and the file's revision (``ABSENT``: no file yet)."""
        if vnet not in self._vnets():
            raise NotFoundError(f"sdn vnet '{vnet}' does not exist", key="vnet", value=vnet)
        doc = self.store.read(document_name(vnet))
        if doc is None:
            return VnetFirewall(), ABSENT
        return parse_fw(vnet, doc.data.decode()), doc.revision

    def options(self, vnet: str) -> dict[str, Any]:
        values = self.load(vnet)[0].options.api()
        return {**values, "digest": object_digest(values)}

    def rules(self, vnet: str) -> list[dict[str, Any]]:
        rules = [r.api() for r in self.load(vnet)[0].rules]
        digest = list_digest(rules)
        return [{**r, "pos": pos, "digest": digest} for pos, r in enumerate(rules)]

    def rule(self, vnet: str, pos: int) -> dict[str, Any]:
        rules = self.rules(vnet)
        if pos >= len(rules):
            raise NotFoundError(f"no rule at position {pos}", key="pos", value=pos)
        return rules[pos]

    # writing ---------------------------------------------------------------------------------

    def _write(self, vnet: str, fw: VnetFirewall, revision: str) -> None:
        text = render_fw(fw)
        self.store.commit(
            {document_name(vnet): text.encode() if text else None}, expect={document_name(vnet): revision}
        )

    @staticmethod
    def _check_digest(given: Any, current: str) -> None:
        if given and str(given).lower() != current:
            raise ConflictError(
                "detected modified configuration - file changed by other user? Try again.", key="digest"
            )

    def set_options(self, vnet: str, params: Mapping[str, Any]) -> None:
        with self.store.lock(f"firewall-vnet-{vnet}", self.lock_timeout):
            fw, revision = self.load(vnet)
            self._check_digest(params.get("digest"), object_digest(fw.options.api()))
            options = fw.options
            for key in split_list(params.get("delete") or ""):
                if key not in OPTION_KEYS:
                    raise ConfigError(f"no such option '{key}'", key="delete")
                options = replace(options, **{key: None})
            options = parse_options({k: v for k, v in params.items() if k in OPTION_KEYS}, options)
            self._write(vnet, replace(fw, options=options), revision)

    def _checked(self, vnet: str, rule: FirewallRule) -> FirewallRule:
        check_rule(rule, vnet)
        vnets = self._vnets()
        for key, address in (("source", rule.source), ("dest", rule.dest)):
            name = parse_address(address).ipset if address else None
            if name is None:
                continue
            owner = set_vnet(name)
            if (owner is None and not _GUEST_SET.fullmatch(name)) or (
                owner is not None and owner not in vnets
            ):
                problem = f"no such ipset '+sdn/{name}'"
                raise ConfigError(
                    f'vnet "{vnet}": firewall rule: {key}: {problem}', key=key, errors={key: problem}
                )
        return rule

    def create_rule(self, vnet: str, params: Mapping[str, Any]) -> None:
        fields = parse_rule_fields({k: v for k, v in params.items() if k not in RULE_PARAMS})
        rule = updated_rule(None, {k: v for k, v in fields.items() if v is not None})
        with self.store.lock(f"firewall-vnet-{vnet}", self.lock_timeout):
            fw, revision = self.load(vnet)
            rules = list(fw.rules)
            self._check_digest(params.get("digest"), list_digest(r.api() for r in rules))
            pos = _int(params, "pos") or 0
            rules.insert(min(pos, len(rules)), self._checked(vnet, rule))
            self._write(vnet, replace(fw, rules=tuple(rules)), revision)

    def update_rule(self, vnet: str, pos: int, params: Mapping[str, Any]) -> None:
        fields = parse_rule_fields({k: v for k, v in params.items() if k not in RULE_PARAMS})
        with self.store.lock(f"firewall-vnet-{vnet}", self.lock_timeout):
            fw, revision = self.load(vnet)
            rules = list(fw.rules)
            self._check_digest(params.get("digest"), list_digest(r.api() for r in rules))
            if pos >= len(rules):
                raise NotFoundError(f"no rule at position {pos}", key="pos", value=pos)
            moveto = _int(params, "moveto")
            if moveto is not None and moveto != pos:  # PVE: a move ignores the other arguments
                rules = _moved(rules, pos, moveto)
            else:
                changes = {**fields, **_deleted(params.get("delete"))}
                rules[pos] = self._checked(vnet, updated_rule(rules[pos], changes))
            self._write(vnet, replace(fw, rules=tuple(rules)), revision)

    def delete_rule(self, vnet: str, pos: int, params: Mapping[str, Any]) -> None:
        with self.store.lock(f"firewall-vnet-{vnet}", self.lock_timeout):
            fw, revision = self.load(vnet)
            rules = list(fw.rules)
            self._check_digest(params.get("digest"), list_digest(r.api() for r in rules))
            if pos >= len(rules):
                raise NotFoundError(f"no rule at position {pos}", key="pos", value=pos)
            del rules[pos]
            self._write(vnet, replace(fw, rules=tuple(rules)), revision)


def register_routes(add: Any) -> None:
    """The firewall paths for ``sdn pvesh`` (``handler(service, params)``; path parameters merged)."""
    base = "/cluster/sdn/vnets/{vnet}/firewall"

    def fw(service: Any) -> VnetFirewallService:
        return VnetFirewallService(service.store)

    def pos(params: Mapping[str, Any]) -> int:
        return _int(params, "pos") or 0

    def rest(params: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in params.items() if k not in ("vnet", "pos")}

    add("GET", base, lambda s, p: [{"name": "rules"}, {"name": "options"}])
    add("GET", f"{base}/options", lambda s, p: fw(s).options(p["vnet"]))
    add("PUT", f"{base}/options", lambda s, p: fw(s).set_options(p["vnet"], rest(p)))
    add("GET", f"{base}/rules", lambda s, p: fw(s).rules(p["vnet"]))
    add(
        "POST",
        f"{base}/rules",
        lambda s, p: fw(s).create_rule(p["vnet"], {k: v for k, v in p.items() if k != "vnet"}),
    )
    add("GET", f"{base}/rules/{{pos}}", lambda s, p: fw(s).rule(p["vnet"], pos(p)))
    add("PUT", f"{base}/rules/{{pos}}", lambda s, p: fw(s).update_rule(p["vnet"], pos(p), rest(p)))
    add("DELETE", f"{base}/rules/{{pos}}", lambda s, p: fw(s).delete_rule(p["vnet"], pos(p), rest(p)))
