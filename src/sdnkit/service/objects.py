"""Object operations: list, get, create, update, delete, with PVE's parameters and answers (spec §4.1).

Every write takes the SDN lock, reads a snapshot, checks the lock token and the digest, validates
the whole resulting configuration, runs the hooks and commits one file (plus what hooks staged).
A refused write changes nothing.
"""

from __future__ import annotations

from typing import Any

from sdnkit.config.model import SdnConfig, ZoneType
from sdnkit.config.pending import pending_objects
from sdnkit.config.schema import TYPES, Kind
from sdnkit.config.section import Section, parse_section
from sdnkit.config.sectionconfig import FILENAMES, format_config
from sdnkit.config.validate import check_change, check_delete
from sdnkit.config.zones import ZONE_RULES
from sdnkit.errors import ConfigError, ConflictError, NotFoundError
from sdnkit.service.kinds import ADAPTERS, Adapter, Collection
from sdnkit.service.params import Params, flag, no_more, option_list, text
from sdnkit.service.transaction import Action, Context, ObjectChange, check_token, commit, locked
from sdnkit.store.snapshot import Snapshot, load_snapshot

__all__ = ["check_token", "create", "delete", "get", "list_objects", "update"]


def check_digest(snap: Snapshot, kind: Kind, digest: str | None) -> None:
    if digest and digest != snap.digest(kind):
        raise ConflictError(
            f"{FILENAMES[kind]} was modified since it was read (digest {digest} is stale): reload and retry",
            key="digest",
            value=digest,
        )


def _view(snap: Snapshot, adapter: Adapter, mode: str) -> dict[str, dict[str, Any]]:
    """API objects of one collection by ID: current (default), running or pending."""
    kind = adapter.kind
    if mode == "pending":
        running = {i: s for i, s in snap.running.config.of(kind).items() if adapter.owns(s)}
        current = {i: s for i, s in snap.sections(kind).items() if adapter.owns(s)}
        return {i: adapter.api_pending(i, o) for i, o in pending_objects(running, current).items()}
    if mode == "running":
        secs = snap.running.config.of(kind)
        return {i: adapter.api(s) for i, s in sorted(secs.items()) if adapter.owns(s)}
    digest = snap.digest(kind)
    secs = snap.sections(kind)
    return {i: {**adapter.api(s), "digest": digest} for i, s in sorted(secs.items()) if adapter.owns(s)}


def _mode(params: Params, adapter: Adapter) -> str:
    pending, running = flag(params, "pending"), flag(params, "running")
    if (pending or running) and not adapter.kind.versioned:
        key = "pending" if pending else "running"
        raise ConfigError(f"{adapter.collection} take effect at once and have no {key} view", key=key)
    return "pending" if pending else "running" if running else "current"


def _check_vnet(snap: Snapshot, vnet: str) -> None:
    if vnet not in snap.sections(Kind.VNETS) and vnet not in snap.running.config.of(Kind.VNETS):
        raise NotFoundError(f'vnet "{vnet}" does not exist', key="vnet", value=vnet)


def list_objects(ctx: Context, collection: Collection | str, params: Params) -> list[dict[str, Any]]:
    adapter = ADAPTERS[Collection(collection)]
    params = dict(params)
    mode = _mode(params, adapter)
    filters = {k: str(v) for k in adapter.filters if (v := text(params, k)) is not None}
    no_more(params, f"GET {adapter.collection}")
    snap = load_snapshot(ctx.store)
    if "vnet" in filters:
        _check_vnet(snap, filters["vnet"])
    objs = _view(snap, adapter, mode).values()
    return [o for o in objs if all(o.get(k) == v for k, v in filters.items())]


def get(ctx: Context, collection: Collection | str, params: Params) -> dict[str, Any]:
    adapter = ADAPTERS[Collection(collection)]
    params = dict(params)
    mode = _mode(params, adapter)
    snap = load_snapshot(ctx.store)
    id_ = adapter.existing_id(params, snap.config)
    obj = _view(snap, adapter, mode).get(id_)
    if obj is None:
        raise NotFoundError(f"{adapter.label(id_)} does not exist", key=adapter.id_param, value=id_)
    adapter.check_existing(params, obj)
    no_more(params, f"GET {adapter.collection}/{{{adapter.id_param}}}")
    return obj


def _write(
    ctx: Context,
    snap: Snapshot,
    kind: Kind,
    sections: dict[str, Section],
    changes: list[tuple[Action, str, Section | None, Section | None]],
) -> None:
    """Validate the new sections of ``kind`` against the rest, run hooks, commit."""
    before = snap.config
    after = SdnConfig({**before.sections, kind: sections})
    check_change(before, after, changed=[(kind, id_) for _, id_, _, _ in changes])
    records = [ObjectChange(kind, action, i, old, new, before, after) for action, i, old, new in changes]
    name = FILENAMES[kind]
    commit(ctx, snap, {name: format_config(sections.values()).encode()}, records)


def _fill_defaults(section: Section) -> Section:
    if section.kind is not Kind.ZONES:
        return section
    opts = ZONE_RULES[ZoneType(section.type)].fill_defaults(section.id, section.options)
    return section.with_options(opts)


def create(ctx: Context, collection: Collection | str, params: Params) -> None:
    adapter = ADAPTERS[Collection(collection)]
    params = dict(params)
    token, digest = text(params, "lock-token"), text(params, "digest")
    kind = adapter.kind
    with locked(ctx, token) as snap:
        id_ = adapter.new_id(params, snap.config)
        type_ = adapter.new_type(params, snap.config, id_)
        check_digest(snap, kind, digest)
        if id_ in snap.sections(kind):
            raise ConfigError(f"{adapter.label(id_)} already exists", key=adapter.id_param, value=id_)
        section = _fill_defaults(parse_section(kind, type_, id_, params))
        sections = {**snap.sections(kind), id_: section}
        _write(ctx, snap, kind, sections, [(Action.CREATE, id_, None, section)])


def _apply_delete(section: Section, new: dict[str, Any], delete: list[str]) -> dict[str, Any]:
    """PVE ``delete_from_config``: only optional options, never one that is also being set."""
    spec = TYPES[section.kind][section.type]
    opts = dict(section.options)
    errors: dict[str, str] = {}
    for key in delete:
        if key not in spec.options:
            errors[key] = f"{section.label}: no such option {key!r} for type {section.type}"
        elif key in spec.required:
            errors[key] = f"{section.label}: unable to delete required option {key!r}"
        elif key in new:
            errors[key] = f"{section.label}: cannot set and delete {key!r} at the same time"
        else:
            opts.pop(key, None)
    if errors:
        text_ = "; ".join(errors.values())
        raise ConfigError(text_, obj=section.label, key=next(iter(errors)), errors=errors)
    return {**opts, **new}


def _existing(snap: Snapshot, adapter: Adapter, params: Params) -> tuple[str, Section]:
    """The ID and section of the object a write names; ``NotFoundError`` if it does not exist."""
    id_ = adapter.existing_id(params, snap.config)
    old = snap.sections(adapter.kind).get(id_)
    if old is None or not adapter.owns(old):
        raise NotFoundError(f"{adapter.label(id_)} does not exist", key=adapter.id_param, value=id_)
    adapter.check_existing(params, adapter.api(old))
    return id_, old


def update(ctx: Context, collection: Collection | str, params: Params) -> None:
    adapter = ADAPTERS[Collection(collection)]
    params = dict(params)
    token, digest = text(params, "lock-token"), text(params, "digest")
    delete = option_list(params, "delete")
    kind = adapter.kind
    with locked(ctx, token) as snap:
        id_, old = _existing(snap, adapter, params)
        check_digest(snap, kind, digest)
        new_values = parse_section(kind, old.type, id_, params, partial=True).options
        section = _fill_defaults(old.with_options(_apply_delete(old, new_values, delete)))
        sections = {**snap.sections(kind), id_: section}
        _write(ctx, snap, kind, sections, [(Action.UPDATE, id_, old, section)])


def delete(ctx: Context, collection: Collection | str, params: Params) -> None:
    adapter = ADAPTERS[Collection(collection)]
    params = dict(params)
    token, digest = text(params, "lock-token"), text(params, "digest")
    kind = adapter.kind
    with locked(ctx, token) as snap:
        id_, old = _existing(snap, adapter, params)
        no_more(params, f"DELETE {adapter.collection}/{{{adapter.id_param}}}")
        check_digest(snap, kind, digest)
        check_delete(snap.config, kind, id_)
        current = snap.sections(kind)
        gone = [id_]
        if kind is Kind.FABRICS and old.type.endswith("_fabric"):  # a fabric takes its nodes along
            gone += [i for i, s in current.items() if s.type.endswith("_node") and i.startswith(f"{id_}_")]
        sections = {i: s for i, s in current.items() if i not in gone}
        _write(ctx, snap, kind, sections, [(Action.DELETE, i, current[i], None) for i in gone])
