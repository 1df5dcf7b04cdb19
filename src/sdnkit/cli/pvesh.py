"""``sdn pvesh get|create|set|delete PATH [-option value]...``: pvesh's syntax for ``/cluster/sdn/...``.

So that PVE documentation and scripts work with ``sdn pvesh`` in place of ``pvesh``::

    sdn pvesh create /cluster/sdn/zones -zone simple -type simple -ipam pve
    sdn pvesh set /cluster/sdn/vnets/vnet0/subnets/simple-10.0.1.0-24 \\
        -dhcp-range start-address=10.0.1.100,end-address=10.0.1.200 \\
        -dhcp-range start-address=10.0.1.210,end-address=10.0.1.220
    sdn pvesh set /cluster/sdn            # apply
    sdn pvesh get /cluster/sdn/zones --output-format json

Options are ``-key value``, ``--key value``, ``-key=value`` or ``--key=value``; a repeated key gives
a list (``dhcp-range``); a key without a value means 1 (pvesh booleans). ``--output-format`` is
``text`` (default), ``json``, ``json-pretty`` or ``yaml``; ``--noproxy`` and ``--quiet`` are accepted.

Paths dispatch through ``ROUTES``; a path no route knows (``/nodes/...``, ``/access/...``,
``/cluster/resources``) goes through the REST API in this process, as root (``cli/pvesh_api.py``).
Another part adds its paths (``/nodes/{node}/sdn/...``,
``/cluster/sdn/vnets/{vnet}/ips``, ``/cluster/sdn/ipams/{ipam}/status``) by listing a module in
``ROUTE_MODULES``; that module defines ``register_routes(add)`` and calls
``add(method, "/path/{param}/...", handler)`` with ``handler(service, params) -> result`` (path
parameters are merged into ``params``; the result is printed in the requested format).
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sdnkit.cli.output import emit_table, say
from sdnkit.cli.pvesh_api import ApiAnswer, call_api
from sdnkit.errors import ConfigError, NotFoundError
from sdnkit.service import Collection, SdnService

__all__ = ["ROUTES", "ROUTE_MODULES", "Handler", "add_route", "parse_options", "register"]

Handler = Callable[[SdnService, dict[str, Any]], Any]

# modules that add their own paths with register_routes(add_route)
ROUTE_MODULES: tuple[str, ...] = ("sdnkit.service.ipam", "sdnkit.service.vnet_firewall")

METHODS = {"get": "GET", "create": "POST", "set": "PUT", "delete": "DELETE"}
FORMATS = ("text", "json", "json-pretty", "yaml")
IGNORED = ("noproxy", "quiet", "human-readable")


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler


ROUTES: list[Route] = []


def add_route(method: str, template: str, handler: Handler) -> None:
    """Register ``handler`` for ``method`` (GET/POST/PUT/DELETE) on a path like ``/a/{b}/c``."""
    regex = re.sub(r"\\\{([a-z_]+)\\\}", r"(?P<\1>[^/]+)", re.escape(template.rstrip("/")))
    ROUTES.append(Route(method.upper(), template, re.compile(f"{regex}/?"), handler))


def _known(path: str) -> bool:
    path = "/" + path.strip("/")
    return any(route.pattern.fullmatch(path) for route in ROUTES)


def _find(method: str, path: str) -> tuple[Handler, dict[str, str]]:
    path = "/" + path.strip("/")
    known = False
    for route in ROUTES:
        match = route.pattern.fullmatch(path)
        if match:
            known = True
            if route.method == method:
                return route.handler, match.groupdict()
    verb = {v: k for k, v in METHODS.items()}[method]
    problem = f"no '{verb}' handler for '{path}'" if known else f"no such path '{path}'"
    raise NotFoundError(problem, key="path", value=path)


def _is_option(token: str) -> bool:
    return bool(re.match(r"--?[A-Za-z]", token))


def parse_options(tokens: Sequence[str]) -> tuple[dict[str, Any], str]:
    """pvesh's ``-key value`` arguments → (params, output format); repeated keys become lists."""
    params: dict[str, Any] = {}
    fmt = "text"
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not _is_option(token):
            raise ConfigError(f"unexpected argument {token!r} (options are -key value)", key=token)
        name, eq, value = token.lstrip("-").partition("=")
        if eq:
            i += 1
        elif i + 1 < len(tokens) and not _is_option(tokens[i + 1]):
            value, i = tokens[i + 1], i + 2
        else:
            value, i = "1", i + 1
        if name == "output-format":
            if value not in FORMATS:
                raise ConfigError(f"--output-format must be one of {', '.join(FORMATS)}", key=name)
            fmt = value
        elif name not in IGNORED:
            old = params.get(name)
            params[name] = value if old is None else [*old, value] if isinstance(old, list) else [old, value]
    return params, fmt


# /cluster/sdn -------------------------------------------------------------------------------------


def _collection(prefix: str, collection: Collection, id_param: str) -> None:
    item = f"{prefix}/{{{id_param}}}"
    add_route("GET", prefix, lambda s, p: s.list(collection, p))
    add_route("POST", prefix, lambda s, p: s.create(collection, p))
    add_route("GET", item, lambda s, p: s.get(collection, p))
    add_route("PUT", item, lambda s, p: s.update(collection, p))
    add_route("DELETE", item, lambda s, p: s.delete(collection, p))


def _fabrics_all(s: SdnService, p: dict[str, Any]) -> dict[str, Any]:
    return {"fabrics": s.list(Collection.FABRICS, dict(p)), "nodes": s.list(Collection.FABRIC_NODES, dict(p))}


def _sdn_routes() -> None:
    add_route("GET", "/cluster/sdn", lambda s, p: s.index())
    add_route("PUT", "/cluster/sdn", lambda s, p: s.apply(p))
    add_route("POST", "/cluster/sdn/lock", lambda s, p: s.lock(p))
    add_route("DELETE", "/cluster/sdn/lock", lambda s, p: s.unlock(p))
    add_route("POST", "/cluster/sdn/rollback", lambda s, p: s.rollback(p))
    add_route("GET", "/cluster/sdn/dry-run", lambda s, p: s.dry_run(p))
    _collection("/cluster/sdn/zones", Collection.ZONES, "zone")
    _collection("/cluster/sdn/vnets", Collection.VNETS, "vnet")
    _collection("/cluster/sdn/vnets/{vnet}/subnets", Collection.SUBNETS, "subnet")
    _collection("/cluster/sdn/controllers", Collection.CONTROLLERS, "controller")
    _collection("/cluster/sdn/ipams", Collection.IPAMS, "ipam")
    _collection("/cluster/sdn/dns", Collection.DNS, "dns")
    add_route("GET", "/cluster/sdn/fabrics", lambda s, p: [{"subdir": d} for d in ("fabric", "node", "all")])
    add_route("GET", "/cluster/sdn/fabrics/all", _fabrics_all)
    _collection("/cluster/sdn/fabrics/fabric", Collection.FABRICS, "id")
    add_route("GET", "/cluster/sdn/fabrics/node", lambda s, p: s.list(Collection.FABRIC_NODES, p))
    _collection("/cluster/sdn/fabrics/node/{fabric_id}", Collection.FABRIC_NODES, "node_id")


def _load_routes() -> None:
    if ROUTES:
        return
    _sdn_routes()
    for name in ROUTE_MODULES:
        importlib.import_module(name).register_routes(add_route)


# output ------------------------------------------------------------------------------------------


def _yaml_scalar(value: Any) -> str:
    if value is None:
        return "~"
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    text = str(value)
    plain = re.fullmatch(r"[A-Za-z0-9_./@+-][A-Za-z0-9_./@+:, -]*", text) and not text.endswith(" ")
    # strings that YAML would read as something else (numbers, booleans, null) are quoted
    other = re.fullmatch(r"[-+]?[0-9][0-9_.]*|true|false|yes|no|on|off|null|~", text, re.IGNORECASE)
    return text if plain and not other else json.dumps(text)


def _yaml(value: Any, indent: int = 0) -> list[str]:
    pad = " " * indent
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            name = _yaml_scalar(str(key))
            if isinstance(item, dict | list) and item:
                lines += [f"{pad}{name}:", *_yaml(item, indent + 2)]
            else:
                shown = json.dumps(item) if item in ({}, []) else _yaml_scalar(item)
                lines.append(f"{pad}{name}: {shown}")
        return lines
    if isinstance(value, list):
        lines = []
        for item in value:
            sub = _yaml(item, indent + 2)
            lines.append(f"{pad}- {sub[0].lstrip()}")
            lines += sub[1:]
        return lines
    return [f"{pad}{_yaml_scalar(value)}"]


def _print(data: Any, fmt: str) -> None:
    if data is None:
        return
    if fmt == "json":
        print(json.dumps(data, separators=(",", ":")))
    elif fmt == "json-pretty":
        print(json.dumps(data, indent=4, sort_keys=True))
    elif fmt == "yaml":
        print("\n".join(["---", *_yaml(data)]))
    elif isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        columns = sorted({k for row in data for k in row})
        emit_table(data, columns)
    elif isinstance(data, dict):
        emit_table([{"key": k, "value": v} for k, v in sorted(data.items())], ["key", "value"])
    elif not isinstance(data, list):
        say(data)


def _run(args: argparse.Namespace) -> int:
    _load_routes()
    params, fmt = parse_options(args.options)
    if args.output == "json" and fmt == "text":
        fmt = "json-pretty"
    try:
        if _known(args.path):
            handler, path_params = _find(METHODS[args.method], args.path)
            result = handler(SdnService(args.config_dir), {**params, **path_params})
        else:
            result = call_api(args.config_dir, METHODS[args.method], args.path, params)
    except ConfigError as err:
        # pvesh prints parameter errors like this, one "key: message" line each
        lines = [f"{k}: {v}" for k, v in err.errors.items()] or [err.message]
        for line in ["400 Parameter verification failed.", *lines]:
            say(line, sys.stderr)
        return 2
    except ApiAnswer as err:
        for line in [f"{err.status} {err.message}", *(f"{k}: {v}" for k, v in err.errors.items())]:
            say(line, sys.stderr)
        return 2 if err.status < 500 else 1
    _print(result, fmt)
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "pvesh",
        help="PVE's pvesh syntax for the API's paths (/cluster/sdn/..., /nodes/..., /access/...)",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("method", choices=tuple(METHODS), help="get, create (POST), set (PUT), delete")
    parser.add_argument("path", help="API path, e.g. /cluster/sdn/zones")
    parser.add_argument("options", nargs=argparse.REMAINDER, help="-key value ... [--output-format F]")
    parser.set_defaults(func=_run)
