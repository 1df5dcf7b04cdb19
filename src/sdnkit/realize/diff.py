"""Desired vs current → the ordered changes of one apply, and the ownership record that follows.

``diff(spec, current, ownership)`` decides, for every link of the plan, whether to create it,
adopt it (an owned-kind link of the right kind and identity already there, e.g. left by an apply
that was killed), re-create it (an owned link whose kind or fixed settings changed), or refuse
(a link of that name exists and is not ours); deletes owned links the plan no longer has, with
their dependents first; then compares each link's settings (:mod:`link_diff`), and the routes.

Each change carries its undo. A deleted link's undo rebuilds it from what was read: kind, fixed
settings, MTU, MAC, master, port flags, addresses, flood entries, VLANs, alias, sysctls, routes,
and the foreign ports that were in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from sdnkit.errors import RealizeError
from sdnkit.realize import kinds
from sdnkit.realize.base import LINK_GROUP, Phase, Step, Tool, bridge, ip, sysctl
from sdnkit.realize.changeset import ChangeSet
from sdnkit.realize.kernel_state import FLOOD_MAC, MAIN_TABLE, KernelState, LinkState, Route
from sdnkit.realize.link_diff import (
    DEFAULT_BRPORT,
    bridge_mac_undo,
    is_kernel_ll,
    link_changes,
    vid_ranges,
)
from sdnkit.realize.ownership import Ownership
from sdnkit.realize.restore import restore_unlisted
from sdnkit.realize.spec import LinkSpec, Spec

VRF_TABLE_FIRST = 1001  # ifupdown2's "vrf-table auto" range starts here


def diff(spec: Spec, cur: KernelState, own: Ownership) -> ChangeSet:
    cs = ChangeSet(spec=_with_self_vids(spec, cur), cur=cur, own=own)
    to_delete, to_create = _classify(cs)
    _delete_links(cs, to_delete)
    _resolve_vrf_tables(cs, to_create)
    _create_links(cs, to_create)
    links = cs.spec.links
    depths = _depths(links)
    for name in sorted(links, key=lambda n: (depths[n], n)):  # lower devices first (up, ...)
        have = cs.effective.get(name)
        if have is None:
            raise RealizeError(f'link "{name}": does not exist (the plan expects it on this node)', obj=name)
        link_changes(cs, links[name], have)
    restore_unlisted(cs)
    _route_changes(cs)
    return cs


def _with_self_vids(spec: Spec, cur: KernelState) -> Spec:
    """A VLAN device on a VLAN-aware bridge needs its VID on the bridge itself (as ifupdown2's
    vlan.py adds it); the bridge may be the node's own (vmbr0), known only from the kernel."""
    links = dict(spec.links)
    for vlan in spec.links.values():
        if vlan.kind != "vlan" or not vlan.owned:
            continue
        raw = vlan.info["link"]
        raw_spec = links.get(raw)
        have = cur.links.get(raw)
        if raw_spec is not None and "vlan_filtering" in raw_spec.info:
            aware = raw_spec.info["vlan_filtering"]
        else:
            aware = have is not None and have.kind == "bridge" and bool(have.info.get("vlan_filtering"))
        if aware:
            raw_spec = raw_spec or LinkSpec(name=raw, owned=False)
            links[raw] = replace(raw_spec, vids=raw_spec.vids | {vlan.info["id"]})
    return replace(spec, links=links) if links != spec.links else spec


def _fixed_mismatch(spec: LinkSpec, have: LinkState) -> list[str]:
    driver = kinds.driver(spec.kind)
    if driver is None:
        return []
    return [
        f"{key}={have.info.get(key)} instead of {spec.info.get(key)}"
        for key in driver.fixed
        if not driver.matches(key, spec.info.get(key), have.info.get(key))
    ]


def _classify(cs: ChangeSet) -> tuple[set[str], set[str]]:
    to_delete: set[str] = set()
    to_create: set[str] = set()
    for name, spec in cs.spec.links.items():
        if not spec.owned:
            continue
        have = cs.cur.links.get(name)
        if have is None:
            to_create.add(name)
            continue
        wrong = [f"a {have.kind or 'device'}"] if have.kind != spec.kind else _fixed_mismatch(spec, have)
        ours = name in cs.own.owned or have.group == LINK_GROUP  # on record, or marked by us
        if not wrong and ours:
            cs.new.owned[name] = spec.kind  # ours (the record may have been lost: it carries our mark)
        elif cs.own.owned.get(name) == have.kind:
            to_delete.add(name)
            to_create.add(name)
        else:
            why = ", ".join(wrong) or f"not in sdnkit's link group {LINK_GROUP}"
            raise RealizeError(
                f'link "{name}": exists and is not managed by sdnkit ({why}); '
                "remove or rename it, or change the configuration",
                obj=name,
            )
    for name, kind in cs.own.owned.items():
        spec = cs.spec.links.get(name)
        have = cs.cur.links.get(name)
        if spec is not None and spec.owned:
            continue
        if have is None or have.kind != kind:
            cs.new.owned.pop(name, None)  # gone, or replaced by someone else: not ours any more
            continue
        to_delete.add(name)
    _pair_veths(cs, to_delete, to_create)
    return to_delete, to_create


def _pair_veths(cs: ChangeSet, to_delete: set[str], to_create: set[str]) -> None:
    """Deleting one end of a veth deletes the other: it must then be re-created (or deleted) too."""
    for name in list(to_delete):
        have = cs.cur.links[name]
        peer = have.info.get("peer") if have.kind == "veth" else None
        if peer is None or peer not in cs.cur.links or peer in to_delete:
            continue
        if peer not in cs.own.owned and peer not in cs.new.owned:
            raise RealizeError(f'link "{name}": its veth peer "{peer}" is not managed by sdnkit', obj=name)
        to_delete.add(peer)
        if peer in cs.spec.links:
            to_create.add(peer)


def _depths(links: Mapping[str, LinkState] | Mapping[str, LinkSpec]) -> dict[str, int]:
    """How many links each one stands on (VLAN raw devices, masters): lower ones sort first."""
    depths: dict[str, int] = {}

    def depth(name: str, seen: frozenset[str]) -> int:
        if name in depths:
            return depths[name]
        link = links.get(name)
        if link is None or name in seen:
            return 0
        below = [link.master] if link.master else []
        if link.kind == "vlan":
            below.append(link.info.get("link"))
        depths[name] = max((1 + depth(b, seen | {name}) for b in below if b), default=0)
        return depths[name]

    for name in links:
        depth(name, frozenset())
    return depths


def _delete_links(cs: ChangeSet, to_delete: set[str]) -> None:
    links = dict(cs.cur.links)
    depths = _depths(links)
    order = sorted(to_delete, key=lambda n: (-depths[n], n))  # dependents first
    for name in order:
        if name in cs.deleted:
            continue  # the other end of a veth deleted just before
        have = links[name]
        undo = _rebuild(cs, have)
        cs.deleted.add(name)
        if have.kind == "veth" and have.info.get("peer") in links:
            peer = links[have.info["peer"]]
            cs.deleted.add(peer.name)
            undo += _restore_settings(cs, peer)
        cs.add(Phase.DEL_LINKS, f'link "{name}"', f"delete {have.kind}", ip("link", "del", "dev", name), undo)
        if name not in cs.spec.links:
            cs.new.owned.pop(name, None)
    for name in cs.deleted:
        cs.new.fdb.pop(name, None)
        cs.new.vids.pop(name, None)
        for path in [p for p in cs.new.sysctls if p.split("/")[3] == name]:
            del cs.new.sysctls[path]


def _resolve_vrf_tables(cs: ChangeSet, to_create: set[str]) -> None:
    for name, have in cs.cur.links.items():
        if have.kind == "vrf" and name not in cs.deleted and have.info.get("table") is not None:
            cs.vrf_tables[name] = int(have.info["table"])
    used = set(cs.vrf_tables.values())
    for name in sorted(to_create):
        spec = cs.spec.links[name]
        if spec.kind != "vrf":
            continue
        table = spec.info["table"]
        if table == kinds.VRF_TABLE_AUTO:
            previous = cs.cur.links.get(name)
            table = previous.info.get("table") if previous and previous.kind == "vrf" else None
            if table is None or table in used:
                table = next(t for t in range(VRF_TABLE_FIRST, 2**31) if t not in used)
        cs.vrf_tables[name] = int(table)
        used.add(int(table))


def _create_links(cs: ChangeSet, to_create: set[str]) -> None:
    cs.effective = {n: _released(cs, link) for n, link in cs.cur.links.items() if n not in cs.deleted}
    depths = _depths(cs.spec.links)
    for name in sorted(to_create, key=lambda n: (depths[n], n)):
        spec = cs.spec.links[name]
        if name in cs.created:
            continue  # the peer of a veth created just before
        info = dict(spec.info)
        if spec.kind == "vrf":
            info["table"] = cs.vrf_tables[name]
        driver = kinds.KINDS[spec.kind]
        step = ip(*driver.add_args(name, info, mtu=spec.mtu, hwaddress=spec.hwaddress))
        cs.add(Phase.ADD_LINKS, f'link "{name}"', f"create {spec.kind}", step, ip("link", "del", "dev", name))
        cs.new.owned[name] = spec.kind
        cs.created.add(name)
        mtu = spec.mtu if driver.mtu_at_create else None
        cs.effective[name] = LinkState(
            name=name, kind=spec.kind, info=info, mtu=mtu, hwaddress=spec.hwaddress, group=LINK_GROUP
        )
        if spec.kind == "veth":
            peer = spec.info["peer"]
            cs.created.add(peer)
            cs.new.owned[peer] = "veth"
            cs.effective[peer] = LinkState(name=peer, kind="veth", info={"peer": name}, group=LINK_GROUP)


def _released(cs: ChangeSet, link: LinkState) -> LinkState:
    """A link whose master is deleted is no longer a port (and loses its port settings)."""
    if link.master in cs.deleted:
        return replace(link, master=None, brport={}, vids=frozenset())
    return link


def _rebuild(cs: ChangeSet, have: LinkState) -> tuple[Step, ...]:
    """Steps that re-create a deleted link as it was (the undo of deleting it)."""
    driver = kinds.KINDS.get(have.kind)
    if driver is None:
        raise RealizeError(
            f'link "{have.name}": cannot delete a {have.kind or "device"} (unknown kind)', obj=have.name
        )
    steps: tuple[Step, ...] = (
        ip(*driver.add_args(have.name, have.info, mtu=have.mtu, hwaddress=have.hwaddress)),
    )
    if not driver.mtu_at_create and have.mtu:
        steps += (ip("link", "set", "dev", have.name, "mtu", str(have.mtu)),)
    steps += _restore_settings(cs, have)
    for port in sorted(n for n, link in cs.cur.links.items() if link.master == have.name):
        if port not in cs.deleted and port not in cs.own.owned:
            steps += (ip("link", "set", "dev", port, "master", have.name),)  # a guest port that was in it
    return steps


def _restore_settings(cs: ChangeSet, have: LinkState) -> tuple[Step, ...]:
    name = have.name
    steps: list[Step] = []
    if have.kind == "veth":
        steps += [ip("link", "set", "dev", name, "mtu", str(have.mtu))] if have.mtu else []
    if have.master:
        steps.append(ip("link", "set", "dev", name, "master", have.master))
        steps += bridge_mac_undo(cs, have.master)
    flags = [
        x
        for k, v in sorted(have.brport.items())
        if v != DEFAULT_BRPORT.get(k)
        for x in (k, "on" if v else "off")
    ]
    if have.master and flags:
        steps.append(ip("link", "set", "dev", name, "type", "bridge_slave", *flags))
    if have.up:
        steps.append(ip("link", "set", "dev", name, "up"))
    # (link-local /64s come back by themselves when the link goes up)
    steps += [ip("address", "add", a, "dev", name) for a in sorted(have.addresses) if not is_kernel_ll(a)]
    steps += [ip("route", "add", *r.args()) for r in sorted(cs.cur.routes, key=str) if r.dev == name]
    steps += [bridge("fdb", "append", FLOOD_MAC, "dev", name, "dst", dst) for dst in sorted(have.fdb)]
    self_flag = ("self",) if have.kind == "bridge" else ()
    for low, high in vid_ranges(have.vids - {1}):
        steps.append(bridge("vlan", "add", "dev", name, "vid", f"{low}-{high}", *self_flag))
    if have.alias:
        steps.append(Step(Tool.ARGV, ("ip", "link", "set", "dev", name, "alias", have.alias)))
    prefix = f"/conf/{name}/"
    steps += [sysctl(path, value) for path, value in sorted(cs.cur.sysctls.items()) if prefix in path]
    return tuple(steps)


def _route_changes(cs: ChangeSet) -> None:
    desired = set()
    for route in cs.spec.routes:
        table = MAIN_TABLE
        if route.vrf is not None:
            if route.vrf not in cs.vrf_tables:
                raise RealizeError(
                    f'route "{route.dst}": unknown VRF "{route.vrf}"', obj=route.dst, key="vrf"
                )
            table = cs.vrf_tables[route.vrf]
        desired.add(
            Route(
                dst=route.dst, table=table, type=route.type, via=route.via, dev=route.dev, metric=route.metric
            )
        )
    current = {r for r in cs.cur.routes if r.dev is None or r.dev not in cs.deleted}  # gone with their link
    for route in sorted(current - desired, key=str):
        cs.add(
            Phase.DEL_ROUTES,
            f'route "{route.dst}"',
            f"remove route (table {route.table})",
            ip("route", "del", *route.args()),
            ip("route", "add", *route.args()),
        )
    for route in sorted(desired - current, key=str):
        cs.add(
            Phase.ADD_ROUTES,
            f'route "{route.dst}"',
            f"add route (table {route.table})",
            ip("route", "add", *route.args()),
            ip("route", "del", *route.args()),
        )
    cs.new.routes = bool(desired)
