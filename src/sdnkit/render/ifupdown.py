"""NodePlan → ``/etc/network/interfaces.d/sdn`` (ifupdown2), in PVE's format (spec §3.1–3.6).

``#version:<running version>``, then one ``auto``/``iface`` stanza per link sorted by name with
PVE's option names and order per link role, then the fabric interfaces as ``inet``/``inet6
static`` stanzas (one per address). Links that need no stanza (an implicit VLAN device without
options, an existing interface sdnkit adds nothing to) are left out. Only formatting happens
here: every value comes from the plan.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

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

DEFAULT_VLAN_PROTOCOL = "802.1q"
VRF_UNREACHABLE_METRIC = 4278198272


class Snat(dict[str, list[SnatRule]]):
    """SNAT rules by vnet, plus formatted lines shared between links during one render call."""

    def __init__(self) -> None:
        super().__init__()
        self.shared_lines: dict[int, list[str]] = {}  # id(value) -> lines; values live as long as the plan


def _opt(name: str, value: object) -> list[str]:
    return [] if value is None else [f"{name} {value}"]


def _snat_lines(rule: SnatRule) -> list[str]:
    ipt = "iptables" if rule.source.version == 4 else "ip6tables"
    nat = (
        f"-t nat {{}} POSTROUTING -s '{rule.source}' -o {rule.out_iface} -j SNAT --to-source {rule.to_source}"
    )
    lines = [f"post-up {ipt} {nat.format('-A')}", f"post-down {ipt} {nat.format('-D')}"]
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


def _vnet_bridge(link: Bridge, snat: Snat) -> list[str]:
    lines = [f"address {a}" for a in link.addresses]
    lines += [f"up ip route add {net} dev {link.name}" for net in link.routes]
    for rule in snat.get(link.name, ()):
        lines += _snat_lines(rule)
    lines += _opt("hwaddress", link.hwaddress)
    lines += [f"bridge_ports {' '.join(link.ports) or 'none'}", "bridge_stp off", "bridge_fd 0"]
    return lines + _vlan_aware(link) + _l3(link)


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


def _remote_ips(link: Vxlan, snat: Snat) -> list[str]:
    """The flood list; every vnet of a zone has the same one, formatted once."""
    lines = snat.shared_lines.get(id(link.remote_ips))
    if lines is None:
        lines = snat.shared_lines[id(link.remote_ips)] = [f"vxlan_remoteip {ip}" for ip in link.remote_ips]
    return lines


def _vxlan(link: Vxlan, snat: Snat) -> list[str]:
    return [
        f"vxlan-id {link.vni}",
        *_remote_ips(link, snat),
        *_opt("vxlan-local-tunnelip", link.local_ip),
        *_opt("vxlan-port", link.port),
        *([] if link.learning else ["bridge-learning off"]),
        *(["bridge-arp-nd-suppress on"] if link.arp_nd_suppress else []),
        *_opt("mtu", link.mtu),
    ]


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
    route = f"post-up ip route {verb} vrf {link.name} unreachable default metric {VRF_UNREACHABLE_METRIC}"
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


STANZAS: dict[type, Callable[[AnyLink, Snat], list[str]]] = {
    Bridge: _bridge,  # type: ignore[dict-item]
    Vxlan: _vxlan,  # type: ignore[dict-item]
    Veth: _veth,  # type: ignore[dict-item]
    Vlan: _vlan,  # type: ignore[dict-item]
    Vrf: _vrf,  # type: ignore[dict-item]
    OvsIntPort: _ovs_port,  # type: ignore[dict-item]
    Existing: _existing,  # type: ignore[dict-item]
    Dummy: _dummy,  # type: ignore[dict-item]
}


def _checked(name: str, lines: Iterable[str]) -> list[str]:
    """Refuse values that would break out of their line (no input may inject stanzas)."""
    out = list(lines)
    for line in (name, *out):
        if "\n" in line or "\r" in line:
            raise ConfigError(f'interface "{name}": value contains a line break: {line!r}', obj=name)
    return out


def _stanza(name: str, header: str, lines: Sequence[str]) -> str:
    body = "".join(f"\t{line}\n" for line in _checked(name, lines))
    return f"\nauto {name}\n{header}\n{body}"


def _fabric_stanzas(link: AnyLink) -> list[str]:
    out = []
    for addr in link.addresses:
        family = "inet" if addr.version == 4 else "inet6"
        lines = [f"address {addr}", *(["link-type dummy"] if isinstance(link, Dummy) else []), "ip-forward 1"]
        out.append(_stanza(link.name, f"iface {link.name} {family} static", lines))
    return out


def render_interfaces(plan: NodePlan) -> str:
    """The ``/etc/network/interfaces.d/sdn`` text of ``plan``."""
    snat = Snat()
    for rule in plan.snat:
        snat.setdefault(rule.vnet, []).append(rule)
    parts = [f"#version:{plan.version}\n"]
    fabric = [link for link in plan.links if link.role is LinkRole.FABRIC]
    for link in plan.links:
        if link.role is LinkRole.FABRIC:
            continue
        lines = STANZAS[type(link)](link, snat)
        if lines:
            parts.append(_stanza(link.name, f"iface {link.name}", lines))
    for link in fabric:
        parts += _fabric_stanzas(link)
    return "".join(parts)
