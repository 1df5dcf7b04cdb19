"""What the web UI needs from the server: its files at ``/``, the schema document, the guest ports, log out.

The files are served beside the API without changing how the API answers unknown paths and
methods; the schema document carries every option of ``config/schema.py`` (so a new option
reaches the forms with no UI change); the ports listing is filtered by ACL like every listing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from sdnkit.config.schema import TYPES, Kind
from sdnkit.service.port_registry import Port, read_ports, write_ports
from sdnkit.store import open_store

if TYPE_CHECKING:
    from tests.api.conftest import Server

pytestmark = pytest.mark.api

SDN = str(Path(sys.executable).with_name("sdn"))


def _root(server: Server) -> str:
    return server.url.removesuffix("/api2/json")


def _get(server: Server, path: str) -> requests.Response:
    return requests.get(f"{_root(server)}{path}", verify=server.cafile, timeout=30)


def test_the_ui_is_served_at_the_root_with_a_strict_policy(server: Server) -> None:
    page = _get(server, "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="js/app.js">' in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe" not in csp
    script = _get(server, "/js/app.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    vendored = _get(server, "/vendor/preact.js")
    assert vendored.status_code == 200 and "createElement" in vendored.text


@pytest.mark.parametrize("path", ["/nosuch.js", "/../pyproject.toml", "/js/../../api/app.py", "/vendor/"])
def test_nothing_outside_the_ui_files_is_served(server: Server, path: str) -> None:
    resp = requests.get(f"{_root(server)}{path}", verify=server.cafile, timeout=30)
    assert resp.status_code == 404, path


def test_api_answers_for_unknown_paths_and_methods_are_unchanged(server: Server) -> None:
    unknown = server.call("GET", "/cluster/sdn/nosuch", server.root_token)
    assert unknown.status_code == 404
    assert unknown.json()["message"] == "Method 'GET /api2/json/cluster/sdn/nosuch' not implemented\n"
    wrong_method = server.call("PATCH", "/cluster/sdn/zones", server.root_token)
    assert wrong_method.status_code == 405
    assert server.call("GET", "/cluster/sdn/zones", server.root_token).status_code == 200


def test_schema_needs_credentials_and_lists_every_option_of_every_type(server: Server) -> None:
    assert server.call("GET", "/cluster/sdn/schema").status_code == 401
    auditor = server.token({"/sdn/zones/nosuch": "PVEAuditor"})  # any valid caller may read it
    doc = server.call("GET", "/cluster/sdn/schema", auditor).json()["data"]
    colls = doc["collections"]
    for name, kind in (("zones", Kind.ZONES), ("controllers", Kind.CONTROLLERS), ("ipams", Kind.IPAMS)):
        for type_, spec in TYPES[kind].items():
            listed = colls[name]["types"][type_]["options"]
            assert [o["key"] for o in listed] == [*spec.required, *spec.optional], (name, type_)
            assert {o["key"] for o in listed if o["required"]} == set(spec.required)
    fabric_types = colls["fabrics"]["types"]
    assert set(fabric_types) == {"openfabric", "ospf"} and colls["fabrics"]["type_param"] == "protocol"
    assert colls["fabric-nodes"]["parent"] == {"param": "fabric_id", "collection": "fabrics"}


def test_schema_formats_carry_what_a_form_needs(server: Server) -> None:
    doc = server.root("GET", "/cluster/sdn/schema")
    zones = {o["key"]: o for o in doc["collections"]["zones"]["types"]["simple"]["options"]}
    assert zones["mtu"]["format"] == {
        "type": "integer",
        "minimum": 68,
        "maximum": 65535,
        "describe": "integer 68-65535",
    }
    assert zones["dhcp"]["format"]["enum"] == ["dnsmasq"]
    assert zones["ipam"]["ref"] == "ipams" and zones["ipam"]["default"] == "pve"
    assert zones["nodes"]["format"]["type"] == "list" and zones["nodes"]["ref"] == "nodes"
    subnets = doc["collections"]["subnets"]
    assert subnets["parent"] == {"param": "vnet", "collection": "vnets"} and subnets["id"]["key"] == "subnet"
    ranges = {o["key"]: o for o in subnets["types"]["subnet"]["options"]}["dhcp-range"]["format"]
    assert ranges["type"] == "array"
    assert [(p["key"], p["required"]) for p in ranges["items"]["properties"]] == [
        ("start-address", True),
        ("end-address", True),
    ]
    assert [p["key"] for p in doc["ips"]] == ["zone", "ip", "mac", "vmid"]


def test_ports_are_listed_only_where_the_caller_may_audit_the_zone(server: Server) -> None:
    registry = open_store(str(server.config_dir))  # `sdn port add` writes ports through this registry
    ports, revision = read_ports(registry)
    mine = {
        "uizoneA/100/02:00:00:00:00:01": Port(
            vnet="uivnetA",
            zone="uizoneA",
            guest="100",
            mac="02:00:00:00:00:01",
            node="node1",
            ips=("10.9.0.5",),
        ),
        "uizoneB/101/02:00:00:00:00:02": Port(
            vnet="uivnetB", zone="uizoneB", guest="101", mac="02:00:00:00:00:02", node="node2"
        ),
    }
    write_ports(registry, {**ports, **mine}, revision)
    root_view = {(p["zone"], p["guest"]) for p in server.root("GET", "/cluster/sdn/ports")}
    assert {("uizoneA", "100"), ("uizoneB", "101")} <= root_view
    token = server.token({"/sdn/zones/uizoneA": "PVEAuditor"})
    seen = server.call("GET", "/cluster/sdn/ports", token).json()["data"]
    assert [(p["zone"], p["guest"], p["ips"]) for p in seen] == [("uizoneA", "100", ["10.9.0.5"])]
    assert server.call("GET", "/cluster/sdn/ports").status_code == 401


def test_logout_clears_the_ticket_cookie(server: Server) -> None:
    server.access.set_password("root@pam", "root-password-1")
    session = requests.Session()  # verify per request: an environment CA bundle would override session.verify
    login = session.post(
        f"{server.url}/access/ticket",
        data={"username": "root@pam", "password": "root-password-1"},
        verify=server.cafile,
    )
    assert login.status_code == 200 and session.cookies.get("PVEAuthCookie")
    assert session.get(f"{server.url}/cluster/sdn/zones", verify=server.cafile).status_code == 200
    out = session.delete(f"{server.url}/access/ticket", verify=server.cafile)
    assert out.status_code == 200
    assert "PVEAuthCookie=" in out.headers["set-cookie"] and "Max-Age=0" in out.headers["set-cookie"]
    assert not session.cookies.get("PVEAuthCookie")
    assert session.get(f"{server.url}/cluster/sdn/zones", verify=server.cafile).status_code == 401


def test_serve_prints_the_ui_url_and_how_to_set_a_login(tmp_path: Path) -> None:
    cmd = [SDN, "--config-dir", str(tmp_path), "serve", "--listen", "127.0.0.1:0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        first, second = proc.stdout.readline(), proc.stdout.readline()
        assert first.startswith("listening on https://127.0.0.1:") and first.rstrip().endswith("/api2/json")
        root = first.split()[2].removesuffix("/api2/json")
        assert second.strip() == f"web UI at {root}/"
        page = requests.get(f"{root}/", verify=str(tmp_path / "tls" / "sdn-ssl.pem"), timeout=30)
        assert page.status_code == 200 and "sdnkit SDN" in page.text
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
    assert "root@pam has no password yet: `sdn user passwd root@pam`" in err
