"""A phpIPAM test double: the part of the REST API (``/api/<app>/...``) that sdnkit uses.

It answers as phpIPAM v1.8.2 answered on loopback, as recorded in
``/work/shared/research/external-ipam-apis.md``, and as phpIPAM's API documentation
(https://phpipam.net/api/api_documentation/) and its controllers
(``api/controllers/Addresses.php``, ``Subnets.php``) describe:

* every answer is ``{"code", "success", "data" | "message", "time"}`` and the HTTP status equals
  ``code``; ids are strings;
* auth ("SSL with App code" apps): header ``token: <app code>``; missing or wrong → 401;
  unknown app → 400; such apps refuse plain HTTP with 503 "SSL connection is required for API"
  (``require_tls=True``; behind a TLS proxy the server sees HTTPS);
* ``GET /subnets/cidr/<net>/<mask>/`` → list, or 404 "No subnets found"; ``POST /subnets/`` →
  201 "Subnet created" with ``id`` and ``data`` (the CIDR); ``GET /subnets/<id>/addresses/`` →
  list or 404 "No addresses found"; ``DELETE /subnets/<id>/`` → 200 "Subnet deleted", with its
  addresses;
* ``POST /addresses/first_free/<subnetId>/`` → 201 ``{"message": "Address created", "id": "11",
  "data": "10.0.0.1"}`` (bare IP); ``GET`` the same → 200 without reserving; full → 404
  "No free addresses found"; unknown subnet → 400 "Invalid subnet identifier";
* ``POST /addresses/`` → 201 without ``data``; duplicate → 409 "IP address already exists";
  outside the subnet → 500;
* ``GET /addresses/search/<ip>/`` and ``/addresses/search_mac/<mac>/`` → list, or 404;
  ``PATCH /addresses/<id>/`` → 200 "Address updated" (changing ``ip`` → 400);
  ``DELETE /addresses/<id>/`` → 200 "Address deleted", then 404.
"""

from __future__ import annotations

import ipaddress
from typing import Any, ClassVar

from fakes.httpserver import Answer, FakeServer, TlsFiles

APP = "sdnkit"
CODE = "s3cr3t-app-code-0123456789abcdef"


def ok(code: int, data: Any = None, message: str | None = None, **extra: Any) -> Answer:
    body: dict[str, Any] = {"code": code, "success": True}
    if message is not None:
        body["message"] = message
    if data is not None:
        body["data"] = data
    return code, {**body, **extra, "time": 0.004}


def fail(code: int, message: str) -> Answer:
    return code, {"code": code, "success": False, "message": message, "time": 0.002}


class FakePhpipam(FakeServer):
    PREFIX = f"/api/{APP}"
    ROUTES: ClassVar[dict[tuple[str, str], str]] = {
        ("GET", r"/sections/(\d+)/"): "section",
        ("GET", r"/subnets/cidr/([^/]+)/(\d+)/"): "subnet_by_cidr",
        ("POST", r"/subnets/"): "create_subnet",
        ("GET", r"/subnets/(\d+)/addresses/"): "subnet_addresses",
        ("DELETE", r"/subnets/(\d+)/"): "delete_subnet",
        ("GET", r"/addresses/first_free/(\d+)/"): "first_free",
        ("POST", r"/addresses/first_free/(\d+)/"): "take_first_free",
        ("POST", r"/addresses/"): "create_address",
        ("GET", r"/addresses/search/([^/]+)/"): "search",
        ("GET", r"/addresses/search_mac/([^/]+)/"): "search_mac",
        ("PATCH", r"/addresses/(\d+)/"): "update_address",
        ("DELETE", r"/addresses/(\d+)/"): "delete_address",
    }

    def __init__(self, code: str = CODE, *, tls: TlsFiles | None = None, require_tls: bool = False) -> None:
        super().__init__(tls=tls)
        self.code = code
        self.require_tls = require_tls
        self.sections = {"1": {"id": "1", "name": "Customers"}}
        self.subnets: dict[str, dict[str, Any]] = {}
        self.addresses: dict[str, dict[str, Any]] = {}
        self._next = {"subnets": 6, "addresses": 10}

    @property
    def url(self) -> str:
        return f"{self.origin}/api/{APP}"

    def _id(self, kind: str) -> str:
        self._next[kind] += 1
        return str(self._next[kind])

    # -- framework ----------------------------------------------------------------------------

    def authenticate(self, headers: dict[str, str], path: str) -> Answer | None:
        if not path.startswith(f"/api/{APP}/"):
            return fail(400, "Invalid application id")
        if self.require_tls and self.tls is None:
            return fail(503, "SSL connection is required for API")
        if headers.get("token") != self.code:
            return fail(401, "Please provide token" if "token" not in headers else "Invalid token")
        return None

    def server_error(self) -> Any:
        return {"code": 500, "success": False, "message": "injected failure", "time": 0.001}

    def not_found(self, method: str, path: str) -> Answer:
        return fail(400, "Invalid Id")

    # -- sections and subnets -----------------------------------------------------------------

    def section(self, m: Any, q: Any, body: Any, host: str) -> Answer:
        found = self.sections.get(m[1])
        return ok(200, found) if found else fail(404, "Section does not exist")

    def subnet_by_cidr(self, m: Any, q: Any, body: Any, host: str) -> Answer:
        found = [s for s in self.subnets.values() if (s["subnet"], s["mask"]) == (m[1], m[2])]
        return ok(200, found) if found else fail(404, "No subnets found")

    def create_subnet(self, m: Any, q: Any, body: Any, host: str) -> Answer:
        body = body or {}
        try:
            net = ipaddress.ip_network(f"{body.get('subnet')}/{body.get('mask')}")
        except ValueError:
            return fail(400, "Invalid subnet")
        if str(body.get("sectionId")) not in self.sections:
            return fail(400, "Invalid section Id")
        sid = self._id("subnets")
        self.subnets[sid] = {
            "id": sid,
            "subnet": str(net.network_address),
            "mask": str(net.prefixlen),
            "sectionId": str(body["sectionId"]),
            "description": str(body.get("description") or ""),
            "isFull": "0",
        }
        return ok(201, f"{net}", "Subnet created", id=sid, location=f"/api/{APP}/subnets/{sid}/")

    def subnet_addresses(self, m: Any, q: Any, body: Any, host: str) -> Answer:
        if m[1] not in self.subnets:
            return fail(404, "Invalid subnet Id")
        found = [a for a in self.addresses.values() if a["subnetId"] == m[1]]
        return ok(200, found) if found else fail(404, "No addresses found")

    def delete_subnet(self, m: Any, q: Any, body: Any, host: str) -> Answer:
        if self.subnets.pop(m[1], None) is None:
            return fail(404, "Invalid subnet Id")
        for aid in [a for a, v in self.addresses.items() if v["subnetId"] == m[1]]:
            del self.addresses[aid]
        return ok(200, message="Subnet deleted")

    # -- addresses ----------------------------------------------------------------------------

    def _network(self, sid: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        s = self.subnets[sid]
        return ipaddress.ip_network(f"{s['subnet']}/{s['mask']}")

    def _first_free(self, sid: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        net = self._network(sid)
        first, last = int(net.network_address), int(net.broadcast_address)
        if net.version == 4 and net.prefixlen < 31:
            first, last = first + 1, last - 1
        elif net.version == 6 and net.prefixlen < 127:
            first += 1
        used = {int(ipaddress.ip_address(a["ip"])) for a in self.addresses.values() if a["subnetId"] == sid}
        value = first
        while value <= last:
            if value not in used:
                return ipaddress.ip_address(value)
            value += 1
        return None

    def first_free(self, m: Any, q: Any, body: Any, host: str) -> Answer:
        if m[1] not in self.subnets:
            return fail(400, "Invalid subnet identifier")
        ip = self._first_free(m[1])
        return ok(200, str(ip)) if ip else fail(404, "No free addresses found")

    def take_first_free(self, m: Any, q: Any, body: Any, host: str) -> Answer:
        if m[1] not in self.subnets:
            return fail(400, "Invalid subnet identifier")
        ip = self._first_free(m[1])
        if ip is None:
            return fail(404, "No free addresses found")
        fields = {"description": "API created", **(body or {}), "subnetId": m[1], "ip": str(ip)}
        aid = self._store(fields)
        return ok(201, str(ip), "Address created", id=aid, location=f"/api/{APP}/addresses/{aid}/")

    def _store(self, fields: dict[str, Any]) -> str:
        aid = self._id("addresses")
        self.addresses[aid] = {
            "id": aid,
            "subnetId": str(fields["subnetId"]),
            "ip": str(fields["ip"]),
            "is_gateway": "1" if str(fields.get("is_gateway") or "0") in ("1", "true") else "0",
            "description": str(fields.get("description") or ""),
            "hostname": str(fields.get("hostname") or ""),
            "mac": str(fields.get("mac") or "").lower(),
            "owner": "",
            "tag": "2",
            "deviceId": "0",
            "note": "",
            "lastSeen": None,
            "editDate": None,
        }
        return aid

    def create_address(self, m: Any, q: Any, body: Any, host: str) -> Answer:
        body = body or {}
        sid = str(body.get("subnetId"))
        if sid not in self.subnets:
            return fail(400, "Invalid subnet identifier")
        try:
            ip = ipaddress.ip_address(str(body.get("ip")))
        except ValueError:
            return fail(400, "Invalid IP address")
        if ip not in self._network(sid):
            return fail(500, f"IP address not in selected subnet! ({ip})")
        if any(a["subnetId"] == sid and a["ip"] == str(ip) for a in self.addresses.values()):
            return fail(409, "IP address already exists")
        aid = self._store({**body, "ip": str(ip)})
        return ok(201, message="Address created", id=aid, location=f"/api/{APP}/addresses/{aid}/")

    def search(self, m: Any, q: Any, body: Any, host: str) -> Answer:
        try:
            ip = str(ipaddress.ip_address(m[1]))
        except ValueError:
            return fail(400, "Invalid address")
        found = [a for a in self.addresses.values() if a["ip"] == ip]
        return ok(200, found) if found else fail(404, "Address not found")

    def search_mac(self, m: Any, q: Any, body: Any, host: str) -> Answer:
        found = [a for a in self.addresses.values() if a["mac"] and a["mac"] == m[1].lower()]
        return ok(200, found) if found else fail(404, "Host name not found")

    def update_address(self, m: Any, q: Any, body: Any, host: str) -> Answer:
        obj = self.addresses.get(m[1])
        if obj is None:
            return fail(404, "Invalid Id")
        if "ip" in (body or {}) or "ip_addr" in (body or {}):
            return fail(400, "IP address cannot be changed")
        for key in ("hostname", "description", "mac"):
            if key in body:
                obj[key] = str(body[key]).lower() if key == "mac" else str(body[key])
        return ok(200, message="Address updated")

    def delete_address(self, m: Any, q: Any, body: Any, host: str) -> Answer:
        if self.addresses.pop(m[1], None) is None:
            return fail(404, "Address does not exist")
        return ok(200, message="Address deleted")

    # -- for assertions -----------------------------------------------------------------------

    def ips(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return {a["ip"]: dict(a) for a in self.addresses.values()}
