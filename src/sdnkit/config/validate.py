"""Cross-object rules: what must hold between zones, vnets, subnets, controllers, IPAMs, DNS and fabrics.

Per-option checks (formats, ranges, required options) happen when a section is parsed
(``config/section.py``). The rules here look at a whole configuration:

* ``check_config(cfg)`` lists every broken rule of one configuration.
* ``check_change(before, after, changed=...)`` refuses a change that breaks a rule which held before,
  or breaks a transition rule (a zone's ``ipam`` or a vnet's ``zone`` cannot change while subnets
  exist). Problems that were already there (say, in an imported PVE directory) do not block unrelated
  edits; ``apply`` refuses them all (see ``service``).
* ``check_delete(cfg, kind, id)`` refuses deleting an object that others still reference.

Zone-type rules live in ``config/zones/<type>.py``, fabric rules in ``config/fabricrules.py``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator

from sdnkit.config.fabricrules import check_fabrics
from sdnkit.config.model import ControllerType, SdnConfig, Subnet, Vnet, Zone, ZoneType
from sdnkit.config.schema import Kind
from sdnkit.config.subnetrules import check_subnets
from sdnkit.config.violation import Violation, to_error
from sdnkit.config.zones import ZONE_RULES, TagPolicy, TagScope
from sdnkit.config.zones.base import IFNAMSIZ, IfaceName
from sdnkit.errors import ConfigError

__all__ = ["BUILTIN_IPAM", "check_change", "check_config", "check_delete", "check_transition"]

BUILTIN_IPAM = "pve"

Rule = Callable[[SdnConfig], Iterable[Violation]]


def _zone_refs(cfg: SdnConfig) -> Iterator[Violation]:
    ipams, dns = cfg.of(Kind.IPAMS), cfg.of(Kind.DNS)
    for zone in cfg.zones.values():
        if zone.ipam and zone.ipam != BUILTIN_IPAM and zone.ipam not in ipams:
            yield Violation(Kind.ZONES, zone.id, "ipam", f'ipam "{zone.ipam}" does not exist')
        for key, ref in (("dns", zone.dns), ("reversedns", zone.reversedns)):
            if ref and ref not in dns:
                yield Violation(Kind.ZONES, zone.id, key, f'dns server "{ref}" does not exist')
        if zone.dnszone and not zone.dns:
            yield Violation(Kind.ZONES, zone.id, "dnszone", "dnszone needs a dns server (option dns)")
        if zone.fabric and zone.fabric not in cfg.fabrics:
            yield Violation(Kind.ZONES, zone.id, "fabric", f'fabric "{zone.fabric}" does not exist')


def _zone_types(cfg: SdnConfig) -> Iterator[Violation]:
    for zone in cfg.zones.values():
        rules = ZONE_RULES[zone.type]
        yield from rules.check_zone(zone, cfg)
        yield from rules.check_vnets(zone, cfg.vnets_of(zone.id))


def _vnet_tag(vnet: Vnet, zone: Zone) -> Iterator[Violation]:
    rules = ZONE_RULES[zone.type]
    where = f'{zone.type} zone "{zone.id}"'
    if vnet.tag is None:
        if rules.tag_policy is TagPolicy.REQUIRED:
            text = f"vnets of {where} need a tag ({rules.tag_name} 1-{rules.tag_max})"
            yield Violation(Kind.VNETS, vnet.id, "tag", text)
    elif rules.tag_policy is TagPolicy.FORBIDDEN:
        yield Violation(Kind.VNETS, vnet.id, "tag", f"vnets of {where} take no tag (tag {vnet.tag})")
    elif vnet.tag > rules.tag_max:
        text = f"{rules.tag_name} {vnet.tag} is out of range 1-{rules.tag_max} for {where}"
        yield Violation(Kind.VNETS, vnet.id, "tag", text)


def _vnets(cfg: SdnConfig) -> Iterator[Violation]:
    for vnet in cfg.vnets.values():
        zone = cfg.zones.get(vnet.zone)
        if zone is None:
            yield Violation(Kind.VNETS, vnet.id, "zone", f'zone "{vnet.zone}" does not exist')
            continue
        yield from _vnet_tag(vnet, zone)
        if vnet.vlanaware and not ZONE_RULES[zone.type].vlanaware:
            text = f'a vnet of {zone.type} zone "{zone.id}" cannot be vlan-aware'
            yield Violation(Kind.VNETS, vnet.id, "vlanaware", text)
        if vnet.vlanaware and cfg.subnets_of(vnet.id):
            text = "a vlan-aware vnet cannot have subnets (it has " + _ids(cfg.subnets_of(vnet.id)) + ")"
            yield Violation(Kind.VNETS, vnet.id, "vlanaware", text)


def _tag_group(vnet: Vnet, zone: Zone) -> tuple[str, ...]:
    if ZONE_RULES[zone.type].tag_scope is TagScope.VNI:
        return ("vni",)
    return ("zone", zone.id)


def _unique_tags(cfg: SdnConfig) -> Iterator[Violation]:
    groups: dict[tuple[object, ...], list[Vnet]] = defaultdict(list)
    for vnet in cfg.vnets.values():
        zone = cfg.zones.get(vnet.zone)
        if zone is not None and vnet.tag is not None:
            groups[(*_tag_group(vnet, zone), vnet.tag)].append(vnet)
    for (scope, *rest), members in groups.items():
        if len(members) < 2:
            continue
        for vnet in members:
            others = ", ".join(f'vnet "{o.id}" (zone "{o.zone}")' for o in members if o is not vnet)
            rule = (
                "VNIs are unique across all vxlan and evpn zones"
                if scope == "vni"
                else f'VLAN tags are unique within zone "{rest[0]}"'
            )
            text = f"tag {vnet.tag} is already used by {others} ({rule})"
            yield Violation(Kind.VNETS, vnet.id, "tag", text)


def _controllers(cfg: SdnConfig) -> Iterator[Violation]:
    per_node: dict[tuple[ControllerType, str], list[str]] = defaultdict(list)
    evpn = [c.id for c in cfg.controllers.values() if c.type is ControllerType.EVPN]
    for ctl in cfg.controllers.values():
        if ctl.type is ControllerType.EVPN:
            if bool(ctl.peers) == bool(ctl.fabric):
                text = "an evpn controller needs exactly one of peers or fabric"
                yield Violation(Kind.CONTROLLERS, ctl.id, "peers", text)
            if ctl.fabric and ctl.fabric not in cfg.fabrics:
                text = f'fabric "{ctl.fabric}" does not exist'
                yield Violation(Kind.CONTROLLERS, ctl.id, "fabric", text)
            if len(evpn) > 1:
                others = ", ".join(f'"{i}"' for i in evpn if i != ctl.id)
                text = f"only one evpn controller may exist, there is also {others}"
                yield Violation(Kind.CONTROLLERS, ctl.id, "type", text)
        elif ctl.node:
            per_node[(ctl.type, ctl.node)].append(ctl.id)
    for (type_, node), ids in per_node.items():
        for id_ in ids if len(ids) > 1 else ():
            others = ", ".join(f'"{i}"' for i in ids if i != id_)
            text = f"node {node} already has the {type_} controller {others} (one per node)"
            yield Violation(Kind.CONTROLLERS, id_, "node", text)


def _iface_names(cfg: SdnConfig) -> Iterator[IfaceName]:
    for zone in cfg.zones.values():
        yield from ZONE_RULES[zone.type].interface_names(zone, cfg.vnets_of(zone.id))
    for fabric in cfg.fabrics.values():
        yield IfaceName(f"dummy_{fabric.id}", "dummy_<fabric>", Kind.FABRICS, fabric.id, "id")


def _interface_names(cfg: SdnConfig) -> Iterator[Violation]:
    for iface in _iface_names(cfg):
        if len(iface.name) > IFNAMSIZ:
            text = (
                f'interface name "{iface.name}" ({iface.pattern}) is longer than the kernel\'s '
                f"{IFNAMSIZ} characters"
            )
            yield Violation(iface.kind, iface.id, iface.key, text)


RULES: tuple[Rule, ...] = (
    _zone_refs,
    _zone_types,
    _vnets,
    _unique_tags,
    check_subnets,
    _controllers,
    check_fabrics,
    _interface_names,
)


def check_config(cfg: SdnConfig) -> list[Violation]:
    """Every broken cross-object rule of ``cfg``, without duplicates, in rule order."""
    found: dict[Violation, None] = {}
    for rule in RULES:
        found.update(dict.fromkeys(rule(cfg)))
    return list(found)


def _zone_of_subnets(cfg: SdnConfig, zone: str) -> list[Subnet]:
    return [s for s in cfg.subnets.values() if s.zone == zone]


def check_transition(before: SdnConfig, after: SdnConfig) -> list[Violation]:
    """Rules about changing an object, not about a state."""
    out: list[Violation] = []
    for id_, old in before.zones.items():
        new = after.zones.get(id_)
        subnets = _zone_of_subnets(before, id_)
        if new is not None and (new.ipam or None) != (old.ipam or None) and subnets:
            text = f"cannot change the ipam while the zone has subnets ({_ids(subnets)})"
            out.append(Violation(Kind.ZONES, id_, "ipam", text))
    for id_, old_vnet in before.vnets.items():
        new_vnet = after.vnets.get(id_)
        subnets = before.subnets_of(id_)
        if new_vnet is not None and new_vnet.zone != old_vnet.zone and subnets:
            text = f'cannot move the vnet to zone "{new_vnet.zone}" while it has subnets ({_ids(subnets)})'
            out.append(Violation(Kind.VNETS, id_, "zone", text))
    return out


def check_change(before: SdnConfig, after: SdnConfig, *, changed: Iterable[tuple[Kind, str]] = ()) -> None:
    """Refuse ``after`` when it breaks a rule that ``before`` kept; name the changed object first."""
    old = set(check_config(before))
    new = [v for v in check_config(after) if v not in old]
    new.extend(check_transition(before, after))
    if not new:
        return
    focus = set(changed)
    # the changed object's own violations explain the others (a duplicate tag shows on both vnets)
    own = [v for v in new if (v.kind, v.id) in focus]
    raise to_error(own or new)


def _ids(objects: Iterable[Zone | Vnet | Subnet]) -> str:
    return ", ".join(o.id for o in objects)


def _users(cfg: SdnConfig, kind: Kind, id_: str) -> list[str]:
    zones = cfg.zones.values()
    if kind is Kind.ZONES:
        return [f'vnet "{v.id}"' for v in cfg.vnets_of(id_)]
    if kind is Kind.VNETS:
        return [f'subnet "{s.id}"' for s in cfg.subnets_of(id_)]
    if kind is Kind.CONTROLLERS:
        return [f'zone "{z.id}"' for z in zones if z.type is ZoneType.EVPN and z.controller == id_]
    if kind is Kind.IPAMS:
        return [f'zone "{z.id}"' for z in zones if z.ipam == id_]
    if kind is Kind.DNS:
        return [f'zone "{z.id}"' for z in zones if id_ in (z.dns, z.reversedns)]
    if kind is Kind.FABRICS and id_ in cfg.fabrics:
        ctls = [f'controller "{c.id}"' for c in cfg.controllers.values() if c.fabric == id_]
        return [f'zone "{z.id}"' for z in zones if z.fabric == id_] + ctls
    return []


def check_delete(cfg: SdnConfig, kind: Kind, id_: str) -> None:
    """Refuse deleting an object that other objects still reference (or the built-in IPAM)."""
    label = f'{kind.singular} "{id_}"'
    if kind is Kind.IPAMS and id_ == BUILTIN_IPAM:
        raise ConfigError(f"{label}: the built-in IPAM cannot be deleted", obj=label, key="ipam")
    users = _users(cfg, kind, id_)
    if users:
        text = f"{label}: cannot delete it, it is still used by {', '.join(users)}; remove those first"
        raise ConfigError(text, obj=label, key=kind.singular, value=id_)
