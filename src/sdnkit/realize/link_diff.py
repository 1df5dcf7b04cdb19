"""The changes that bring one link's settings to its spec, and the steps that rebuild a deleted link.

Owned links are managed completely (master, up, addresses exactly as planned). On links the node
already had, only the settings the plan lists are changed, their previous values are recorded in
the ownership record, and they are put back when the plan stops listing them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sdnkit.errors import RealizeError
from sdnkit.realize import kinds
from sdnkit.realize.base import LINK_GROUP, Phase, Step, Tool, bridge, ip, sysctl
from sdnkit.realize.changeset import ChangeSet
from sdnkit.realize.kernel_state import FLOOD_MAC, LinkState
from sdnkit.realize.spec import LinkSpec

DEFAULT_BRPORT = {"learning": True, "neigh_suppress": False, "isolated": False}


def _onoff(value: bool) -> str:
    return "on" if value else "off"


def obj(name: str) -> str:
    return f'link "{name}"'


def link_changes(cs: ChangeSet, spec: LinkSpec, have: LinkState) -> None:
    """Append the changes that make ``have`` (the link after deletes/creates) match ``spec``."""
    _kind_settings(cs, spec, have)
    if spec.owned:  # our mark (links made before it, or changed by hand)
        _scalar(cs, spec, have, "group", LINK_GROUP, have.group)
    _scalar(cs, spec, have, "mtu", spec.mtu, have.mtu)
    _scalar(cs, spec, have, "address", spec.hwaddress, have.hwaddress)
    _master(cs, spec, have)
    _brport(cs, spec, have)
    if spec.up and not have.up:
        _remember(cs, spec, "up", False)
        cs.add(
            Phase.UP,
            obj(spec.name),
            "set up",
            ip("link", "set", "dev", spec.name, "up"),
            ip("link", "set", "dev", spec.name, "down"),
        )
    _addresses(cs, spec, have)
    _fdb(cs, spec, have)
    vid_changes(cs, spec.name, have, spec.vids)
    if spec.alias is not None and spec.alias != have.alias:
        _remember(cs, spec, "alias", have.alias)
        cs.add(
            Phase.ALIAS,
            obj(spec.name),
            f"set alias {spec.alias!r}",
            alias_step(spec.name, spec.alias),
            alias_step(spec.name, have.alias),
        )
    _sysctls(cs, spec)


def _remember(cs: ChangeSet, spec: LinkSpec, key: str, value: Any) -> None:
    """Keep the value a setting had before we changed it on a link we do not own."""
    if not spec.owned:
        cs.new.originals.setdefault(spec.name, {}).setdefault(key, value)


def alias_step(name: str, text: str) -> Step:
    return Step(Tool.ARGV, ("ip", "link", "set", "dev", name, "alias", text))


def _kind_settings(cs: ChangeSet, spec: LinkSpec, have: LinkState) -> None:
    driver = kinds.driver(have.kind)
    for key, want in spec.info.items():
        if driver is None or (key not in driver.settable and key not in driver.fixed):
            raise RealizeError(
                f'link "{spec.name}": cannot set {key} on a {have.kind or "device without kind"}',
                obj=spec.name,
                key=key,
                value=want,
            )
        if key not in driver.settable or driver.matches(key, want, have.info.get(key)):
            continue  # fixed settings were handled when deciding to (re)create the link
        old = have.info.get(key)
        _remember(cs, spec, f"info.{key}", old)
        undo = set_kind(spec.name, driver, key, old) if old is not None else ()
        cs.add(
            Phase.SET_LINKS,
            obj(spec.name),
            f"set {key} {want}",
            set_kind(spec.name, driver, key, want),
            undo,
        )


def set_kind(name: str, driver: kinds.KindDriver, key: str, value: Any) -> Step:
    return ip("link", "set", "dev", name, "type", driver.kind, *driver.settable[key](value))


def _scalar(cs: ChangeSet, spec: LinkSpec, have: LinkState, key: str, want: Any, old: Any) -> None:
    if want is None or want == old:
        return
    _remember(cs, spec, key, old)
    undo = ip("link", "set", "dev", spec.name, key, str(old)) if old is not None else ()
    cs.add(
        Phase.SET_LINKS,
        obj(spec.name),
        f"set {key} {want}",
        ip("link", "set", "dev", spec.name, key, str(want)),
        undo,
    )


def master_step(name: str, master: str | None) -> Step:
    return ip("link", "set", "dev", name, *(("master", master) if master else ("nomaster",)))


def bridge_mac_undo(cs: ChangeSet, *masters: str | None) -> tuple[Step, ...]:
    """Steps that give bridges that existed before the apply their MAC back.

    A bridge without a MAC of its own takes the lowest MAC of its ports, so adding or removing a
    port can change it (the gateway MAC guests have cached); an undo must restore it too.
    """
    steps = []
    for name in masters:
        have = cs.cur.links.get(name) if name else None
        if have is not None and have.kind == "bridge" and have.hwaddress and name not in cs.deleted:
            steps.append(ip("link", "set", "dev", have.name, "address", have.hwaddress))
    return tuple(steps)


def _master(cs: ChangeSet, spec: LinkSpec, have: LinkState) -> None:
    want, old = spec.master, have.master
    if want == old or (want is None and not spec.owned):
        return
    _remember(cs, spec, "master", old)
    if want is None:
        cs.add(
            Phase.UNENSLAVE,
            obj(spec.name),
            f"release from {old}",
            master_step(spec.name, None),
            (master_step(spec.name, old), *bridge_mac_undo(cs, want, old)),
        )
    else:
        cs.add(
            Phase.ENSLAVE,
            obj(spec.name),
            f"enslave to {want}",
            master_step(spec.name, want),
            (master_step(spec.name, old), *bridge_mac_undo(cs, want, old)),
        )


def _is_bridge(cs: ChangeSet, name: str | None) -> bool:
    if name is None:
        return False
    spec = cs.spec.links.get(name)
    have = cs.effective.get(name)
    return (spec is not None and spec.kind == "bridge") or (have is not None and have.kind == "bridge")


def _brport(cs: ChangeSet, spec: LinkSpec, have: LinkState) -> None:
    if not spec.brport or not _is_bridge(cs, spec.master):
        return
    base = have.brport if have.master == spec.master else {}
    old = {k: base.get(k, DEFAULT_BRPORT[k]) for k in spec.brport}
    changed = {k: v for k, v in spec.brport.items() if old[k] != v}
    if not changed:
        return

    def flags(values: dict[str, bool]) -> Step:
        args = [x for k in sorted(changed) for x in (k, _onoff(values[k]))]
        return ip("link", "set", "dev", spec.name, "type", "bridge_slave", *args)

    text = " ".join(f"{k} {_onoff(v)}" for k, v in sorted(changed.items()))
    cs.add(Phase.PORT_FLAGS, obj(spec.name), f"set port {text}", flags(dict(spec.brport)), flags(old))


def is_kernel_ll(address: str) -> bool:
    """An IPv6 link-local /64 the kernel configures by itself (fe80::/64 addresses)."""
    return address.startswith("fe80:") and address.endswith("/64")


def _addresses(cs: ChangeSet, spec: LinkSpec, have: LinkState) -> None:
    want = set(spec.addresses)
    if spec.owned:
        to_del = {a for a in have.addresses if a not in want and not is_kernel_ll(a)}
    else:
        recorded = cs.own.addresses.get(spec.name, set())
        to_del = (recorded - want) & have.addresses
    to_add = [a for a in spec.addresses if a not in have.addresses]
    if not spec.owned:
        cs.new.addresses[spec.name] = (cs.own.addresses.get(spec.name, set()) & want) | set(to_add)
    address_changes(cs, spec.name, sorted(to_del), to_add)


def address_changes(cs: ChangeSet, name: str, to_del: Iterable[str], to_add: Iterable[str]) -> None:
    for addr in to_del:
        cs.add(
            Phase.DEL_ADDRESSES,
            obj(name),
            f"remove address {addr}",
            ip("address", "del", addr, "dev", name),
            ip("address", "add", addr, "dev", name),
        )
    for addr in to_add:
        cs.add(
            Phase.ADD_ADDRESSES,
            obj(name),
            f"add address {addr}",
            ip("address", "add", addr, "dev", name),
            ip("address", "del", addr, "dev", name),
        )


def _fdb_step(verb: str, name: str, dst: str) -> Step:
    return bridge("fdb", verb, FLOOD_MAC, "dev", name, "dst", dst)


def _fdb(cs: ChangeSet, spec: LinkSpec, have: LinkState) -> None:
    if have.kind != "vxlan":
        return
    recorded = cs.own.fdb.get(spec.name, set())
    # with a static peer list every flood entry is ours (as ifupdown2's vxlan-remoteip); without
    # one (EVPN), zebra installs them, and only those we added before are removed
    stale = (have.fdb - spec.fdb) if spec.fdb else (recorded & have.fdb)
    cs.new.fdb[spec.name] = set(spec.fdb)
    fdb_changes(cs, spec.name, sorted(stale), sorted(spec.fdb - have.fdb))


def fdb_changes(cs: ChangeSet, name: str, to_del: Iterable[str], to_add: Iterable[str]) -> None:
    for dst in to_del:
        cs.add(
            Phase.DEL_FDB,
            obj(name),
            f"remove flood entry {dst}",
            _fdb_step("del", name, dst),
            _fdb_step("append", name, dst),
        )
    for dst in to_add:
        cs.add(
            Phase.ADD_FDB,
            obj(name),
            f"add flood entry {dst}",
            _fdb_step("append", name, dst),
            _fdb_step("del", name, dst),
        )


def vid_ranges(vids: Iterable[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for vid in sorted(vids):
        if out and vid == out[-1][1] + 1:
            out[-1] = (out[-1][0], vid)
        else:
            out.append((vid, vid))
    return out


def _vid_step(verb: str, name: str, low: int, high: int, is_bridge: bool) -> Step:
    vid = str(low) if low == high else f"{low}-{high}"
    return bridge("vlan", verb, "dev", name, "vid", vid, *(("self",) if is_bridge else ()))


def vid_changes(cs: ChangeSet, name: str, have: LinkState, want: frozenset[int]) -> None:
    recorded = cs.own.vids.get(name, set())
    to_add = want - have.vids
    to_del = (recorded - want) & have.vids
    cs.new.vids[name] = (recorded & want) | to_add
    is_bridge = have.kind == "bridge"
    for low, high in vid_ranges(to_del):
        cs.add(
            Phase.DEL_VIDS,
            obj(name),
            f"remove VLANs {low}-{high}",
            _vid_step("del", name, low, high, is_bridge),
            _vid_step("add", name, low, high, is_bridge),
        )
    for low, high in vid_ranges(to_add):
        cs.add(
            Phase.ADD_VIDS,
            obj(name),
            f"add VLANs {low}-{high}",
            _vid_step("add", name, low, high, is_bridge),
            _vid_step("del", name, low, high, is_bridge),
        )


def default_sysctl(path: str) -> str:
    """net/ipv4/conf/<link>/<key> -> net/ipv4/conf/default/<key> (what a new link starts with)."""
    parts = path.split("/")
    parts[3] = "default"
    return "/".join(parts)


def _sysctls(cs: ChangeSet, spec: LinkSpec) -> None:
    for path, want in spec.sysctls.items():
        fresh = spec.name in cs.created
        old = cs.cur.sysctls.get(default_sysctl(path) if fresh else path)
        if old == want:
            continue
        if old is not None:
            cs.new.sysctls.setdefault(path, old)
        undo = sysctl(path, old) if old is not None and not fresh else ()
        cs.add(
            Phase.SYSCTLS, obj(spec.name), f"set {path.replace('/', '.')}={want}", sysctl(path, want), undo
        )
