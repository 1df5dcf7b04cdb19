"""``sdn zone|vnet|subnet|controller|ipam|dns|fabric|fabric-node create|set|delete|list|show``.

Options come from the schema (``config/schema.py``): every option of the kind is a ``--<key>``
flag with PVE's key name; array options (``--dhcp-range``, ``--interfaces``) repeat; a boolean
flag alone means 1. Everything goes through ``SdnService``, like the REST API.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sdnkit.cli.output import emit, say
from sdnkit.config.formats import ArrayOf, Boolean
from sdnkit.config.schema import OPTIONS, TYPES, Kind
from sdnkit.service import Collection, SdnService

__all__ = ["register"]


@dataclass(frozen=True)
class Family:
    """One command family: its collection and the positional arguments naming an object."""

    name: str
    collection: Collection
    kind: Kind
    ids: tuple[tuple[str, str], ...]  # (parameter, help) of the positional arguments
    create_ids: tuple[tuple[str, str], ...] | None = None
    type_param: str | None = "type"
    list_filters: tuple[tuple[str, str], ...] = ()  # optional positional filters of `list`


FAMILIES = (
    Family("zone", Collection.ZONES, Kind.ZONES, (("zone", "zone ID"),)),
    Family("vnet", Collection.VNETS, Kind.VNETS, (("vnet", "vnet ID"),), type_param=None),
    Family(
        "subnet",
        Collection.SUBNETS,
        Kind.SUBNETS,
        (("vnet", "vnet ID"), ("subnet", "subnet ID (zone-address-length) or CIDR")),
        create_ids=(("vnet", "vnet ID"), ("subnet", "subnet CIDR, e.g. 10.0.1.0/24")),
        type_param=None,
        list_filters=(("vnet", "only the subnets of this vnet"),),
    ),
    Family("controller", Collection.CONTROLLERS, Kind.CONTROLLERS, (("controller", "controller ID"),)),
    Family("ipam", Collection.IPAMS, Kind.IPAMS, (("ipam", "IPAM ID"),)),
    Family("dns", Collection.DNS, Kind.DNS, (("dns", "DNS server ID"),)),
    Family("fabric", Collection.FABRICS, Kind.FABRICS, (("id", "fabric ID"),), type_param="protocol"),
    Family(
        "fabric-node",
        Collection.FABRIC_NODES,
        Kind.FABRICS,
        (("fabric_id", "fabric ID"), ("node_id", "node name")),
        type_param="protocol",
        list_filters=(("fabric_id", "only the nodes of this fabric"),),
    ),
)

DEST = "opt::"  # argparse dest prefix of schema options (keys keep their dashes)


def _type_choices(family: Family) -> list[str]:
    if family.type_param == "protocol":
        return ["openfabric", "ospf"]
    return list(TYPES[family.kind])


def _add_options(parser: argparse.ArgumentParser, family: Family) -> None:
    group = parser.add_argument_group("options (PVE names)")
    positional = {k for k, _ in (*family.ids, *(family.create_ids or ()))}
    for key, option in OPTIONS[family.kind].items():
        if key in positional:  # a subnet's vnet is given as an argument already
            continue
        kw: dict[str, Any] = {"dest": DEST + key, "help": option.description, "metavar": "VALUE"}
        if isinstance(option.format, ArrayOf):
            kw.update(action="append", metavar=option.format.item.describe())
        elif isinstance(option.format, Boolean):
            kw.update(nargs="?", const="1", metavar="0|1")
        group.add_argument(f"--{key}", **kw)


def _params(args: argparse.Namespace, family: Family, ids: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    params: dict[str, Any] = {key: getattr(args, key) for key, _ in ids}
    for dest, value in vars(args).items():
        if dest.startswith(DEST) and value is not None:
            params[dest[len(DEST) :]] = value
    names = {"type_": family.type_param or "type", "lock_token": "lock-token"}
    names.update(digest="digest", delete="delete")
    for attr, param in names.items():
        value = getattr(args, attr, None)
        if value is not None:
            params[param] = value
    return params


def _service(args: argparse.Namespace) -> SdnService:
    return SdnService(args.config_dir)


def _ids_of(family: Family, obj: dict[str, Any]) -> str:
    if family.collection is Collection.FABRIC_NODES:
        return f"{obj['fabric_id']}/{obj['node_id']}"
    return str(obj[family.ids[-1][0]])


HIDDEN = {"digest", "type", "protocol", "state", "pending", "id", "subnet", "cidr", "network", "mask", "zone"}


def _row(family: Family, obj: dict[str, Any]) -> dict[str, Any]:
    # the ID column shows the object's own ID (fabric nodes: fabric/node)
    both = family.collection is Collection.FABRIC_NODES
    shown = {k for k, _ in family.ids} if both else {family.ids[-1][0]}
    keep = {k: v for k, v in obj.items() if k not in HIDDEN | shown and v != []}
    if family.collection is Collection.VNETS and "zone" in obj:
        keep = {"zone": obj["zone"], **keep}
    options = " ".join(f"{k}={_flat(v)}" for k, v in keep.items())
    row = {"id": _ids_of(family, obj), "type": obj.get("type") or obj.get("protocol"), "options": options}
    if "state" in obj:
        pend = obj.get("pending") or {}
        row.update(state=obj["state"], pending=" ".join(f"{k}={_flat(v)}" for k, v in pend.items()))
    return row


def _flat(value: Any) -> str:
    if isinstance(value, list):
        return ";".join(_flat(v) for v in value)
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def _do_list(family: Family) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        params: dict[str, Any] = {k: getattr(args, k) for k, _ in family.list_filters if getattr(args, k)}
        if getattr(args, "type_", None):
            params["type"] = args.type_
        params.update(pending=1 if args.pending else None, running=1 if args.running else None)
        objs = _service(args).list(family.collection, params)
        if args.output == "json":
            emit(objs, "json")
        else:
            rows = [_row(family, o) for o in objs]
            columns = ["id", "type", "options"] + (["state", "pending"] if args.pending else [])
            emit(rows, "text", columns)
        return 0

    return run


def _do_show(family: Family) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        params = {k: getattr(args, k) for k, _ in family.ids}
        params.update(pending=1 if args.pending else None, running=1 if args.running else None)
        emit(_service(args).get(family.collection, params), args.output)
        return 0

    return run


def _do_write(family: Family, action: str) -> Callable[[argparse.Namespace], int]:
    ids = (family.create_ids or family.ids) if action == "create" else family.ids

    def run(args: argparse.Namespace) -> int:
        getattr(_service(args), action)(family.collection, _params(args, family, ids))
        what = {"create": "created", "update": "updated", "delete": "deleted"}[action]
        if args.output == "json":
            emit({"result": what}, "json")
        else:
            name = " ".join(str(getattr(args, k)) for k, _ in ids)
            later = " (pending until sdn apply)" if family.kind.versioned else ""
            say(f"{family.name} {name} {what}{later}")
        return 0

    return run


def _positionals(parser: argparse.ArgumentParser, ids: tuple[tuple[str, str], ...]) -> None:
    for key, help_ in ids:
        parser.add_argument(key, help=help_)


def _view_flags(parser: argparse.ArgumentParser, family: Family) -> None:
    if family.kind.versioned:
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--pending", action="store_true", help="show pending changes against running")
        mode.add_argument("--running", action="store_true", help="show the applied (running) config")
    else:
        parser.set_defaults(pending=False, running=False)


def _register_family(subparsers: Any, family: Family) -> None:
    top = subparsers.add_parser(family.name, help=f"{family.name} objects ({family.collection})")
    cmds = top.add_subparsers(dest="action", metavar="ACTION")
    cmds.required = True
    create = cmds.add_parser("create", help=f"create a {family.name}")
    _positionals(create, family.create_ids or family.ids)
    if family.type_param:
        flag = f"--{family.type_param}"
        required = family.type_param == "type"
        create.add_argument(flag, dest="type_", choices=_type_choices(family), required=required)
    _add_options(create, family)
    create.add_argument("--lock-token", help="token of the global SDN lock, when it is held")
    create.set_defaults(func=_do_write(family, "create"))

    update = cmds.add_parser("set", help=f"change options of a {family.name}")
    _positionals(update, family.ids)
    _add_options(update, family)
    update.add_argument("--delete", help="comma separated options to remove")
    update.add_argument("--digest", help="refuse the change if the file changed since this digest")
    update.add_argument("--lock-token", help="token of the global SDN lock, when it is held")
    update.set_defaults(func=_do_write(family, "update"))

    remove = cmds.add_parser("delete", help=f"delete a {family.name}")
    _positionals(remove, family.ids)
    remove.add_argument("--lock-token", help="token of the global SDN lock, when it is held")
    remove.set_defaults(func=_do_write(family, "delete"))

    listing = cmds.add_parser("list", help=f"list {family.collection}")
    for key, help_ in family.list_filters:
        listing.add_argument(key, nargs="?", help=help_)
    if family.type_param == "type":
        listing.add_argument("--type", dest="type_", choices=_type_choices(family))
    _view_flags(listing, family)
    listing.set_defaults(func=_do_list(family))

    show = cmds.add_parser("show", help=f"show one {family.name}")
    _positionals(show, family.ids)
    _view_flags(show, family)
    show.set_defaults(func=_do_show(family))


def register(subparsers: Any) -> None:
    for family in FAMILIES:
        _register_family(subparsers, family)
