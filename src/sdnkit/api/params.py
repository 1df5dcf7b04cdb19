"""Request parameters: generated from the option tables of ``config/schema.py``.

Every endpoint declares a ``ParamSpec``. The same spec parses the request (query string, form
body or JSON body, merged as PVE merges them) and writes the endpoint's OpenAPI parameters, so
the API and its documentation read the same option tables as the CLI and the validation, and
none of them can disagree.

Parsing follows PVE's rules: unknown parameters are refused, booleans are ``0/1`` (``true/false``
too), a parameter given twice is an array (only ``dhcp-range`` and ``interfaces`` may be), and
every problem is reported per parameter with PVE's wording where PVE has one. Object options
(``mtu``, ``peers``, ...) are checked by name here and by value in the service layer, whose
messages name the object (``zone "z1": invalid value for "mtu": ...``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sdnkit.config.formats import ArrayOf, Boolean, Cidr, Enum, Format, IpAddress, Mac, Text
from sdnkit.config.schema import ID_FORMATS, OPTIONS, SINGLE_TYPE, TYPES, Kind
from sdnkit.errors import ConfigError

__all__ = [
    "BOOL",
    "DELETE",
    "DIGEST",
    "IPS_SPEC",
    "LOCK_TOKEN",
    "NODE",
    "PENDING",
    "RUNNING",
    "Param",
    "ParamSpec",
    "create_spec",
    "delete_spec",
    "get_spec",
    "id_param",
    "list_spec",
    "option_params",
    "type_options",
    "update_spec",
    "without_path",
]

DUPLICATE = "duplicate parameter (already defined in URI) with conflicting values!"
UNKNOWN = "property is not defined in schema and the schema does not allow additional properties"
MISSING = "property is missing and it is not optional"

RawParams = Mapping[str, list[Any]]


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    description: str
    format: Format | None = None  # None: an object option, checked by the service layer
    required: bool = False
    array: bool = False
    doc_format: Format | None = None  # format shown in OpenAPI when ``format`` is None

    def json_schema(self) -> dict[str, Any]:
        fmt = self.format or self.doc_format
        item = fmt.json_schema() if fmt is not None else {"type": "string"}
        if isinstance(fmt, ArrayOf):
            return {"type": "array", "items": {"type": "string"}}
        if isinstance(fmt, Boolean):
            # PVE clients send 0/1; JSON clients true/false
            return {"oneOf": [{"type": "boolean"}, {"type": "integer", "enum": [0, 1]}]}
        if self.array:  # a repeated scalar (``ip=...&ip=...``, or a JSON list of them)
            return {"type": "array", "items": item}
        return item

    def parse_value(self, values: list[Any]) -> Any:
        if self.array:
            flat = [v for value in values for v in (value if isinstance(value, list) else [value])]
            if isinstance(self.format, ArrayOf):
                return self.format.parse(flat)
            if self.format is not None:  # a repeated scalar: each element is one value
                return [self.format.parse(v) for v in flat]
            return flat
        if len(values) != 1:
            raise ValueError(f"given {len(values)} times; only one value is allowed")
        value = values[0]
        # a JSON list is a single value of a list option (nodes, peers), nothing else
        nested = isinstance(value, dict) or (isinstance(value, list) and self.format is not None)
        if nested:
            raise ValueError(f"expected a single value, got {type(value).__name__}")
        return self.format.parse(value) if self.format is not None else value


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """The parameters one endpoint accepts (path parameters are declared separately)."""

    params: tuple[Param, ...] = ()
    by_name: dict[str, Param] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {p.name: p for p in self.params})

    def parse(self, raw: RawParams) -> dict[str, Any]:
        """Validated values by name; a ``ConfigError`` carries every problem found."""
        errors: dict[str, str] = {}
        values: dict[str, Any] = {}
        for name, given in raw.items():
            param = self.by_name.get(name)
            if param is None:
                errors[name] = UNKNOWN
                continue
            try:
                values[name] = param.parse_value(list(given))
            except ValueError as err:
                errors[name] = f"invalid value: {err}"
        for param in self.params:
            if param.required and param.name not in raw and param.name not in errors:
                errors[param.name] = MISSING
        if errors:
            raise ConfigError("Parameter verification failed.", key=next(iter(errors)), errors=errors)
        return values

    def openapi_query(self) -> list[dict[str, Any]]:
        return [
            {
                "name": p.name,
                "in": "query",
                "required": p.required,
                "description": p.description,
                "schema": p.json_schema(),
                **({"style": "form", "explode": True} if p.array else {}),
            }
            for p in self.params
        ]

    def openapi_body(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {p.name: {**p.json_schema(), "description": p.description} for p in self.params},
            "additionalProperties": False,
        }
        required = [p.name for p in self.params if p.required]
        if required:
            schema["required"] = required
        # a JSON null is the parameter left out (``api/endpoint.py``): published as such
        nullable = {
            name: prop if name in required else {"anyOf": [prop, {"type": "null"}]}
            for name, prop in schema["properties"].items()
        }
        content = {
            "application/x-www-form-urlencoded": {"schema": schema},
            "application/json": {"schema": {**schema, "properties": nullable}},
        }
        return {"required": bool(required), "content": content}


def without_path(raw: RawParams, path: Mapping[str, str]) -> dict[str, list[Any]]:
    """``raw`` less the parameters the URI already defines (PVE ``rest_handler``).

    A client may repeat a path parameter in the query string or the body (``PUT
    /cluster/sdn/vnets/v1`` with ``vnet=v1``, as Ansible's ``proxmox_vnet`` does): PVE merges it
    when it equals the path's value and refuses it when it differs.
    """
    errors = {
        name: DUPLICATE
        for name, given in raw.items()
        if name in path and any(_text(v) != path[name] for v in given)
    }
    if errors:
        raise ConfigError("Parameter verification failed.", key=next(iter(errors)), errors=errors)
    return {name: list(given) for name, given in raw.items() if name not in path}


def _text(value: Any) -> str:
    """A JSON body's scalar as the form text it stands for (PVE compares strings)."""
    if isinstance(value, bool):
        return str(int(value))
    return str(value)


# Shared parameters -------------------------------------------------------------------------

BOOL = Boolean()
LOCK_TOKEN = Param(
    "lock-token",
    "The token of the global SDN lock (POST /cluster/sdn/lock), when it is held.",
    Text(r"[\x21-\x7e]+", 128, "lock token (printable ASCII)"),
)
DIGEST = Param(
    "digest",
    "Refuse the change if the configuration changed since it was read (the digest of that read).",
    Text(r"[0-9a-fA-F]+", 64, "digest"),
)
RUNNING = Param("running", "Show the running (applied) configuration.", BOOL)
PENDING = Param("pending", "Show pending changes against the running configuration.", BOOL)
DELETE = Param(
    "delete",
    "A list of options to remove, comma separated.",
    Text(r"[a-z][a-z0-9_-]*([,;\s]+[a-z][a-z0-9_-]*)*", 4096, "list of option names"),
)
NODE = Param(
    "node", "The cluster node name.", Text(r"[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?", 63, "node name")
)


def id_param(kind: Kind) -> Param:
    """The ID of an object, as a path or create parameter."""
    if kind is Kind.SUBNETS:
        return Param(
            "subnet",
            "The subnet ID <zone>-<address>-<prefix length>.",
            Text(r"[A-Za-z0-9.:_-]+", 64, "subnet ID"),
        )
    return Param(
        kind.singular, f"The SDN {kind.singular} object identifier.", ID_FORMATS[kind], required=True
    )


def type_param(kind: Kind, *, required: bool) -> Param:
    types = tuple(TYPES[kind])
    return Param(
        "type", f"The {kind.singular} type.", Enum(types), required=required and kind not in SINGLE_TYPE
    )


def option_params(kind: Kind, keys: Iterable[str] | None = None) -> tuple[Param, ...]:
    """Object options as parameters (all of the kind's, or only ``keys``)."""
    wanted = set(keys) if keys is not None else set(OPTIONS[kind])
    return tuple(
        Param(opt.key, opt.description, array=isinstance(opt.format, ArrayOf), doc_format=opt.format)
        for opt in OPTIONS[kind].values()
        if opt.key in wanted
    )


def type_options(kind: Kind, suffix: str) -> tuple[str, ...]:
    """The options of the types of ``kind`` whose name ends with ``suffix`` (fabric vs node)."""
    keys = {k for name, spec in TYPES[kind].items() if name.endswith(suffix) for k in spec.options}
    return tuple(k for k in OPTIONS[kind] if k in keys)


def list_spec(kind: Kind) -> ParamSpec:
    extra: tuple[Param, ...] = ()
    if kind not in SINGLE_TYPE and kind is not Kind.FABRICS:
        extra = (Param("type", f"Only list {kind.value} of this type.", Enum(tuple(TYPES[kind]))),)
    if kind.versioned:
        extra += (RUNNING, PENDING)
    return ParamSpec(extra)


def get_spec(kind: Kind) -> ParamSpec:
    return ParamSpec((RUNNING, PENDING) if kind.versioned else ())


def create_spec(kind: Kind) -> ParamSpec:
    """POST: the ID, the type and every option of every type (PVE's ``createSchema``)."""
    options = option_params(kind)  # a subnet's "vnet" is optional and must match the path
    if kind is Kind.SUBNETS:
        ident = Param("subnet", "The subnet, a CIDR (e.g. 10.0.1.0/24).", Cidr(min_prefix=8), required=True)
    else:
        ident = id_param(kind)
    if kind is Kind.VNETS:
        options = tuple(
            Param(p.name, p.description, required=True, doc_format=p.doc_format) if p.name == "zone" else p
            for p in options
        )
    return ParamSpec((ident, type_param(kind, required=True), *options, LOCK_TOKEN))


def update_spec(kind: Kind) -> ParamSpec:
    """PUT: every option, plus ``delete``, ``digest`` and ``lock-token`` (PVE's ``updateSchema``)."""
    return ParamSpec((*option_params(kind), DELETE, DIGEST, LOCK_TOKEN))


def delete_spec() -> ParamSpec:
    return ParamSpec((LOCK_TOKEN,))


IPS_SPEC = ParamSpec(
    (
        Param("zone", "The SDN zone object identifier.", ID_FORMATS[Kind.ZONES], required=True),
        Param("ip", "The IP address to associate with the given MAC address.", IpAddress(), required=True),
        Param("mac", "Unicast MAC address.", Mac()),
        Param("vmid", "The (unique) ID of the VM.", Text(r"[1-9][0-9]{2,8}", 9, "VM ID 100-999999999")),
        LOCK_TOKEN,
    )
)
