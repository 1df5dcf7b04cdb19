"""FRR tree → ``frr.conf`` text with PVE's header, footer and block order (spec §3.8).

Order: VRFs, BGP routers (default VRF first), IS-IS, prefix lists, the custom lines merged from
``frr.conf.local``, OpenFabric, OSPF, access lists, route maps, static routes, ``ip protocol``
route maps. Every block starts with ``!``. No value can add a command or an argument
(``render/frr_text.py``).
"""

from __future__ import annotations

from sdnkit.plan.frr.model import (
    DEFAULT_VRF,
    AfNeighbor,
    BgpRouter,
    EvpnFamily,
    FrrConfig,
    IpRoute,
    NeighborGroup,
    OpenFabricInterface,
    OspfInterface,
    RouteMapEntry,
    UnicastFamily,
)
from sdnkit.render.frr_text import check_frr_lines, custom_lines


def _ip_route(route: IpRoute, indent: str = "") -> str:
    words = ["ipv6" if route.is_ipv6 else "ip", "route", route.prefix, route.via]
    if route.dev:
        words.append(route.dev)
    return indent + " ".join(words)


def _vrfs(cfg: FrrConfig) -> list[str]:
    out: list[str] = []
    for vrf in cfg.vrfs:
        out += ["!", f"vrf {vrf.name}"]
        out += [f" vni {vrf.vni}"] if vrf.vni is not None else []
        out += [_ip_route(r, " ") for r in vrf.ip_routes]
        out += [*vrf.custom, "exit-vrf"]
    return out


def _flag(value: bool | None, line: str) -> list[str]:
    """A ``no …`` line for settings PVE turns off; ``None`` leaves FRR's default."""
    return [f" no {line}"] if value is False else []


def _group(group: NeighborGroup) -> list[str]:
    name = group.name
    out = [f" neighbor {name} peer-group", f" neighbor {name} remote-as {group.remote_as}"]
    out += [f" neighbor {name} bfd"] if group.bfd else []
    out += [f" neighbor {name} ebgp-multihop {group.ebgp_multihop}"] if group.ebgp_multihop else []
    out += [f" neighbor {name} update-source {group.update_source}"] if group.update_source else []
    return out + [f" neighbor {ip} peer-group {name}" for ip in group.ips]


def _af_neighbor(n: AfNeighbor) -> list[str]:
    out = [f"  neighbor {n.name} activate"]
    out += [f"  neighbor {n.name} soft-reconfiguration inbound"] if n.soft_reconfiguration_inbound else []
    out += [f"  neighbor {n.name} next-hop-self"] if n.next_hop_self else []
    out += [f"  neighbor {n.name} route-map {n.route_map_in} in"] if n.route_map_in else []
    out += [f"  neighbor {n.name} route-map {n.route_map_out} out"] if n.route_map_out else []
    return out


def _unicast(name: str, af: UnicastFamily) -> list[str]:
    out = [" !", f" address-family {name} unicast", *(f"  network {n}" for n in af.networks)]
    out += [f"  import vrf {v}" for v in af.import_vrf]
    for neighbor in af.neighbors:
        out += _af_neighbor(neighbor)
    for r in af.redistribute:
        metric = f" metric {r.metric}" if r.metric is not None else ""
        route_map = f" route-map {r.route_map}" if r.route_map else ""
        out.append(f"  redistribute {r.protocol}{metric}{route_map}")
    return [*out, *af.custom, " exit-address-family"]


def _evpn(af: EvpnFamily) -> list[str]:
    out = [" !", " address-family l2vpn evpn"]
    for neighbor in af.neighbors:
        out += _af_neighbor(neighbor)
    out += ["  advertise-all-vni"] if af.advertise_all_vni else []
    out += [f"  autort as {af.autort_as}"] if af.autort_as is not None else []
    out += [f"  default-originate {d}" for d in af.default_originate]
    out += ["  advertise ipv4 unicast"] if af.advertise_ipv4_unicast else []
    out += ["  advertise ipv6 unicast"] if af.advertise_ipv6_unicast else []
    out += [f"  route-target import {rt}" for rt in af.rt_import]
    out += [f"  route-target export {rt}" for rt in af.rt_export]
    return [*out, *af.custom, " exit-address-family"]


def _router(r: BgpRouter) -> list[str]:
    head = f"router bgp {r.asn}" if r.vrf == DEFAULT_VRF else f"router bgp {r.asn} vrf {r.vrf}"
    out = ["!", head, f" bgp router-id {r.router_id}"]
    out += _flag(r.hard_administrative_reset, "bgp hard-administrative-reset")
    out += _flag(r.default_ipv4_unicast, "bgp default ipv4-unicast")
    out += [f" coalesce-time {r.coalesce_time}"] if r.coalesce_time else []
    out += _flag(r.graceful_restart_notification, "bgp graceful-restart notification")
    out += [" bgp disable-ebgp-connected-route-check"] if r.disable_ebgp_connected_route_check else []
    out += [" bgp bestpath as-path multipath-relax"] if r.bestpath_as_path_multipath_relax else []
    for group in r.neighbor_groups:
        out += _group(group)
    out += r.custom
    out += _unicast("ipv4", r.ipv4_unicast) if r.ipv4_unicast else []
    out += _unicast("ipv6", r.ipv6_unicast) if r.ipv6_unicast else []
    out += _evpn(r.l2vpn_evpn) if r.l2vpn_evpn else []
    return [*out, "exit"]


def _isis(cfg: FrrConfig) -> list[str]:
    out: list[str] = []
    for r in cfg.isis_routers:
        out += ["!", f"router isis {r.domain}", f" net {r.net}"]
        out += [" redistribute ipv4 connected level-1", " redistribute ipv6 connected level-1"]
        out += [" log-adjacency-changes", *r.custom, "exit"]
    for i in cfg.isis_interfaces:
        out += ["!", f"interface {i.name}", f" ip router isis {i.domain}", *i.custom, "exit"]
    return out


def _prefix_lists(cfg: FrrConfig) -> list[str]:
    out: list[str] = []
    for plist in cfg.prefix_lists:
        family = "ipv6" if plist.is_ipv6 else "ip"
        out.append("!")
        for e in plist.entries:
            le = f" le {e.le}" if e.le is not None else ""
            ge = f" ge {e.ge}" if e.ge is not None else ""
            out.append(f"{family} prefix-list {plist.name} seq {e.seq} {e.action} {e.network}{le}{ge}")
    return out


def _openfabric_iface(i: OpenFabricInterface) -> list[str]:
    out = ["!", f"interface {i.name}"]
    out += [f" ip router openfabric {i.fabric}"] if i.ipv4 else []
    out += [f" ipv6 router openfabric {i.fabric}"] if i.ipv6 else []
    out += [" openfabric passive"] if i.passive else []
    out += [f" openfabric hello-interval {i.hello_interval}"] if i.hello_interval is not None else []
    out += [f" openfabric hello-multiplier {i.hello_multiplier}"] if i.hello_multiplier is not None else []
    out += [f" openfabric csnp-interval {i.csnp_interval}"] if i.csnp_interval is not None else []
    return [*out, *i.custom, "exit"]


def _openfabric(cfg: FrrConfig) -> list[str]:
    out: list[str] = []
    for r in cfg.openfabric_routers:
        out += ["!", f"router openfabric {r.name}", f" net {r.net}", *r.custom, "exit"]
    for i in cfg.openfabric_interfaces:
        out += _openfabric_iface(i)
    return out


def _ospf_iface(i: OspfInterface) -> list[str]:
    out = ["!", f"interface {i.name}", f" ip ospf area {i.area}"]
    out += [" ip ospf passive"] if i.passive else []
    out += [f" ip ospf network {i.network_type}"] if i.network_type else []
    return [*out, *i.custom, "exit"]


def _ospf(cfg: FrrConfig) -> list[str]:
    out: list[str] = []
    if cfg.ospf_router is not None:
        r = cfg.ospf_router
        out += ["!", "router ospf", f" ospf router-id {r.router_id}", *r.custom, "exit"]
    for i in cfg.ospf_interfaces:
        out += _ospf_iface(i)
    return out


def _access_lists(cfg: FrrConfig) -> list[str]:
    out: list[str] = []
    for acl in cfg.access_lists:
        prefix = "ipv6 access-list" if acl.is_ipv6 else "access-list"
        out.append("!")
        for e in acl.entries:
            seq = f" seq {e.seq}" if e.seq is not None else ""
            out.append(f"{prefix} {acl.name}{seq} {e.action} {e.network}")
    return out


def _route_map_entry(name: str, e: RouteMapEntry) -> list[str]:
    lines = ["!", f"route-map {name} {e.action} {e.seq}"]
    return [*lines, *(f" match {m}" for m in e.matches), *(f" set {s}" for s in e.sets), "exit"]


def _tail(cfg: FrrConfig) -> list[str]:
    """Access lists, route maps, static routes and protocol route maps."""
    out = _access_lists(cfg)
    for route_map in cfg.route_maps:
        for entry in route_map.entries:
            out += _route_map_entry(route_map.name, entry)
    if cfg.ip_routes:
        out += ["!", *(_ip_route(r) for r in cfg.ip_routes)]
    for p in cfg.protocol_route_maps:
        out += ["!", f"ip protocol {p.protocol} route-map {p.v4}"] if p.v4 else []
        out += ["!", f"ipv6 protocol {p.protocol} route-map {p.v6}"] if p.v6 else []
    return out


def render_frr(cfg: FrrConfig) -> str:
    """The ``frr.conf`` text of ``cfg``."""
    head = [
        f"frr version {cfg.version}",
        "frr defaults datacenter",
        f"hostname {cfg.hostname}",
        "log syslog informational",
        "service integrated-vtysh-config",
    ]
    body = _vrfs(cfg)
    for router in cfg.bgp_routers:
        body += _router(router)
    body += _isis(cfg) + _prefix_lists(cfg) + list(cfg.custom) + _openfabric(cfg) + _ospf(cfg) + _tail(cfg)
    lines = check_frr_lines([*head, *body, "!", "line vty", "!"], lambda: custom_lines(cfg))
    return "\n".join(lines) + "\n"
