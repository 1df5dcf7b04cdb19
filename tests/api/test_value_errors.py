"""Hostile values through the REST API: 400 with ``errors`` by parameter, nothing written.

Every class of issue 12 A is sent as PVE clients send it (form data) and as JSON; a JSON body
nested thousands of levels deep, or holding a lone surrogate, is a 400 naming the body too, not
a 500. Each refusal is paired with the accepted value next to it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.api.conftest import Server

pytestmark = pytest.mark.api


def files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".log") and "tls" not in p.parts
    }


@pytest.fixture(scope="module")
def base(server: Server) -> Server:
    server.root("POST", "/cluster/sdn/zones", data={"zone": "hz", "type": "simple", "ipam": "pve"})
    server.root("POST", "/cluster/sdn/vnets", data={"vnet": "hv1", "zone": "hz"})
    return server


# (path, parameters, refused field, the object the message names, the accepted value of the field)
CASES: list[tuple[str, dict[str, Any], str, str, Any]] = [
    ("/cluster/sdn/vnets", {"vnet": "hv2", "zone": "hz", "alias": "net\\"}, "alias", 'vnet "hv2"', "net"),
    ("/cluster/sdn/vnets", {"vnet": "hv2", "zone": "hz", "alias": "a\u2028b"}, "alias", 'vnet "hv2"', "a b"),
    ("/cluster/sdn/vnets", {"vnet": "hv2", "zone": "hz", "alias": "a\x85b"}, "alias", 'vnet "hv2"', "a b"),
    ("/cluster/sdn/vnets", {"vnet": "hv2", "zone": "hz", "alias": "\u202eab"}, "alias", 'vnet "hv2"', "ab"),
    (
        "/cluster/sdn/vnets",
        {"vnet": "hv2", "zone": "hz", "alias": "${IFACE}"},
        "alias",
        'vnet "hv2"',
        "IFACE",
    ),
    ("/cluster/sdn/vnets", {"vnet": "hv2", "zone": "hz", "alias": "<% x %>"}, "alias", 'vnet "hv2"', "<x>"),
    (
        "/cluster/sdn/zones",
        {"zone": "hx", "type": "vxlan", "peers": "fe80::1%eth0"},
        "peers",
        'zone "hx"',
        "fe80::1",
    ),
    (
        "/cluster/sdn/zones",
        {"zone": "hx", "type": "simple", "mtu": "\u0661\u0664\u0665\u0660"},
        "mtu",
        'zone "hx"',
        "1450",
    ),
    (
        "/cluster/sdn/vnets/hv1/subnets",
        {"subnet": "10.7.0.0/24", "type": "subnet", "gateway": "10.7.0.1%x"},
        "gateway",
        'subnet "hz-10.7.0.0-24"',
        "10.7.0.1",
    ),
    (
        "/cluster/sdn/fabrics/fabric",
        {"id": "hf", "protocol": "ospf", "ip_prefix": "172.30.0.0/24", "area": "\u0660"},
        "area",
        'fabric "hf"',
        "0",
    ),
]


@pytest.mark.parametrize("encoding", ["form", "json"])
@pytest.mark.parametrize(
    ("path", "params", "field", "label", "good"), CASES, ids=[c[2] + str(i) for i, c in enumerate(CASES)]
)
def test_hostile_values_get_a_400_naming_the_field_and_change_nothing(
    base: Server, encoding: str, path: str, params: dict[str, Any], field: str, label: str, good: Any
) -> None:
    before = files(base.config_dir)
    body = {"data": params} if encoding == "form" else {"json": params}
    resp = base.call("POST", path, base.root_token, **body)
    assert resp.status_code == 400, resp.text
    errors = resp.json()["errors"]
    assert f'{label}: invalid value for "{field}"' in errors[field]
    assert files(base.config_dir) == before
    accepted = {**params, field: good}
    base.root("POST", path, **({"data": accepted} if encoding == "form" else {"json": accepted}))
    assert files(base.config_dir) != before
    ident = next(k for k in ("vnet", "zone", "subnet", "id") if k in params and k != field)
    name = params[ident] if ident != "subnet" else label.split('"')[1]
    base.root("DELETE", f"{path}/{name}")


def test_a_deeply_nested_json_body_is_a_400(base: Server) -> None:
    deep = "[" * 30000 + "]" * 30000
    resp = base.call(
        "POST",
        "/cluster/sdn/vnets",
        base.root_token,
        data=f'{{"vnet": "hv3", "zone": "hz", "alias": {deep}}}',
        headers={"Content-Type": "application/json"},
    )
    assert resp.status_code == 400, resp.text
    assert "nested 30001 levels deep" in resp.json()["errors"]["body"]
    shallow = json.dumps({"vnet": "hv3", "zone": "hz", "alias": "x"})
    ok = base.call(
        "POST",
        "/cluster/sdn/vnets",
        base.root_token,
        data=shallow,
        headers={"Content-Type": "application/json"},
    )
    assert ok.status_code == 200, ok.text
    base.root("DELETE", "/cluster/sdn/vnets/hv3")


def test_a_lone_surrogate_in_json_is_a_400(base: Server) -> None:
    raw = '{"vnet": "hv4", "zone": "hz", "alias": "a\\ud800b"}'
    resp = base.call(
        "POST", "/cluster/sdn/vnets", base.root_token, data=raw, headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 400, resp.text
    assert "U+D800" in resp.json()["errors"]["alias"]
