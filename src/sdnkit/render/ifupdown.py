"""NodePlan → ``/etc/network/interfaces.d/sdn`` (ifupdown2), in PVE's format (spec §3.1–3.6).

``#version:<running version>``, then one ``auto``/``iface`` stanza per link sorted by name with
PVE's option names and order per link role, then the fabric interfaces as ``inet``/``inet6
static`` stanzas (one per address). Links that need no stanza (an implicit VLAN device without
options, an existing interface sdnkit adds nothing to) are left out. Only formatting happens
here: every value comes from the plan.

A stanza is a function of its link (plus the SNAT rules of a vnet bridge), and the planner
hands the same link objects to every node of a configuration, so stanza texts are kept per link
object for as long as it lives (:class:`TextCache`): rendering twenty nodes formats each
shared stanza once.

No value can add a line or an option: the finished text is checked in one scan for what
ifupdown2 reads specially (``render/ifupdown_text.py``), and the words of shell lines one by one.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Sequence
from itertools import compress, repeat
from operator import attrgetter, is_
from typing import Any, TypeVar

from sdnkit.config.model import IPNetwork
from sdnkit.errors import ConfigError
from sdnkit.plan.desired import (
    AnyLink,
    Bridge,
    Dummy,
    Existing,
    LinkRole,
    NodePlan,
    OvsIntPort,
    SnatRule,
    Veth,
    Vlan,
    Vrf,
    Vxlan,
)
from sdnkit.render.ifupdown_text import check_interfaces_text, shell_word

T = TypeVar("T")

DEFAULT_VLAN_PROTOCOL = "802.1q"
VRF_UNREACHABLE_METRIC = 4278198272


class Snat(dict[str, list[SnatRule]]):
    """SNAT rules by vnet, plus texts shared between links during one render call."""

    def __init__(self) -> None:
        super().__init__()
        # (id(remote_ips), id(local_ip)) -> their lines; the values live as long as the plan
        self.endpoints: dict[tuple[int, int], str] = {}
        self.egress: dict[tuple[str, int], str] = {}  # (out_iface, id(to_source)) -> SNAT target
        self.vxlan_tails: dict[tuple[object, ...], str] = {}  # VXLAN options after the endpoints


class _Ref(weakref.ref):  # type: ignore[type-arg]
    __slots__ = ("cache", "key")


def _drop(ref: _Ref) -> None:
    """Weak reference callback: the object is gone, so is its text (one shared function, so
    that an entry costs one object)."""
    ref.cache.texts.pop(ref.key, None)
    ref.cache.refs.pop(ref.key, None)


class TextCache:
    """Texts by object identity across render calls, each dropped when its object is.

    Keyed by ``id(obj)``: while an entry exists its object is alive (a weak reference's callback
    removes the entry), so no other object can have that id. The planner hands the same link
    and subnet objects to every node of a configuration: their texts are formatted once.
    """

    def __init__(self) -> None:
        self.texts: dict[int, Any] = {}
        self.refs: dict[int, _Ref] = {}

    def put(self, obj: Any, text: T) -> T:
        ref = _Ref(obj, _drop)
        ref.cache, ref.key = self, id(obj)
        self.refs[ref.key] = ref
        self.texts[ref.key] = text
        return text


STANZA_TEXT = TextCache()  # link -> its stanza (links whose text depends on nothing else)
BRIDGE_PARTS = TextCache()  # vnet bridge -> its stanza before and after the SNAT lines
NETWORK_TEXT = TextCache()  # SNAT source network -> str()
_NAME = attrgetter("name")


def _opt(name: str, value: object) -> list[str]:
    return [] if value is None else [f"{name} {value}"]


def _network_text(net: IPNetwork, iface: str) -> str:
    text: str | None = NETWORK_TEXT.texts.get(id(net))
    return NETWORK_TEXT.put(net, shell_word(net, iface, "post-up")) if text is None else text


def _snat_lines(rule: SnatRule, snat: Snat) -> list[str]:
    ipt = "iptables" if rule.source.version == 4 else "ip6tables"
    key = (rule.out_iface, id(rule.to_source))
    target = snat.egress.get(key)
    if target is None:  # the same for every rule of the node: formatted once
        out = shell_word(rule.out_iface, rule.vnet, "post-up")
        to = shell_word(rule.to_source, rule.vnet, "post-up")
        target = snat.egress[key] = f"-o {out} -j SNAT --to-source {to}"
    source = _network_text(rule.source, rule.vnet)
    lines = [
        f"post-up {ipt} -t nat -A POSTROUTING -s '{source}' {target}",
        f"post-down {ipt} -t nat -D POSTROUTING -s '{source}' {target}",
    ]
    if rule.conntrack_zone is not None:
        ct = f"PREROUTING -i fwbr+ -j CT --zone {rule.conntrack_zone}"
        lines += [f"post-up {ipt} -t raw -I {ct}", f"post-down {ipt} -t raw -D {ct}"]
    return lines


def _l3(link: AnyLink) -> list[str]:
    """Options after the bridge settings: MTU, alias, forwarding, ARP, VRF."""
    return [
        *_opt("mtu", link.mtu),
        *_opt("alias", link.alias),
        *(["ip-forward on"] if link.ip_forward else []),
        *(["ip6-forward on"] if link.ip6_forward else []),
        *(["arp-accept on"] if link.arp_accept else []),
        *_opt("vrf", link.vrf),
    ]


def _vlan_aware(link: Bridge) -> list[str]:
    return ["bridge-vlan-aware yes", *_opt("bridge-vids", link.vids)] if link.vlan_aware else []


def _vnet_bridge_head(link: Bridge) -> list[str]:
    """The lines before the SNAT rules."""
    lines = [f"address {a}" for a in link.addresses]
    if link.routes:
        name = shell_word(link.name, link.name, "up")
        lines += [f"up ip route add {shell_word(net, name, 'up')} dev {name}" for net in link.routes]
    return lines


def _vnet_bridge_tail(link: Bridge) -> list[str]:
    """The lines after the SNAT rules."""
    lines = _opt("hwaddress", link.hwaddress)
    lines += [f"bridge_ports {' '.join(link.ports) or 'none'}", "bridge_stp off", "bridge_fd 0"]
    return lines + _vlan_aware(link) + _l3(link)


def _vnet_bridge(link: Bridge, snat: Snat) -> list[str]:
    lines = _vnet_bridge_head(link)
    for rule in snat.get(link.name, ()):
        lines += _snat_lines(rule, snat)
    return lines + _vnet_bridge_tail(link)


def _legacy_bridge(link: Bridge, snat: Snat) -> list[str]:
    # PVE prefixes every NIC VLAN with a space and then joins the veth with one: "bridge_ports  eth0.100 pr_x"
    ports = "".join(f" {p}" for p in link.ports[:-1]) + f" {link.ports[-1]}" if link.ports else " none"
    return [f"bridge_ports {ports}", "bridge_stp off", "bridge_fd 0", *_opt("mtu", link.mtu)]


def _zone_bridge(link: Bridge, snat: Snat) -> list[str]:
    return [
        *_opt("mtu", link.mtu),
        "bridge-stp off",
        f"bridge-ports {' '.join(link.ports) or 'none'}",
        "bridge-fd 0",
        *_vlan_aware(link),
    ]


def _l3vni_bridge(link: Bridge, snat: Snat) -> list[str]:
    return [f"bridge-ports {' '.join(link.ports) or 'none'}", "bridge_stp off", "bridge_fd 0", *_l3(link)]


BRIDGE_STYLES: dict[LinkRole | None, Callable[[Bridge, Snat], list[str]]] = {
    LinkRole.VNET: _vnet_bridge,
    LinkRole.LEGACY_BRIDGE: _legacy_bridge,
    LinkRole.ZONE_BRIDGE: _zone_bridge,
    LinkRole.L3VNI: _l3vni_bridge,
    None: _vnet_bridge,
}


def _bridge(link: Bridge, snat: Snat) -> list[str]:
    return BRIDGE_STYLES.get(link.role, _vnet_bridge)(link, snat)


def _endpoint_lines(link: Vxlan) -> list[str]:
    lines = [f"vxlan_remoteip {ip}" for ip in link.remote_ips]
    return lines + ([] if link.local_ip is None else [f"vxlan-local-tunnelip {link.local_ip}"])


def _endpoint_text(link: Vxlan, snat: Snat) -> str:
    """The flood list and local address: the same for every vnet of a zone, formatted once."""
    key = (id(link.remote_ips), id(link.local_ip))
    text = snat.endpoints.get(key)
    if text is None:
        text = snat.endpoints[key] = _body(link.name, _endpoint_lines(link))
    return text


def _vxlan_text(link: Vxlan, snat: Snat) -> str:
    """A VXLAN stanza, formatted as text: a big zone has thousands per node, each with its own
    endpoints (the same lines as a list would give, line breaks refused the same way)."""
    name = link.name
    options = (link.port, link.learning, link.arp_nd_suppress, link.mtu)
    tail = snat.vxlan_tails.get(options)
    if tail is None:  # the same for every vnet of a zone: formatted once
        lines = [] if link.port is None else [f"vxlan-port {link.port}"]
        lines += [] if link.learning else ["bridge-learning off"]
        lines += ["bridge-arp-nd-suppress on"] if link.arp_nd_suppress else []
        lines += [] if link.mtu is None else [f"mtu {link.mtu}"]
        tail = snat.vxlan_tails[options] = _body(name, lines)
    head = f"\nauto {name}\niface {name}\n\tvxlan-id {link.vni}\n"
    if "\r" in head or head.count("\n") != 4:
        _refuse_line_breaks(name, [f"vxlan-id {link.vni}"])
    return f"{head}{_endpoint_text(link, snat)}{tail}"


def _veth(link: Veth, snat: Snat) -> list[str]:
    return [
        "link-type veth",
        *(f"address {a}" for a in link.addresses),
        f"veth-peer-name {link.peer}",
        *_opt("vrf", link.vrf),
        *_opt("mtu", link.mtu),
    ]


def _vlan(link: Vlan, snat: Snat) -> list[str]:
    proto = [] if link.protocol == DEFAULT_VLAN_PROTOCOL else [f"vlan-protocol {link.protocol}"]
    if link.implicit:  # ifupdown2 derives device, raw device and id from the name
        return [*proto, *_opt("mtu", link.mtu)]
    return [f"vlan-raw-device {link.raw_device}", f"vlan-id {link.vlan_id}", *proto, *_opt("mtu", link.mtu)]


def _vrf(link: Vrf, snat: Snat) -> list[str]:
    # exit nodes remove the unreachable default a previous non-exit configuration installed
    verb = "add" if link.unreachable_default else "del"
    name = shell_word(link.name, link.name, "post-up")
    route = f"post-up ip route {verb} vrf {name} unreachable default metric {VRF_UNREACHABLE_METRIC}"
    return [f"vrf-table {link.table}", route]


def _ovs_port(link: OvsIntPort, snat: Snat) -> list[str]:
    return [
        "ovs_type OVSIntPort",
        f"ovs_bridge {link.ovs_bridge}",
        *_opt("ovs_mtu", link.mtu),
        f"ovs_options {link.ovs_options}",
    ]


def _existing(link: Existing, snat: Snat) -> list[str]:
    lines = [
        f"ovs_ports {' '.join(group)}"
        for group in link.ovs_port_lines or ((link.ovs_ports,) if link.ovs_ports else ())
    ]
    return lines + _opt("bridge-vlan-protocol", link.vlan_protocol)


def _dummy(link: Dummy, snat: Snat) -> list[str]:
    return ["link-type dummy", *(f"address {a}" for a in link.addresses), *_opt("mtu", link.mtu)]


# the option lines of each link type's stanza (VXLAN stanzas are formatted directly: _vxlan_text)
STANZAS: dict[type, Callable[[AnyLink, Snat], list[str]]] = {
    Bridge: _bridge,  # type: ignore[dict-item]
    Veth: _veth,  # type: ignore[dict-item]
    Vlan: _vlan,  # type: ignore[dict-item]
    Vrf: _vrf,  # type: ignore[dict-item]
    OvsIntPort: _ovs_port,  # type: ignore[dict-item]
    Existing: _existing,  # type: ignore[dict-item]
    Dummy: _dummy,  # type: ignore[dict-item]
}


def _refuse_line_breaks(name: str, lines: Iterable[str]) -> None:
    """Refuse values that would break out of their line (no input may inject stanzas)."""
    for line in (name, *lines):
        if "\n" in line or "\r" in line:
            key = line.split(" ", 1)[0] if line is not name else "iface"
            raise ConfigError(
                f'interface "{name}": option "{key}": value contains a line break: {line!r}',
                obj=f'interface "{name}"',
                key=key,
            )


def _body(name: str, lines: Sequence[str]) -> str:
    """The option lines of a stanza, tab-indented."""
    if not lines:
        return ""
    text = "\n\t".join(lines)
    # one scan of the joined text instead of one per line: a value with a line break adds one
    if "\r" in text or text.count("\n") != len(lines) - 1 or "\n" in name or "\r" in name:
        _refuse_line_breaks(name, lines)
    return f"\t{text}\n"


def _stanza(name: str, header: str, lines: Sequence[str]) -> str:
    if "\n" in name or "\r" in name:
        _refuse_line_breaks(name, ())
    return f"\nauto {name}\n{header}\n{_body(name, lines)}"


def _fabric_stanzas(link: AnyLink) -> list[str]:
    out = []
    for addr in link.addresses:
        family = "inet" if addr.version == 4 else "inet6"
        lines = [f"address {addr}", *(["link-type dummy"] if isinstance(link, Dummy) else []), "ip-forward 1"]
        out.append(_stanza(link.name, f"iface {link.name} {family} static", lines))
    return out


def _link_text(link: AnyLink, snat: Snat) -> str:
    if isinstance(link, Vxlan):
        return _vxlan_text(link, snat)
    lines = STANZAS[type(link)](link, snat)
    return _stanza(link.name, f"iface {link.name}", lines) if lines else ""


def _uses_snat(link: AnyLink) -> bool:
    return isinstance(link, Bridge) and BRIDGE_STYLES.get(link.role, _vnet_bridge) is _vnet_bridge


def _with_snat(link: AnyLink, snat: Snat) -> str:
    """The stanza of a link whose vnet has SNAT rules: the rules' lines within the cached rest."""
    if not _uses_snat(link):
        return _link_text(link, snat)
    assert isinstance(link, Bridge)
    parts = BRIDGE_PARTS.texts.get(id(link))
    if parts is None:
        name = link.name
        head = _stanza(name, f"iface {name}", _vnet_bridge_head(link))
        parts = BRIDGE_PARTS.put(link, (head, _body(name, _vnet_bridge_tail(link))))
    rules = [line for rule in snat[link.name] for line in _snat_lines(rule, snat)]
    return f"{parts[0]}{_body(link.name, rules)}{parts[1]}"


def render_interfaces(plan: NodePlan) -> str:
    """The ``/etc/network/interfaces.d/sdn`` text of ``plan``."""
    snat = Snat()
    for rule in plan.snat:
        snat.setdefault(rule.vnet, []).append(rule)
    links = plan.links
    texts = list(map(STANZA_TEXT.texts.get, map(id, links)))
    fabric = []
    plain = Snat()  # the cached texts are the ones without SNAT lines
    plain.endpoints, plain.egress, plain.vxlan_tails = snat.endpoints, snat.egress, snat.vxlan_tails
    for i in compress(range(len(links)), map(is_, texts, repeat(None))):  # not cached
        link = links[i]
        if link.role is LinkRole.FABRIC:  # written last, in their own style
            fabric.append(link)
            texts[i] = ""
        elif isinstance(link, Vxlan):  # carries the node's endpoints: not shared, cheap anyway
            texts[i] = _vxlan_text(link, plain)
        else:
            texts[i] = STANZA_TEXT.put(link, _link_text(link, plain))
    if snat:
        for i in compress(range(len(links)), map(snat.__contains__, map(_NAME, links))):
            if links[i].role is not LinkRole.FABRIC:
                texts[i] = _with_snat(links[i], snat)
    parts = [f"#version:{plan.version}\n", *texts]
    for link in fabric:
        parts += _fabric_stanzas(link)
    text = "".join(parts)
    check_interfaces_text(text)
    return text
