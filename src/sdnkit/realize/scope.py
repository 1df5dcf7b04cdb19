"""Incremental applies: which links a plan change concerns, and a diff limited to them.

The ownership record keeps a fingerprint of every link's spec as last applied and verified. An
incremental apply reads and compares only the links whose spec changed since then, plus the links
they stand on or carry (master, ports, VLAN raw device, veth peer, VRFs for route tables), so adding
one vnet to a node with a thousand costs what adding it to an empty node costs. The other links are
trusted to be as verified last time: hand changes to them are found by the next full apply (the
default mode of ``apply_plan``).

An incremental apply falls back to a full one when there is no record of an earlier apply, when
links would be deleted (a rollback must be able to re-plug guest ports into a re-created bridge,
which needs the full picture), or when most links changed anyway.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import replace

from sdnkit.realize.ownership import Ownership
from sdnkit.realize.spec import LinkSpec, Spec

INCREMENTAL_MAX_SHARE = 0.25  # above this share of changed links a full read is as cheap


def fingerprint(spec: LinkSpec) -> str:
    """A digest of everything a link spec asks for (stable across processes)."""
    canonical = [
        spec.name, spec.owned, spec.kind, sorted(spec.info.items()), spec.mtu, spec.hwaddress, spec.alias,
        spec.master, spec.up, list(spec.addresses), sorted(spec.brport.items()), sorted(spec.fdb),
        sorted(spec.vids), sorted(spec.sysctls.items()),
    ]  # fmt: skip
    return hashlib.blake2b(json.dumps(canonical).encode(), digest_size=8).hexdigest()


def fingerprints(spec: Spec) -> dict[str, str]:
    return {name: fingerprint(link) for name, link in spec.links.items()}


def changed_links(spec: Spec, own: Ownership, prints: Mapping[str, str]) -> set[str] | None:
    """The links an incremental apply must look at, or None when it should be a full one."""
    if own.applied is None:
        return None
    changed = {n for n, fp in prints.items() if own.applied.get(n) != fp}
    gone = set(own.applied) - set(prints)
    unverified = set(own.owned) - set(own.applied)  # e.g. written ahead by an apply that was killed
    if gone or unverified:
        return None
    scope = _related(spec, changed)
    if len(scope) > max(8, INCREMENTAL_MAX_SHARE * len(spec.links)):
        return None
    return scope


def _related(spec: Spec, names: Iterable[str]) -> set[str]:
    above: dict[str, list[str]] = {}  # link -> its ports and VLAN devices
    for n, link in spec.links.items():
        for below in (link.master, link.info.get("link")):
            if below:
                above.setdefault(below, []).append(n)
    scope = set(names)
    for name in list(scope):
        link = spec.links.get(name)
        if link is not None:
            scope.update(filter(None, (link.master, link.info.get("link"), link.info.get("peer"))))
        scope.update(above.get(name, ()))
    scope.update(n for n, link in spec.links.items() if link.kind == "vrf")  # route tables
    return scope


def scoped_spec(spec: Spec, names: set[str]) -> Spec:
    return replace(spec, links={n: link for n, link in spec.links.items() if n in names})


def scoped_ownership(own: Ownership, names: set[str] | frozenset[str]) -> Ownership:
    """The record restricted to ``names`` (so that a scoped diff ignores every other link)."""
    return Ownership(
        owned={n: k for n, k in own.owned.items() if n in names},
        addresses={n: v for n, v in own.addresses.items() if n in names},
        fdb={n: v for n, v in own.fdb.items() if n in names},
        vids={n: v for n, v in own.vids.items() if n in names},
        originals={n: v for n, v in own.originals.items() if n in names},
        sysctls={p: v for p, v in own.sysctls.items() if p.split("/")[3] in names},
        routes=own.routes,
        nat=own.nat,
        plan_version=own.plan_version,
        applied={n: v for n, v in (own.applied or {}).items() if n in names},
    )


def merged_ownership(own: Ownership, scoped: Ownership, names: set[str]) -> Ownership:
    """``own`` with the entries of ``names`` replaced by those of ``scoped``."""
    out = own.copy()
    for attr in ("owned", "addresses", "fdb", "vids", "originals"):
        table = getattr(out, attr)
        for name in names:
            table.pop(name, None)
        table.update(getattr(scoped, attr))
    out.sysctls = {p: v for p, v in out.sysctls.items() if p.split("/")[3] not in names} | scoped.sysctls
    out.routes, out.nat, out.plan_version = scoped.routes, scoped.nat, scoped.plan_version
    return out
