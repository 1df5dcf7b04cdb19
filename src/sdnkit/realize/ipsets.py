"""Apply the firewall IP sets to nftables: only the sets that differ, in one atomic transaction.

The sets live in ``table inet sdnkit-ipsets`` (see ``render/nftables_sets.py``): every set in that
table is ours, its chains are the operator's and are never touched. One ``nft -f`` transaction
creates missing sets, replaces the elements of changed ones (flush + add: never an empty window
for the rules that use them) and deletes sets no longer planned. A set that is gone from the plan
but still used by a rule is emptied instead of deleted, so the operator's ruleset keeps loading
(upstream's firewall failed to compile then), and a warning says so. The result is read back and
compared: a mismatch raises ``VerifyError``.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from sdnkit.errors import RealizeError, VerifyError
from sdnkit.plan.desired import IpSet
from sdnkit.render.nft_text import identifier
from sdnkit.render.nftables_sets import TABLE, NftSet, element_text, nft_sets, set_body

__all__ = ["IpsetResult", "apply_ipsets", "read_sets"]


@dataclass(frozen=True, slots=True)
class CurrentSet:
    type: str
    intervals: tuple[tuple[int, int], ...]
    used: bool  # a rule of the table refers to it


@dataclass(frozen=True, slots=True)
class IpsetResult:
    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    emptied: tuple[str, ...] = ()  # no longer planned but still used by a rule
    warnings: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted or self.emptied)


def _nft(args: list[str], netns: str | None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    argv = ["nft", *args]
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False, timeout=60)


def _span(value: Any) -> tuple[int, int]:
    """One element of nft's JSON listing as an integer interval."""
    if isinstance(value, dict) and "elem" in value:
        value = value["elem"]["val"]
    if isinstance(value, str):
        ip = int(ipaddress.ip_address(value))
        return ip, ip
    if "prefix" in value:
        net = ipaddress.ip_network(f"{value['prefix']['addr']}/{value['prefix']['len']}")
        return int(net.network_address), int(net.broadcast_address)
    first, last = value["range"]
    return int(ipaddress.ip_address(first)), int(ipaddress.ip_address(last))


def read_sets(netns: str | None = None, table: str = TABLE) -> dict[str, CurrentSet] | None:
    """The sets of our table (None: the table does not exist)."""
    proc = _nft(["-j", "list", "table", "inet", table], netns)
    if proc.returncode != 0:
        if "No such file or directory" in proc.stderr:
            return None
        raise RealizeError(f"nftables: cannot list table inet {table}: {proc.stderr.strip()}")
    items = [next(iter(i.items())) for i in json.loads(proc.stdout)["nftables"]]
    rules = " ".join(json.dumps(body) for kind, body in items if kind == "rule")
    return {
        body["name"]: CurrentSet(
            type=body["type"],
            intervals=tuple(sorted(_span(e) for e in body.get("elem", ()))),
            used=f'"@{body["name"]}"' in rules,
        )
        for kind, body in items
        if kind == "set"
    }


def _add_set(table: str, nset: NftSet) -> list[str]:
    return [f"add set inet {table} {nset.name} {{ {'; '.join(set_body(nset, elements=False))}; }}"]


def _fill(table: str, nset: NftSet) -> list[str]:
    name = identifier(nset.name, f'ipset "{nset.name}"', "name")
    lines = [f"flush set inet {table} {name}"]
    if nset.intervals:
        elements = ", ".join(element_text(nset.version, iv) for iv in nset.intervals)
        lines.append(f"add element inet {table} {name} {{ {elements} }}")
    return lines


def _script(
    table: str, want: dict[str, NftSet], have: dict[str, CurrentSet]
) -> tuple[list[str], IpsetResult]:
    lines = [f"add table inet {table}"]
    created, updated, deleted, emptied, warnings = [], [], [], [], []
    for name, nset in sorted(want.items()):
        cur = have.get(name)
        if cur is not None and cur.type != nset.type:
            lines.append(f"delete set inet {table} {name}")
            cur = None
        if cur is None:
            lines += _add_set(table, nset) + _fill(table, nset)[1:]
            created.append(name)
        elif cur.intervals != nset.intervals:
            lines += _fill(table, nset)
            updated.append(name)
    for name, cur in sorted(have.items()):
        if name in want:
            continue
        if cur.used:
            if cur.intervals:
                lines.append(f"flush set inet {table} {name}")
                emptied.append(name)
            warnings.append(f'ipset "{name}": no longer planned but used by a rule, kept empty')
        else:
            lines.append(f"delete set inet {table} {name}")
            deleted.append(name)
    result = IpsetResult(tuple(created), tuple(updated), tuple(deleted), tuple(emptied), tuple(warnings))
    return lines, result


def apply_ipsets(
    ipsets: Iterable[IpSet],
    *,
    netns: str | None = None,
    table: str = TABLE,
    scope: Collection[str] | None = None,
) -> IpsetResult:
    """Converge the sets of ``table`` (in ``netns``) to ``ipsets``; atomic, verified.

    ``scope``: only the ``IpSet`` names listed are converged (a port change touches its guest's
    set only); a name in scope but not in ``ipsets`` is removed. None: the whole table.
    """
    want = {nset.name: nset for ipset in ipsets for nset in nft_sets(ipset)}
    have = read_sets(netns, table)
    current = have or {}
    if scope is not None:
        names = {f"{n}-{suffix}" for n in scope for suffix in ("v4", "v6")}
        want = {n: s for n, s in want.items() if n in names}
        current = {n: s for n, s in current.items() if n in names}
    lines, result = _script(table, want, current)
    if have is not None and not result.changed:
        return result
    proc = _nft(["-f", "-"], netns, "\n".join(lines) + "\n")
    if proc.returncode != 0:
        raise RealizeError(f"nftables: ipsets refused, nothing changed: {proc.stderr.strip()}")
    after = read_sets(netns, table) or {}
    wrong = sorted(n for n, s in want.items() if n not in after or after[n].intervals != s.intervals)
    if wrong:
        raise VerifyError(f"nftables: ipsets differ after apply: {', '.join(wrong)}")
    return result
