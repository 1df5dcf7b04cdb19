"""``GET /cluster/sdn/schema`` (sdnkit extension): the option tables of ``config/schema.py`` as JSON.

The web UI builds every create and edit form from this document, so an option added to
``config/schema.py`` appears in the UI with no UI change. For every collection it gives the API
path, the ID parameter, the parameter that selects the type (``type``; ``protocol`` for fabrics;
none for vnets and subnets), the parent path parameter (subnets below a vnet, fabric nodes below a
fabric) and, per type, every option in PVE's order (required first) with its format, description,
default and, where the option names another object, the collection it refers to.

A format is ``{"type": ..., "describe": <the same words the server's errors use>}`` plus what
constrains it: ``pattern``/``maxLength`` (string), ``minimum``/``maximum`` (integer), ``enum``,
``format`` (``ip``, ``ipv4``, ``ipv6``, ``cidr``, ``mac``), ``items`` (``list``: comma separated;
``array``: a repeated parameter of property strings), ``properties`` (``property-string``: its
keys in order, each with ``required`` and ``format``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter

from sdnkit.api.endpoint import Call, add
from sdnkit.api.params import IPS_SPEC, Param, create_spec, id_param
from sdnkit.api.routes.fabrics import FABRIC_ID, NODE_ID
from sdnkit.config.formats import (
    ArrayOf,
    Boolean,
    Cidr,
    Enum,
    Format,
    Integer,
    IpAddress,
    ListOf,
    Mac,
    PropertyString,
    Text,
)
from sdnkit.config.schema import OPTIONS, TYPES, Kind, TypeSpec, option_format

__all__ = ["format_doc", "register", "schema_doc"]

# Options whose value is the ID of another object: the collection the UI offers choices from.
REFERENCES = {
    "ipam": "ipams",
    "dns": "dns",
    "reversedns": "dns",
    "controller": "controllers",
    "fabric": "fabrics",
    "zone": "zones",
    "vnet": "vnets",
    "node": "nodes",
    "nodes": "nodes",
    "exitnodes": "nodes",
    "exitnodes-primary": "nodes",
}


def _text(fmt: Text) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "string"}
    if fmt.pattern:
        out["pattern"] = fmt.pattern
    if fmt.max_length:
        out["maxLength"] = fmt.max_length
    return out


def _integer(fmt: Integer) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "integer"}
    if fmt.minimum is not None:
        out["minimum"] = fmt.minimum
    if fmt.maximum is not None:
        out["maximum"] = fmt.maximum
    return out


def _family(name: str, family: int | None) -> str:
    return f"{name}v{family}" if family else name


def _property_string(fmt: PropertyString) -> dict[str, Any]:
    keys = [{"key": k, "required": k in fmt.required, "format": format_doc(f)} for k, f in fmt.keys]
    return {"type": "property-string", "properties": keys}


_BUILDERS: dict[type[Format], Callable[[Any], dict[str, Any]]] = {
    Text: _text,
    Integer: _integer,
    Boolean: lambda fmt: {"type": "boolean"},
    Enum: lambda fmt: {"type": "string", "enum": list(fmt.choices)},
    IpAddress: lambda fmt: {"type": "string", "format": _family("ip", fmt.family)},
    Cidr: lambda fmt: {"type": "string", "format": _family("cidr", fmt.family), "minPrefix": fmt.min_prefix},
    Mac: lambda fmt: {"type": "string", "format": "mac"},
    ListOf: lambda fmt: {"type": "list", "items": format_doc(fmt.item)},
    PropertyString: _property_string,
    ArrayOf: lambda fmt: {"type": "array", "items": format_doc(fmt.item)},
}


def format_doc(fmt: Format) -> dict[str, Any]:
    """A format as JSON: its constraints and the words its error messages use."""
    for cls in type(fmt).__mro__:
        builder = _BUILDERS.get(cls)
        if builder is not None:
            return {**builder(fmt), "describe": fmt.describe()}
    return {"type": "string", "describe": fmt.describe()}


def _option(kind: Kind, spec: TypeSpec, key: str) -> dict[str, Any]:
    opt = OPTIONS[kind][key]
    out: dict[str, Any] = {
        "key": key,
        "required": key in spec.required,
        "format": format_doc(option_format(kind, spec.type, key)),
        "description": opt.description,
    }
    if opt.default is not None:
        out["default"] = opt.default
    if key in REFERENCES:
        out["ref"] = REFERENCES[key]
    return out


def _type(kind: Kind, spec: TypeSpec, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    keys = [k for k in (*spec.required, *spec.optional) if k not in skip]
    return {"description": spec.description, "options": [_option(kind, spec, k) for k in keys]}


def _param(param: Param) -> dict[str, Any]:
    fmt = param.format or param.doc_format
    out: dict[str, Any] = {"key": param.name, "required": param.required, "description": param.description}
    out["format"] = format_doc(fmt) if fmt is not None else {"type": "string", "describe": "string"}
    if param.name in REFERENCES:
        out["ref"] = REFERENCES[param.name]
    return out


def _collection(kind: Kind, path: str, ident: Param, **extra: Any) -> dict[str, Any]:
    return {
        "kind": kind.value,
        "singular": kind.singular,
        "path": path,
        "id": _param(ident),
        "versioned": kind.versioned,
        "type_param": "type",
        "parent": None,
        "types": {name: _type(kind, spec) for name, spec in TYPES[kind].items()},
        **extra,
    }


def _fabric_types(suffix: str) -> dict[str, Any]:
    specs = {n.removesuffix(suffix): s for n, s in TYPES[Kind.FABRICS].items() if n.endswith(suffix)}
    return {protocol: _type(Kind.FABRICS, spec) for protocol, spec in specs.items()}


@functools.cache
def schema_doc() -> dict[str, Any]:
    """The whole document (built once: the tables are constants)."""
    cidr = create_spec(Kind.SUBNETS).by_name["subnet"]  # a subnet is created by its CIDR
    subnet_type = TYPES[Kind.SUBNETS]["subnet"]
    collections = {
        "zones": _collection(Kind.ZONES, "/cluster/sdn/zones", id_param(Kind.ZONES)),
        "vnets": _collection(Kind.VNETS, "/cluster/sdn/vnets", id_param(Kind.VNETS), type_param=None),
        "subnets": _collection(
            Kind.SUBNETS,
            "/cluster/sdn/vnets/{vnet}/subnets",
            cidr,
            type_param=None,
            parent={"param": "vnet", "collection": "vnets"},
            types={"subnet": _type(Kind.SUBNETS, subnet_type, skip=("vnet",))},
        ),
        "controllers": _collection(Kind.CONTROLLERS, "/cluster/sdn/controllers", id_param(Kind.CONTROLLERS)),
        "ipams": _collection(Kind.IPAMS, "/cluster/sdn/ipams", id_param(Kind.IPAMS)),
        "dns": _collection(Kind.DNS, "/cluster/sdn/dns", id_param(Kind.DNS)),
        "fabrics": _collection(
            Kind.FABRICS,
            "/cluster/sdn/fabrics/fabric",
            FABRIC_ID,
            type_param="protocol",
            types=_fabric_types("_fabric"),
        ),
        "fabric-nodes": _collection(
            Kind.FABRICS,
            "/cluster/sdn/fabrics/node/{fabric_id}",
            NODE_ID,
            type_param="protocol",
            type_from_parent=True,  # a node's protocol is its fabric's
            parent={"param": "fabric_id", "collection": "fabrics"},
            types=_fabric_types("_node"),
        ),
    }
    ips = [_param(p) for p in IPS_SPEC.params if p.name != "lock-token"]
    return {"collections": collections, "ips": ips}


def _schema(call: Call) -> Any:
    return schema_doc()  # no privilege: the tables are public knowledge, like PVE's API viewer


def register(router: APIRouter) -> None:
    add(
        router,
        "GET",
        "/cluster/sdn/schema",
        _schema,
        summary="The object option tables as JSON, per collection and type (sdnkit extension).",
    )
