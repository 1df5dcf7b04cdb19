"""The plan as kernel objects: what every link, route and sysctl must look like on this node.

``build_spec(plan)`` turns a :class:`~sdnkit.plan.desired.NodePlan` into :class:`LinkSpec` values
in the same canonical form as :mod:`sdnkit.realize.kernel_state` reads, so that ``diff`` compares
like with like. It also derives what ifupdown2 would do implicitly from the interfaces file: a
bridge port named ``<dev>.<id>`` that the plan does not list is a VLAN device on ``<dev>``; a VLAN
device on a VLAN-aware bridge adds its VID to the bridge itself; ``bridge-vids`` go on the ports.

A ``None`` (or absent key) in a spec means "not managed". Owned links are managed completely
(kind, settings, master, addresses exactly); links the node already has (``existing``, and
bridge ports the plan names but does not create) only get the settings the plan lists.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sdnkit.errors import NotSupportedError, RealizeError
from sdnkit.plan import desired as d
from sdnkit.realize import kinds
from sdnkit.realize.base import check_ifname

UNREACHABLE_METRIC = 4278198272
_DOTTED = re.compile(r"(?P<raw>.+)\.(?P<vid>\d{1,4})")

# plan attribute -> sysctl below net/
SYSCTLS = {
    "ip_forward": "ipv4/conf/{}/forwarding",
    "ip6_forward": "ipv6/conf/{}/forwarding",
    "arp_accept": "ipv4/conf/{}/arp_accept",
}


def sysctl_path(template: str, link: str) -> str:
    return "net/" + template.format(link)


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkSpec:
    name: str
    owned: bool
    kind: str = ""  # kernel kind; "" for an existing link (any kind)
    info: Mapping[str, Any] = field(default_factory=dict)
    mtu: int | None = None
    hwaddress: str | None = None
    alias: str | None = None  # owned links: "" clears it
    master: str | None = None  # owned links: None means "no master"
    up: bool | None = None  # True: bring it up (every link the plan lists, as ifupdown2's "auto")
    addresses: tuple[str, ...] = ()  # in plan order (the first IPv4 address becomes primary)
    brport: Mapping[str, bool] = field(default_factory=dict)
    fdb: frozenset[str] = frozenset()
    vids: frozenset[int] = frozenset()
    sysctls: Mapping[str, str] = field(default_factory=dict)  # relative /proc/sys path -> value


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteSpec:
    dst: str
    vrf: str | None = None  # table of this VRF (None: main)
    type: str = "unicast"
    via: str | None = None
    dev: str | None = None
    metric: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Spec:
    links: Mapping[str, LinkSpec] = field(default_factory=dict)
    routes: frozenset[RouteSpec] = frozenset()
    snat: tuple[d.SnatRule, ...] = ()


def build_spec(plan: d.NodePlan) -> Spec:
    links: dict[str, LinkSpec] = {}
    for link in plan.links:
        check_ifname(link.name)
        if link.name in links:
            raise RealizeError(f'link "{link.name}": listed twice in the plan', obj=link.name)
        links[link.name] = _link_spec(link)
    _add_veth_peers(links)  # before ports: a peer can be a port (pr_<vnet> in a VLAN zone)
    for link in plan.links:
        if isinstance(link, d.Bridge):
            _attach_ports(links, link)
    for link in plan.links:
        if link.vrf:
            _enslave(links, link.name, link.vrf)
    _bridge_forwarding(links)
    routes = frozenset(_routes(plan))
    return Spec(links=links, routes=routes, snat=plan.snat)


def _link_spec(link: d.AnyLink) -> LinkSpec:
    if isinstance(link, d.OvsIntPort) or (isinstance(link, d.Existing) and link.ovs_ports):
        raise NotSupportedError(
            f'link "{link.name}": Open vSwitch is not supported by the netlink realizer '
            "(use the ifupdown2 backend on OVS hosts)",
            obj=link.name,
        )
    owned = link.kind is not d.LinkKind.EXISTING
    kind = kinds.PLAN_KINDS.get(link.kind, "")
    driver = kinds.driver(kind) or kinds.BRIDGE  # existing links: only bridge settings apply
    info = driver.from_plan(link) if owned or getattr(link, "vlan_protocol", None) else {}
    sysctls = {
        sysctl_path(template, link.name): "1" if getattr(link, attr) else "0"
        for attr, template in SYSCTLS.items()
        if getattr(link, attr) is not None
    }
    return LinkSpec(
        name=link.name,
        owned=owned,
        up=True,
        kind=kind,
        info=info,
        mtu=link.mtu,
        hwaddress=link.hwaddress.lower() if link.hwaddress else None,
        alias=(link.alias or "") if owned else link.alias,
        addresses=tuple(dict.fromkeys(str(a) for a in link.addresses)),
        fdb=frozenset(str(ip) for ip in getattr(link, "remote_ips", ())),
        # bridge-port flags of a VXLAN device (they apply once it is a bridge port)
        brport={"learning": link.learning, "neigh_suppress": link.arp_nd_suppress}
        if isinstance(link, d.Vxlan)
        else {},
        sysctls=sysctls,
    )


def _attach_ports(links: dict[str, LinkSpec], bridge: d.Bridge) -> None:
    vids = parse_vids(bridge.vids, bridge.name) if bridge.vlan_aware and bridge.vids else frozenset()
    for port in bridge.ports:
        check_ifname(port, what=f'bridge "{bridge.name}": port')
        if port not in links:
            links[port] = _implicit_port(port, links)
        _enslave(links, port, bridge.name, vids)


def _implicit_port(port: str, links: Mapping[str, LinkSpec]) -> LinkSpec:
    """A port the plan names without listing: ``<dev>.<vid>`` is a VLAN device (as ifupdown2)."""
    match = _DOTTED.fullmatch(port)
    if match:
        info = {"link": match["raw"], "id": int(match["vid"]), "protocol": "802.1Q"}
        return LinkSpec(name=port, owned=True, up=True, kind="vlan", info=info)
    return LinkSpec(name=port, owned=False)


def _enslave(links: dict[str, LinkSpec], name: str, master: str, vids: frozenset[int] = frozenset()) -> None:
    spec = links.get(name) or LinkSpec(name=name, owned=False)
    if spec.master not in (None, master):
        raise RealizeError(
            f'link "{name}": enslaved to both "{spec.master}" and "{master}" in the plan',
            obj=name,
            key="master",
        )
    links[name] = (
        replace(spec, master=master, vids=spec.vids | vids) if vids else replace(spec, master=master)
    )


def _bridge_forwarding(links: dict[str, LinkSpec]) -> None:
    """What ifupdown2 does to every bridge it brings up, whatever ``ip-forward`` says: IPv4 and IPv6
    forwarding on when the bridge has an address or an upper device (a VLAN on it, its VRF), off
    otherwise (addons/address.py, ``_set_bridge_forwarding``). So a layer-2 vnet never routes, and
    replies to SNAT'ed traffic are forwarded by the host's bridge (vmbr0, which ifupdown2 set up)."""
    uppers = {s.info["link"] for s in links.values() if s.kind == "vlan"}
    uppers |= {s.name for s in links.values() if s.master and links.get(s.master, s).kind == "vrf"}
    for spec in list(links.values()):
        if spec.kind != "bridge" or not spec.owned:
            continue
        value = "1" if spec.addresses or spec.name in uppers else "0"
        paths = (
            sysctl_path(SYSCTLS["ip_forward"], spec.name),
            sysctl_path(SYSCTLS["ip6_forward"], spec.name),
        )
        links[spec.name] = replace(spec, sysctls={**spec.sysctls, **dict.fromkeys(paths, value)})


def _add_veth_peers(links: dict[str, LinkSpec]) -> None:
    """A veth's other end exists as soon as the veth does: make it a link of the plan too."""
    for spec in list(links.values()):
        if spec.kind == "veth" and spec.info["peer"] not in links:
            check_ifname(spec.info["peer"], what=f'veth "{spec.name}": peer')
            links[spec.info["peer"]] = LinkSpec(
                name=spec.info["peer"], owned=True, up=True, kind="veth", info={"peer": spec.name}
            )


def parse_vids(text: str, obj: str) -> frozenset[int]:
    """``"2-4094"``, ``"10 20-30"`` or ``"10,20"`` as a set of VLAN IDs."""
    vids: set[int] = set()
    for token in re.split(r"[\s,]+", text.strip()):
        low, _, high = token.partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            raise RealizeError(f'bridge "{obj}": invalid VLAN list "{text}"', obj=obj, key="vids") from None
        if not 1 <= first <= last <= 4094:
            raise RealizeError(f'bridge "{obj}": VLAN range {token} is outside 1-4094', obj=obj, key="vids")
        vids.update(range(first, last + 1))
    return frozenset(vids)


def _routes(plan: d.NodePlan) -> Iterable[RouteSpec]:
    for link in plan.links:
        for net in link.routes:
            yield RouteSpec(dst=str(net), dev=link.name)
        if isinstance(link, d.Vrf) and link.unreachable_default:
            yield RouteSpec(dst="0.0.0.0/0", vrf=link.name, type="unreachable", metric=UNREACHABLE_METRIC)
    for route in plan.routes:
        yield RouteSpec(
            dst=str(ipaddress.ip_network(route.prefix)),
            vrf=route.vrf,
            type="blackhole" if route.blackhole else "unicast",
            via=str(route.via) if route.via is not None else None,
            dev=route.dev,
        )
