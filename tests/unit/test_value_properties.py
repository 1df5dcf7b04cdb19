"""Properties of every option and API parameter (issue 12 A.3), with hostile values generated.

* Every option of every object type (from the schema tables themselves): whatever the format
  accepts is printable ASCII; apart from the free-text options it is made of plain words (no
  blank, quote, comment or separator character of any consumer); and the object writes to a
  section-config file and to ``.running-config`` JSON that read back to the same object.
* Every parameter of every API endpoint: a value is either refused with a 400 naming that
  parameter, or accepted as printable ASCII (free text: printable); nothing else is raised.

Renderings (ifupdown2, FRR, dnsmasq, nftables, commands) are in ``test_render_properties.py``.
Run time is bounded by the ``values`` profile (``SDN_VALUE_EXAMPLES`` examples per property).
"""

from __future__ import annotations

import re
import tempfile
from typing import Any

import pytest
from hypothesis import given
from tests.unit.value_strategies import PROFILE, values

from sdnkit.api.app import create_app
from sdnkit.config.formats import ArrayOf, Format, PropertyValue
from sdnkit.config.schema import OPTIONS, TYPES, Kind, option_format
from sdnkit.config.section import Section, parse_section, section_from_json
from sdnkit.config.sectionconfig import format_section, parse_config
from sdnkit.errors import ConfigError

PRINTABLE = re.compile(r"[\x20-\x7e]*")
WORD = re.compile(r"[A-Za-z0-9_.:/+-]+")  # nothing any consumer reads specially
FREE_TEXT = {
    (Kind.VNETS, "alias"),
    (Kind.IPAMS, "url"),
    (Kind.IPAMS, "token"),
    (Kind.DNS, "url"),
    (Kind.DNS, "key"),
}

# the required options of each type, with valid values, and an ID for each kind
REQUIRED: dict[tuple[Kind, str], dict[str, Any]] = {
    (Kind.ZONES, "vlan"): {"bridge": "vmbr0"},
    (Kind.ZONES, "qinq"): {"bridge": "vmbr0", "tag": 10},
    (Kind.ZONES, "evpn"): {"controller": "ctl", "vrf-vxlan": 1000},
    (Kind.VNETS, "vnet"): {"zone": "z1"},
    (Kind.SUBNETS, "subnet"): {"vnet": "v1"},
    (Kind.CONTROLLERS, "evpn"): {"asn": 65000},
    (Kind.CONTROLLERS, "bgp"): {"asn": 65000, "node": "n1", "peers": "192.0.2.1"},
    (Kind.CONTROLLERS, "isis"): {
        "isis-domain": "d",
        "isis-ifaces": "eth0",
        "isis-net": "49.0001.1921.6800.1001.00",
        "node": "n1",
    },
    (Kind.IPAMS, "netbox"): {"token": "t", "url": "http://nb/api"},
    (Kind.IPAMS, "phpipam"): {"section": 1, "token": "t", "url": "http://php/api"},
    (Kind.DNS, "powerdns"): {"key": "k", "url": "http://pdns/api/v1/servers/localhost"},
    (Kind.FABRICS, "ospf_fabric"): {"area": "0", "ip_prefix": "10.9.0.0/24"},
    (Kind.FABRICS, "ospf_node"): {"ip": "10.9.0.1"},
}
IDS = {Kind.SUBNETS: "z1-10.0.0.0-24", Kind.FABRICS: "f1"}
NODE_IDS = {"openfabric_node": "f1_n1", "ospf_node": "f1_n1"}


def _options() -> list[tuple[Kind, str, str]]:
    """Every (kind, type, key) with a distinct format: every option of every object type."""
    seen: set[tuple[Kind, str, int]] = set()
    out = []
    for kind, types in TYPES.items():
        for type_, spec in types.items():
            for key in spec.options:
                mark = (kind, key, id(option_format(kind, type_, key)))
                if mark not in seen:
                    seen.add(mark)
                    out.append((kind, type_, key))
    return out


OPTION_CASES = _options()


def _atoms(value: Any) -> list[str]:
    """The canonical value as the words it is written as (lists and property strings split)."""
    if isinstance(value, PropertyValue):
        return [str(v) for v in value.values()]
    if isinstance(value, tuple):
        return [a for item in value for a in _atoms(item)]
    return [str(value)]


def _texts(fmt: Format, value: Any) -> list[str]:
    return [v.text() for v in value] if isinstance(fmt, ArrayOf) else [fmt.text(value)]


def test_every_option_of_every_type_is_covered() -> None:
    keys = {(k, key) for k, _, key in OPTION_CASES}
    assert keys == {(kind, key) for kind in OPTIONS for key in OPTIONS[kind]}


@pytest.mark.parametrize(("kind", "type_", "key"), OPTION_CASES, ids=str)
def test_accepted_values_are_plain_and_read_back_from_files(kind: Kind, type_: str, key: str) -> None:
    fmt = option_format(kind, type_, key)

    @PROFILE
    @given(raw=values(fmt))
    def check(raw: Any) -> None:
        try:
            value = fmt.parse(raw)
        except ValueError as err:
            assert str(err)  # a refusal says why
            return
        for text in _texts(fmt, value):
            assert PRINTABLE.fullmatch(text), (key, text)
        if (kind, key) not in FREE_TEXT:
            for atom in _atoms(value):
                assert WORD.fullmatch(atom), (key, atom)
        _round_trip(kind, type_, key, raw)

    check()


def _round_trip(kind: Kind, type_: str, key: str, raw: Any) -> None:
    options = {**REQUIRED.get((kind, type_), {}), key: raw}
    id_ = NODE_IDS.get(type_) or IDS.get(kind) or "x1"
    section = parse_section(kind, type_, id_, options)
    text = format_section(section)
    assert parse_config(kind, text).sections[id_] == section
    assert section_from_json(kind, id_, section.to_json()) == section
    assert isinstance(section, Section)


# API parameters ---------------------------------------------------------------------------------


def _routes(routes: Any) -> Any:
    for route in routes:
        if hasattr(route, "endpoint"):
            yield route
        router = getattr(route, "original_router", None)  # FastAPI's included router
        if router is not None:
            yield from _routes(router.routes)


def _endpoint_params() -> list[tuple[str, str, Any]]:
    """Every parameter of every endpoint: (route, name, (query/body or path, spec, param))."""
    with tempfile.TemporaryDirectory(prefix="values-api-") as config_dir:
        app = create_app(config_dir)
    out = []
    for route in _routes(app.routes):
        declared = getattr(route.endpoint, "declared", None)
        if declared is None:
            continue
        where = f"{declared.method} {declared.path}"
        out += [(where, param.name, ("body", declared.spec, param)) for param in declared.spec.params]
        out += [(where, name, ("path", None, param)) for name, param in declared.path_params.items()]
    return out


def _distinct(params: list[tuple[str, str, Any]]) -> list[tuple[str, str, Any]]:
    """One case per parameter name and format (most repeat on list, get, create and update).

    Parameters without a format are object options, parsed by the service from the same
    format as the option tests above check."""
    seen: dict[tuple[str, str, int, bool], tuple[str, str, Any]] = {}
    for route, name, (part, spec, param) in params:
        if param.format is not None:
            seen.setdefault((part, name, id(param.format), param.array), (route, name, (part, spec, param)))
    return list(seen.values())


API_PARAMS = _endpoint_params()
API_CASES = _distinct(API_PARAMS)
FREE_PARAMS = {"password", "username", "otp", "alias", "url", "token", "key"}


def test_every_endpoint_declares_its_parameters() -> None:
    assert len({route for route, _, _ in API_PARAMS}) > 40
    assert ("POST /cluster/sdn/vnets", "alias") in {(r, n) for r, n, _ in API_PARAMS}


@pytest.mark.parametrize(("route", "name", "where"), API_CASES, ids=lambda x: x if isinstance(x, str) else "")
def test_api_parameters_refuse_naming_themselves_or_accept_plain_text(
    route: str, name: str, where: Any
) -> None:
    part, spec, param = where
    strategy = values(param.format)

    @PROFILE
    @given(raw=strategy)
    def check(raw: Any) -> None:
        if part == "path":
            try:
                value = param.format.parse(raw) if param.format else raw
            except ValueError:
                return
        else:
            try:
                value, refused = param.parse_value([raw]), False
            except ValueError:
                value, refused = None, True
            try:
                spec.parse({name: [raw]})
            except ConfigError as err:  # also names the other required parameters, missing here
                assert (name in err.errors) == refused, err.errors  # the 400 names the parameter
            else:
                assert not refused
            if refused:
                return
        texts = [str(v) for v in (value if isinstance(value, tuple) else [value])]
        for text in texts:
            if name in FREE_PARAMS:
                assert text.isprintable(), (name, text)
            else:
                assert PRINTABLE.fullmatch(text), (name, text)

    check()
