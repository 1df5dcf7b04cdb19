"""``/cluster/sdn/vnets/{vnet}/firewall``: the VNet firewall (PVE 8.3+, pve-firewall ``Vnet.pm``).

``options`` (GET/PUT: ``enable``, ``policy_forward``, ``log_level_forward``), ``rules`` (GET list,
POST create) and ``rules/{pos}`` (GET, PUT update or ``moveto``, DELETE), with PVE's digests. Reading
needs ``SDN.Audit`` or ``SDN.Allocate`` on ``/sdn/zones/<zone>/<vnet>``, writing ``SDN.Allocate``;
a rule naming another vnet's IP set (``+sdn/<vnet>-all``) also needs Audit or Allocate on that
vnet, as PVE only offers the sets of vnets the caller may see. The work is done by
``service/vnet_firewall.py``; node agents apply a change without an SDN apply.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sdnkit.api.endpoint import Call, add
from sdnkit.api.params import BOOL, DELETE, DIGEST, Param, ParamSpec, id_param
from sdnkit.api.roles import Privilege
from sdnkit.api.routes.vnets import vnet_path
from sdnkit.config.formats import Enum, Integer, Text
from sdnkit.config.fwrule import POLICIES
from sdnkit.config.fwvalues import LOG_LEVELS
from sdnkit.config.schema import Kind
from sdnkit.errors import NotFoundError
from sdnkit.service.vnet_firewall import VnetFirewallService, set_vnet

__all__ = ["register"]

READ = (Privilege.SDN_AUDIT, Privilege.SDN_ALLOCATE)
POS = Integer(0, None)
LOG = Enum(LOG_LEVELS)

OPTIONS_SPEC = ParamSpec(
    (
        Param("enable", "Enable/disable the vnet's firewall rules.", BOOL),
        Param("policy_forward", "Forward policy (ACCEPT or DROP).", Enum(POLICIES)),
        Param("log_level_forward", "Log level for forwarded traffic the policy decides.", LOG),
        DELETE,
        DIGEST,
    )
)
_TEXT = Text(None, 4096)
RULE_PARAMS = (
    Param("type", "Rule type: 'forward' (the only one of a vnet).", doc_format=Enum(("forward",))),
    Param("action", "Rule action: ACCEPT, DROP or REJECT.", doc_format=Enum(("ACCEPT", "DROP", "REJECT"))),
    Param("macro", "A predefined service (SSH, HTTP, Ping, ...) instead of proto/dport.", doc_format=_TEXT),
    Param("iface", "Not supported for vnet rules (refused).", doc_format=_TEXT),
    Param("source", "Source: address, CIDR, range a-b, comma list, or +sdn/<set>.", doc_format=_TEXT),
    Param("dest", "Destination: address, CIDR, range a-b, comma list, or +sdn/<set>.", doc_format=_TEXT),
    Param("proto", "IP protocol, by name (tcp, udp, icmp, ...) or number.", doc_format=_TEXT),
    Param("dport", "Destination ports: 22, 80:85, http, or a comma list of them.", doc_format=_TEXT),
    Param("sport", "Source ports: 22, 80:85, http, or a comma list of them.", doc_format=_TEXT),
    Param("icmp-type", "ICMP or ICMPv6 type (name or number); needs proto icmp or icmpv6.", doc_format=_TEXT),
    Param("log", "Log level of packets the rule matches.", doc_format=LOG),
    Param("comment", "Descriptive comment.", doc_format=_TEXT),
    Param("enable", "1: the rule is active (new rules default to 0).", doc_format=POS),
)
CREATE_SPEC = ParamSpec((*RULE_PARAMS, Param("pos", "Insert at this position (default 0).", POS), DIGEST))
UPDATE_SPEC = ParamSpec(
    (
        *RULE_PARAMS,
        Param("moveto", "Move the rule to this position; other arguments are ignored.", POS),
        DELETE,
        DIGEST,
    )
)
DELETE_SPEC = ParamSpec((DIGEST,))


def _service(call: Call) -> VnetFirewallService:
    return VnetFirewallService(call.service.store)


def _read(call: Call) -> str:
    vnet = call.path["vnet"]
    call.perms.check_any(vnet_path(call, vnet), READ)
    return vnet


def _write(call: Call) -> str:
    vnet = call.path["vnet"]
    call.perms.check(vnet_path(call, vnet), Privilege.SDN_ALLOCATE)
    for key in ("source", "dest"):
        value = str(call.params.get(key) or "")
        owner = set_vnet(value[len("+sdn/") :]) if value.startswith("+sdn/") else None
        if owner:  # a set of a vnet the caller cannot see is as unknown to them as a missing one
            try:
                path = vnet_path(call, owner)
            except NotFoundError:
                continue  # the service refuses the unknown set
            call.perms.check_any(path, READ)
    return vnet


def _index(call: Call) -> Any:
    _read(call)
    return [{"name": "rules"}, {"name": "options"}]


def _get_options(call: Call) -> Any:
    return _service(call).options(_read(call))


def _set_options(call: Call) -> Any:
    _service(call).set_options(_write(call), call.params)


def _list_rules(call: Call) -> Any:
    return _service(call).rules(_read(call))


def _get_rule(call: Call) -> Any:
    return _service(call).rule(_read(call), int(call.path["pos"]))


def _create_rule(call: Call) -> Any:
    _service(call).create_rule(_write(call), call.params)


def _update_rule(call: Call) -> Any:
    _service(call).update_rule(_write(call), int(call.path["pos"]), call.params)


def _delete_rule(call: Call) -> Any:
    _service(call).delete_rule(_write(call), int(call.path["pos"]), call.params)


def register(router: APIRouter) -> None:
    base = "/cluster/sdn/vnets/{vnet}/firewall"
    vnet = {"vnet": id_param(Kind.VNETS)}
    rule = {**vnet, "pos": Param("pos", "Rule position.", POS)}
    endpoints = (  # (method, path, handler, spec, path parameters, summary)
        ("GET", base, _index, None, vnet, "VNet firewall index."),
        ("GET", f"{base}/options", _get_options, None, vnet, "Get the vnet firewall options."),
        ("PUT", f"{base}/options", _set_options, OPTIONS_SPEC, vnet, "Set the vnet firewall options."),
        ("GET", f"{base}/rules", _list_rules, None, vnet, "List the vnet's firewall rules."),
        ("POST", f"{base}/rules", _create_rule, CREATE_SPEC, vnet, "Create a firewall rule."),
        ("GET", f"{base}/rules/{{pos}}", _get_rule, None, rule, "Get one firewall rule."),
        ("PUT", f"{base}/rules/{{pos}}", _update_rule, UPDATE_SPEC, rule, "Modify or move a firewall rule."),
        ("DELETE", f"{base}/rules/{{pos}}", _delete_rule, DELETE_SPEC, rule, "Delete a firewall rule."),
    )
    for method, path, handler, spec, path_params, summary in endpoints:
        add(router, method, path, handler, spec=spec, path_params=path_params, summary=summary)
