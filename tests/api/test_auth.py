"""Authentication as PVE does it: token header, ticket cookie with CSRF token, clear 401s, nothing open.

Also the wire details clients depend on: form and JSON bodies, repeated keys, 0/1 booleans,
the error envelope and reason phrase, HTTPS with the generated certificate, and that secrets
never reach the disk in clear.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

if TYPE_CHECKING:
    from tests.api.conftest import Server

pytestmark = pytest.mark.api

SDN = str(Path(sys.executable).with_name("sdn"))


def _login(server: Server, user: str, password: str, **extra: str) -> requests.Response:
    return server.call("POST", "/access/ticket", data={"username": user, "password": password, **extra})


@pytest.fixture(scope="module")
def carol(server: Server) -> str:
    server.access.add_user("carol@pve", "carol-password")
    server.access.set_acl("/sdn", "PVESDNAdmin", "carol@pve")
    return "carol@pve"


def test_every_route_but_login_needs_credentials(server: Server) -> None:
    schema = server.call("GET", "/openapi.json", server.root_token).json()
    assert server.call("GET", "/openapi.json").status_code == 401
    checked = 0
    for path, ops in schema["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "x1", path).removeprefix("/api2/json")
        for method in ops:
            if concrete == "/access/ticket":
                continue
            resp = server.call(method.upper(), concrete)
            assert resp.status_code == 401, f"{method} {path}: {resp.status_code}"
            assert resp.json() == {"data": None, "message": "No ticket\n"}
            checked += 1
    assert checked > 40


@pytest.mark.parametrize(
    "header",
    [
        "PVEAPIToken=root@pam!admin=00000000-0000-0000-0000-000000000000",  # wrong secret
        "PVEAPIToken=root@pam!nosuch=00000000-0000-0000-0000-000000000000",  # unknown token
        "PVEAPIToken=root@pam!admin",  # no secret
        "Bearer abc",
        "PVEAPIToken=nobody@pve!x1=abc",
    ],
)
def test_bad_tokens_get_401(server: Server, header: str) -> None:
    resp = server.call("GET", "/cluster/sdn/zones", header)
    assert resp.status_code == 401
    assert resp.json()["data"] is None and resp.reason


def test_token_header_accepts_pve_separators(server: Server) -> None:
    user_token, secret = server.root_token.removeprefix("PVEAPIToken=").rsplit("=", 1)
    assert server.call("GET", "/version", f"PVEAPIToken={user_token}:{secret}").status_code == 200
    assert server.call("GET", "/version", f"PVEAPIToken:{user_token}={secret}").status_code == 200


def test_deleted_token_stops_working_at_once(server: Server) -> None:
    token = server.token({"/sdn": "PVEAuditor"})
    assert server.call("GET", "/cluster/sdn", token).status_code == 200
    userid, name = token.removeprefix("PVEAPIToken=").rsplit("=", 1)[0].split("!")
    server.access.delete_token(userid, name)
    assert server.call("GET", "/cluster/sdn", token).status_code == 401


def test_ticket_login_cookie_and_csrf(server: Server, carol: str) -> None:
    resp = _login(server, carol, "carol-password")
    assert resp.status_code == 200
    data = resp.json()["data"]
    assert data["username"] == carol and data["ticket"].startswith(f"PVE:{carol}:")
    assert data["cap"]["sdn"]["SDN.Allocate"] == 1
    cookies = {"PVEAuthCookie": data["ticket"]}
    assert server.call("GET", "/cluster/sdn/zones", cookies=cookies).status_code == 200
    write = {"zone": "tkz", "type": "simple"}
    resp = server.call("POST", "/cluster/sdn/zones", cookies=cookies, data=write)
    assert resp.status_code == 401 and "csrf" in resp.reason.lower()
    headers = {"CSRFPreventionToken": data["CSRFPreventionToken"]}
    assert (
        server.call("POST", "/cluster/sdn/zones", cookies=cookies, headers=headers, data=write).status_code
        == 200
    )


def test_login_with_realm_field_and_ticket_renewal(server: Server, carol: str) -> None:
    resp = _login(server, "carol", "carol-password", realm="pve")
    assert resp.status_code == 200
    ticket = resp.json()["data"]["ticket"]
    renewed = _login(server, carol, ticket)
    assert renewed.status_code == 200 and renewed.json()["data"]["username"] == carol
    assert _login(server, "root@pam", ticket).status_code == 401  # a ticket is only good for its user


@pytest.mark.parametrize(
    ("user", "password"),
    [("carol@pve", "wrong-password"), ("nobody@pve", "carol-password"), ("root@pam", "x")],
)
def test_failed_logins_are_401(server: Server, carol: str, user: str, password: str) -> None:
    resp = _login(server, user, password)
    assert resp.status_code == 401 and resp.reason == "authentication failure"


def test_forged_or_foreign_tickets_are_refused(server: Server, carol: str) -> None:
    ticket = _login(server, carol, "carol-password").json()["data"]["ticket"]
    forged = ticket.replace(carol, "root@pam")
    assert server.call("GET", "/version", cookies={"PVEAuthCookie": forged}).status_code == 401
    assert (
        server.call("GET", "/version", cookies={"PVEAuthCookie": "PVE:x@pve:00000000::sig"}).status_code
        == 401
    )


def test_login_parameters_are_checked(server: Server) -> None:
    resp = server.call("POST", "/access/ticket", data={"username": "carol@pve"})
    assert resp.status_code == 400 and set(resp.json()["errors"]) == {"password"}


def test_form_json_repeated_keys_and_booleans(server: Server) -> None:
    auth = server.root_token
    server.root("POST", "/cluster/sdn/zones", json={"zone": "fjz", "type": "simple", "dhcp": "dnsmasq"})
    server.root("POST", "/cluster/sdn/vnets", data={"vnet": "fjv", "zone": "fjz", "isolate-ports": "1"})
    ranges = [
        "start-address=10.9.0.10,end-address=10.9.0.20",
        "start-address=10.9.0.30,end-address=10.9.0.40",
    ]
    form = [("subnet", "10.9.0.0/24"), ("type", "subnet"), ("gateway", "10.9.0.1"), ("snat", "0")]
    form += [("dhcp-range", r) for r in ranges]
    resp = server.call("POST", "/cluster/sdn/vnets/fjv/subnets", auth, data=form)
    assert resp.status_code == 200, resp.text
    sub = server.root("GET", "/cluster/sdn/vnets/fjv/subnets/fjz-10.9.0.0-24")
    assert [r["start-address"] for r in sub["dhcp-range"]] == ["10.9.0.10", "10.9.0.30"]
    assert server.root("GET", "/cluster/sdn/vnets/fjv")["isolate-ports"] == 1
    body = {"dhcp-range": ranges[:1], "snat": True}
    resp = server.call("PUT", "/cluster/sdn/vnets/fjv/subnets/fjz-10.9.0.0-24", auth, json=body)
    assert resp.status_code == 200, resp.text
    sub = server.root("GET", "/cluster/sdn/vnets/fjv/subnets/fjz-10.9.0.0-24")
    assert sub["snat"] == 1 and len(sub["dhcp-range"]) == 1


def test_parameter_errors_name_the_parameter(server: Server) -> None:
    auth = server.root_token
    resp = server.call("POST", "/cluster/sdn/zones", auth, data={"zone": "bad zone!", "type": "simple"})
    assert resp.status_code == 400 and set(resp.json()["errors"]) == {"zone"}
    resp = server.call(
        "POST", "/cluster/sdn/zones", auth, data={"zone": "okz", "type": "vlan", "bridge": "b\nx"}
    )
    assert resp.status_code == 400 and set(resp.json()["errors"]) == {"bridge"}
    resp = server.call("GET", "/cluster/sdn/zones", auth, params={"pending": "maybe"})
    assert resp.status_code == 400 and set(resp.json()["errors"]) == {"pending"}
    resp = server.call(
        "POST", "/cluster/sdn/zones", auth, data="{not json", headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 400 and "body" in resp.json()["errors"]
    resp = server.call("GET", "/cluster/sdn/zones/nosuch", auth)
    assert resp.status_code == 404 and "does not exist" in resp.reason


def test_generated_certificate_is_reused_and_verifiable(server: Server) -> None:
    pem = Path(server.cafile).read_text()
    assert "BEGIN CERTIFICATE" in pem
    key = Path(server.cafile).with_suffix(".key")
    assert key.stat().st_mode & 0o077 == 0
    # the test client verifies the server against this certificate on every call
    assert server.call("GET", "/version", server.root_token).json()["data"]["release"]


def test_secrets_are_stored_only_as_hashes(server: Server, carol: str) -> None:
    secret = server.root_token.rsplit("=", 1)[1]
    for path in server.config_dir.rglob("*"):
        if path.is_file() and path.name != "serve.log":
            text = path.read_bytes()
            assert secret.encode() not in text and b"carol-password" not in text, path


def test_token_cli_prints_pve_shape_once(server: Server) -> None:
    env_dir = str(server.config_dir)
    out = subprocess.run(
        [
            SDN,
            "--config-dir",
            env_dir,
            "--output",
            "json",
            "token",
            "add",
            "root@pam",
            "cli1",
            "--privsep",
            "0",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    data = json.loads(out)
    assert data["full-tokenid"] == "root@pam!cli1" and data["info"]["privsep"] == 0
    header = f"PVEAPIToken={data['full-tokenid']}={data['value']}"
    assert server.call("GET", "/version", header).status_code == 200
    listing = subprocess.run(
        [SDN, "--config-dir", env_dir, "-o", "json", "token", "list"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert data["value"] not in listing and "root@pam!cli1" in listing


def test_openapi_and_docs_need_credentials(server: Server) -> None:
    for path in ("/openapi.json", "/docs"):
        assert server.call("GET", path).status_code == 401
        assert server.call("GET", path, server.root_token).status_code == 200
    schema = server.call("GET", "/openapi.json", server.root_token).json()
    zone_post = schema["paths"]["/api2/json/cluster/sdn/zones"]["post"]["requestBody"]["content"]
    props = zone_post["application/x-www-form-urlencoded"]["schema"]["properties"]
    assert {"zone", "type", "vrf-vxlan", "exitnodes-local-routing", "lock-token"} <= set(props)
