"""Putting back what sdnkit changed on others' links once the plan stops listing it.

On links it does not own, the reconciler records each setting's value before changing it (MTU,
MAC, master, alias, kind settings, up), and the addresses, bridge VLANs and flood entries it
added; sysctls it changed are recorded on every link. When the plan no longer lists one, these
changes restore the recorded value (and remove what was added), with the usual undo steps.
"""

from __future__ import annotations

from typing import Any

from sdnkit.realize import kinds
from sdnkit.realize.base import Phase, Step, ip, sysctl
from sdnkit.realize.changeset import ChangeSet
from sdnkit.realize.kernel_state import LinkState
from sdnkit.realize.link_diff import (
    address_changes,
    alias_step,
    fdb_changes,
    master_step,
    obj,
    set_kind,
    vid_changes,
)
from sdnkit.realize.spec import LinkSpec


def restore_unlisted(cs: ChangeSet) -> None:
    """Put back what we changed on others' links once the plan no longer lists it."""
    _restore_sysctls(cs)
    for name in sorted(set(cs.own.originals) | set(cs.own.addresses) | set(cs.own.vids) | set(cs.own.fdb)):
        have = cs.effective.get(name)
        spec = cs.spec.links.get(name)
        if spec is not None and (spec.owned or have is None):
            continue  # handled by link_changes (or gone)
        if spec is None:
            cs.new.addresses.pop(name, None)
            cs.new.vids.pop(name, None)
            cs.new.fdb.pop(name, None)
            if have is None:
                cs.new.originals.pop(name, None)
                continue
            address_changes(cs, name, sorted(cs.own.addresses.get(name, set()) & have.addresses), ())
            vid_changes(cs, name, have, frozenset())
            cs.new.vids.pop(name, None)
            if have.kind == "vxlan":
                fdb_changes(cs, name, sorted(cs.own.fdb.get(name, set()) & have.fdb), ())
        _restore_originals(cs, name, spec, have)


def _listed(spec: LinkSpec | None, key: str) -> bool:
    if spec is None:
        return False
    if key.startswith("info."):
        return key[5:] in spec.info
    values = {
        "mtu": spec.mtu,
        "address": spec.hwaddress,
        "master": spec.master,
        "alias": spec.alias,
        "up": spec.up,
    }
    return values[key] is not None


def _restore_originals(cs: ChangeSet, name: str, spec: LinkSpec | None, have: LinkState) -> None:
    originals = cs.new.originals.get(name, {})
    for key, value in sorted(cs.own.originals.get(name, {}).items()):
        if _listed(spec, key):
            continue
        originals.pop(key, None)
        step, undo = _restore_step(name, key, value, have)
        if step is not None:
            cs.add(
                Phase.SET_LINKS if key != "master" else Phase.UNENSLAVE,
                obj(name),
                f"restore {key}",
                step,
                undo,
            )
    if not originals:
        cs.new.originals.pop(name, None)


def _restore_step(name: str, key: str, value: Any, have: LinkState) -> tuple[Step | None, tuple[Step, ...]]:
    if key == "up":
        down, up = ip("link", "set", "dev", name, "down"), ip("link", "set", "dev", name, "up")
        return (down, (up,)) if have.up and not value else (None, ())
    if key == "master":
        return (
            (master_step(name, value), (master_step(name, have.master),))
            if have.master != value
            else (None, ())
        )
    if key == "alias":
        return (
            (alias_step(name, value), (alias_step(name, have.alias),)) if have.alias != value else (None, ())
        )
    if key.startswith("info."):
        driver = kinds.driver(have.kind)
        field = key[5:]
        if driver is None or field not in driver.settable or value is None or have.info.get(field) == value:
            return None, ()
        return set_kind(name, driver, field, value), (set_kind(name, driver, field, have.info.get(field)),)
    current = have.mtu if key == "mtu" else have.hwaddress
    if value is None or current == value:
        return None, ()
    return ip("link", "set", "dev", name, key, str(value)), (
        ip("link", "set", "dev", name, key, str(current)),
    )


def _restore_sysctls(cs: ChangeSet) -> None:
    wanted = {path for spec in cs.spec.links.values() for path in spec.sysctls}
    for path, value in sorted(cs.own.sysctls.items()):
        if path in wanted:
            continue
        cs.new.sysctls.pop(path, None)
        link = path.split("/")[3]
        current = cs.cur.sysctls.get(path)
        if link in cs.deleted or current is None or current == value:
            continue
        cs.add(
            Phase.SYSCTLS,
            obj(link),
            f"restore {path.replace('/', '.')}={value}",
            sysctl(path, value),
            sysctl(path, current),
        )
