"""Pending versus running: what changed per object and per option, and what ``apply`` would do.

``pending_objects`` is PVE's ``PVE::Network::SDN::pending_config($running, $cfg, $type)->{ids}``
(spec §1.5), the representation the API returns for ``pending=1``:

* an object only in the running config: its running values, ``state: "deleted"``, ``pending: {}``;
* an object in both: its running values at the top; every option whose value differs, or that is
  new, goes to ``pending.<key>`` with the pending value; an option gone from the pending config is
  ``pending.<key> = "deleted"``; any of those makes ``state: "changed"``;
* an object only in the pending config: ``type`` (and a subnet's ``vnet``) at the top, every other
  option in ``pending``, ``state: "new"``;
* unchanged objects carry neither ``state`` nor ``pending``.

Values compare in PVE's encoded form (``nodes``, ``exitnodes``, ``dhcp-range`` and ``interfaces``
sorted and comma-joined), and pending values are given in that form, as PVE does. Two deliberate
differences: a falsy value (``snat 0``) is compared like any other (PVE's ``if $value`` skips it),
and a type change shows as ``pending.type``.

``diff_config`` gives the same comparison as typed records (``ObjectDiff``) for ``sdn pending`` and
dry-run. ``dry_run`` adds per-node rendered diffs from ``NODE_DIFF_PROVIDERS`` (see ``NodeDiff``).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sdnkit.config.formats import ArrayOf
from sdnkit.config.model import SdnConfig
from sdnkit.config.running import RunningConfig
from sdnkit.config.schema import VERSIONED_KINDS, Kind, option_format
from sdnkit.config.section import Section

__all__ = [
    "NODE_DIFF_PROVIDERS",
    "NodeDiff",
    "ObjectDiff",
    "State",
    "diff_config",
    "dry_run",
    "has_pending_changes",
    "pending_objects",
    "pending_value",
    "text_diff",
]

TOP_LEVEL_KEYS = ("vnet",)  # copied to the top of new objects, as PVE does for "type" and "vnet"


class State(StrEnum):
    NEW = "new"
    CHANGED = "changed"
    DELETED = "deleted"


def pending_value(section: Section, key: str) -> Any:
    """A value as PVE shows it in ``pending{}`` (``encode_value``: lists sorted and joined)."""
    fmt = option_format(section.kind, section.type, key)
    value = section.options[key]
    if isinstance(fmt, ArrayOf):
        return ",".join(sorted(fmt.json(value)))
    return fmt.api(value)


def _changes(old: Section, new: Section) -> dict[str, Any]:
    """``pending{}`` of an object present on both sides."""
    before, after = old.encoded(), new.encoded()
    out: dict[str, Any] = {}
    if old.type != new.type:
        out["type"] = new.type
    for key in before:
        if key not in after:
            out[key] = "deleted"
        elif before[key] != after[key]:
            out[key] = pending_value(new, key)
    for key in after:
        if key not in before:
            out[key] = pending_value(new, key)
    return dict(sorted(out.items()))


def _pending_object(old: Section | None, new: Section | None) -> dict[str, Any]:
    if new is None:
        assert old is not None
        return {**old.to_api(), "state": State.DELETED.value, "pending": {}}
    top = {k: new.get(k) for k in TOP_LEVEL_KEYS if new.get(k) is not None}
    if old is None:
        pend = {k: pending_value(new, k) for k, _ in new if k not in TOP_LEVEL_KEYS}
        return {"type": new.type, **top, "state": State.NEW.value, "pending": dict(sorted(pend.items()))}
    obj = {**old.to_api(), "type": new.type, **top}
    pend = _changes(old, new)
    if pend:
        obj.update(state=State.CHANGED.value, pending=pend)
    return obj


def pending_objects(
    running: Mapping[str, Section], current: Mapping[str, Section]
) -> dict[str, dict[str, Any]]:
    """PVE's pending view of one kind, by ID (sorted)."""
    ids = sorted(set(running) | set(current))
    return {i: _pending_object(running.get(i), current.get(i)) for i in ids}


@dataclass(frozen=True, slots=True)
class ObjectDiff:
    """One object that apply would create, change or delete; ``changes`` is (key, old, new)."""

    kind: Kind
    id: str
    state: State
    changes: tuple[tuple[str, Any, Any], ...]

    def to_api(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "id": self.id,
            "state": self.state.value,
            "changes": {k: {"old": old, "new": new} for k, old, new in self.changes},
        }


def _object_diff(kind: Kind, id_: str, old: Section | None, new: Section | None) -> ObjectDiff | None:
    before = old.to_api() if old else {}
    after = new.to_api() if new else {}
    enc_before = {**(old.encoded() if old else {}), "type": before.get("type")}
    enc_after = {**(new.encoded() if new else {}), "type": after.get("type")}
    keys = sorted(k for k in set(before) | set(after) if enc_before.get(k) != enc_after.get(k))
    if not keys:
        return None
    state = State.NEW if old is None else State.DELETED if new is None else State.CHANGED
    return ObjectDiff(kind, id_, state, tuple((k, before.get(k), after.get(k)) for k in keys))


def diff_config(
    running: SdnConfig, pending: SdnConfig, kinds: Iterable[Kind] = VERSIONED_KINDS
) -> list[ObjectDiff]:
    """What apply would change, object by object, sorted by kind order then ID."""
    out: list[ObjectDiff] = []
    for kind in kinds:
        old, new = running.of(kind), pending.of(kind)
        for id_ in sorted(set(old) | set(new)):
            diff = _object_diff(kind, id_, old.get(id_), new.get(id_))
            if diff is not None:
                out.append(diff)
    return out


def has_pending_changes(running: SdnConfig, pending: SdnConfig) -> bool:
    """Whether apply would change anything (fabrics included, unlike PVE's check)."""
    return bool(diff_config(running, pending))


NodeDiff = Callable[[RunningConfig, RunningConfig, str], Mapping[str, str]]
"""A per-node rendered diff: ``(current running, would-be running, node) -> {name: unified diff}``.

The planner/renderer registers one by appending to ``NODE_DIFF_PROVIDERS``; it returns PVE's keys
(``interfaces-diff``, ``frr-diff``) or its own (``dnsmasq-diff``, ...). ``text_diff`` helps build them.
"""

NODE_DIFF_PROVIDERS: list[NodeDiff] = []


def text_diff(old: str, new: str, name: str) -> str:
    """A unified diff like ``diff -u`` (empty when the texts are equal)."""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"{name}", f"{name}.new"
    )
    return "".join(lines)


def dry_run(
    running: RunningConfig,
    pending: SdnConfig,
    node: str | None = None,
    providers: Iterable[NodeDiff] | None = None,
) -> dict[str, Any]:
    """What apply would do: the object changes, and per-node rendered diffs when a node is given."""
    sections = {k: dict(pending.of(k)) for k in VERSIONED_KINDS}
    future = RunningConfig(running.version + 1, SdnConfig(sections))
    result: dict[str, Any] = {
        "version": running.version,
        "next-version": future.version,
        "changes": [d.to_api() for d in diff_config(running.config, pending)],
    }
    if node is not None:
        result["node"] = node
        for provider in NODE_DIFF_PROVIDERS if providers is None else providers:
            result.update(provider(running, future, node))
    return result
