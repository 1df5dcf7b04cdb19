"""A phpIPAM test double: the part of the REST API (``/api/<app>/...``) that sdnkit uses.

It answers as phpIPAM v1.8.2 answered on loopback, as recorded in
``/work/shared/research/external-ipam-apis.md`` (both checks), and as phpIPAM's API
documentation (https://phpipam.net/api/api_documentation/) and its code describe
(``api/index.php``, ``api/controllers/{Addresses,Subnets,Sections,User}.php``):

* every answer is ``{"code", "success", "data" | "message", "time"}`` and the HTTP status equals
  ``code``;
* types (second check; PHP 8.1 returns native types): in objects ``id``, ``sectionId``,
  ``subnetId``, ``is_gateway``, ``isFull`` and ``tag`` are integers, an empty ``description`` or
  ``mac`` is ``null``; the ``id`` of a POST answer is a string (PDO's ``lastInsertId``) and POST
  answers carry no ``location``;
* auth ("SSL with App code" apps): header ``token: <app code>``; missing or wrong → 401
  "Unauthorized"; unknown app → 400 "Invalid application id"; such apps refuse plain HTTP with
  503 "SSL connection is required for API" (``require_tls=True``; behind a TLS proxy the server
  sees HTTPS);
* ``GET /sections/<id>/`` → the section, or 404 "Section does not exist";
* ``GET /subnets/cidr/<net>/<mask>/`` → list, or 404 "No subnets found"; ``POST /subnets/`` →
  201 "Subnet created" with ``id`` and ``data`` (the CIDR); an unknown section → 400 "Section id
  (N) does not exist"; without the PEAR PHP package on the server (``pear=False``) → 500 with an
  empty body; ``GET /subnets/<id>/addresses/`` → list or 404 "No addresses found"; an unknown
  subnet → 404 "Invalid subnet Id (N)"; ``DELETE /subnets/<id>/`` → 200 "Subnet deleted", with
  its addresses;
* ``POST /addresses/first_free/<subnetId>/`` → 201 ``{"message": "Address created", "id": "11",
  "data": "10.0.0.1"}`` (bare IP); ``GET`` the same → 200 without reserving; full → 404 "No free
  addresses found"; unknown subnet → 400 "Invalid subnet identifier". IPv4 skips the network and
  broadcast addresses; IPv6 hands out the network address itself first (second check: phpIPAM
  does not exclude the subnet-router anycast address);
* ``POST /addresses/`` → 201 without ``data``; duplicate → 409 "IP address already exists";
  outside the subnet → 500; unknown subnet → 404 "Invalid subnet Id"; ``tag`` sets the address
  tag (default 2 "Used"; 3 is "Reserved");
* ``GET /addresses/search/<ip>/`` → list (dotted ``ip``), or 404 "Address not found";
  ``GET /addresses/search_mac/<mac>/`` → list, or 404 "Host name not found": only the first row's
  ``ip`` is dotted, later rows carry the address as a decimal integer string (second check);
* ``PATCH /addresses/<id>/`` → 200 "Address updated" (changing ``ip`` → 400; unknown → 404
  "Address does not exist"); ``DELETE /addresses/<id>/`` → 200 "Address deleted", then 404.

Every request is carried out in full even when the client gave up waiting (a ``Fault`` with a
delay): as the real server does, a slow answer may still create the address.
"""

from __future__ import annotations

import ipaddress
from typing import Any, ClassVar

from fakes.httpserver import Answer, FakeServer, TlsFiles

APP = "sdnkit"
CODE = "s3cr3t-app-code-0123456789abcdef"
USED, RESERVED = 2, 3  # phpIPAM's built-in address tags (ipTags)


def ok(code: int, data: Any = None, message: str | None = None, **extra: Any) -> Answer:
    body: dict[str, Any] = {"code": code, "success": True}
    if message is not None:
        body["message"] = message
    if data is not None:
        body["data"] = data
    return code, {**body, **extra, "time": 0.004}


def fail(code: int, message: str) -> Answer:
    return code, {"code": code, "success": False, "message": message, "time": 0.002}


def _or_null(value: Any) -> Any:
    return None if value in (None, "") else str(value)


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

    def __init__(
        self, code: str = CODE, *, tls: TlsFiles | None = None, require_tls: bool = False, pear: bool = True
    ) -> None:
        super().__init__(tls=tls)
        self.code = code
        self.require_tls = require_tls
        self.pear = pear
        self.sections = {1: {"id": 1, "name": "Customers", "masterSection": 0}}
        self.subnets: dict[int, dict[str, Any]] = {}
        self.addresses: dict[int, dict[str, Any]] = {}
        self._next = {"subnets": 6, "addresses": 10}

    @property
    def url(self) -> str:
        return f"{self.origin}/api/{APP}"

    def _id(self, kind: str) -> int:
        self._next[kind] += 1
        return self._next[kind]

    # -- framework ----------------------------------------------------------------------------

    def authenticate(self, headers: dict[str, str], path: str) -> Answer | None:
        if not path.startswith(f"/api/{APP}/"):
            return fail(400, "Invalid application id")
        if self.require_tls and self.tls is None:
            return fail(503, "SSL connection is required for API")
        if headers.get("token") != self.code:
            return fail(401, "Unauthorized")  # missing or wrong alike (User.php, errors[401])
        return None

    def server_error(self) -> Any:
        return {"code": 500, "success": False, "message": "injected failure", "time": 0.001}

    def not_found(self, method: str, path: str) -> Answer:
        return fail(400, "Invalid Id")

    # -- sections and subnets -----------------------------------------------------------------

    def section(self, m: Any, q: Any, body: Any, host: str) -> Answer:
        found = self.sections.get(int(m[1]))
        return ok(200, found) if found else fail(404, "Section does not exist")

    def subnet_by_cidr(self, m: Any, q: Any, body: Any, host: str) -> Answer:
        found = [s for s in self.subnets.values() if (s["subnet"], s["mask"]) == (m[1], m[2])]
        return ok(200, found) if found else fail(404, "No subnets found")

    def create_subnet(self, m: Any, q: Any, body: Any, host: str) -> Answer:
        if not self.pear:
            return 500, None  # the PEAR PHP package is missing on the server: an empty answer
        body = body or {}
        try:
            net = ipaddress.ip_network(f"{body.get('subnet')}/{body.get('mask')}")
        except ValueError:
            return fail(400, "Invalid subnet")
        section = str(body.get("sectionId"))
        if not section.isdigit() or int(section) not in self.sections:
            return fail(400, f"Section id ({section}) does not exist")
        sid = self._id("subnets")
        self.subnets[sid] = {
            "id": sid,
            "subnet": str(net.network_address),
            "mask": str(net.prefixlen),
            "sectionId": int(section),
            "description": _or_null(body.get("description")),
            "isFull": 0,
        }
        return ok(201, f"{net}", "Subnet created", id=str(sid))

    def _subnet(self, raw: str) -> int | None:
        return int(raw) if int(raw) in self.subnets else None

    def subnet_addresses(self, m: Any, q: Any, body: Any, host: str) -> Answer:
        sid = self._subnet(m[1])
        if sid is None:
            return fail(404, f"Invalid subnet Id ({m[1]})")
        found = [dict(a) for a in self.addresses.values() if a["subnetId"] == sid]
        return ok(200, found) if found else fail(404, "No addresses found")

    def delete_subnet(self, m: Any, q: Any, body: Any, host: str) -> Answer:
        sid = self._subnet(m[1])
        if sid is None:
            return fail(404, f"Invalid subnet Id ({m[1]})")
        del self.subnets[sid]
        for aid in [a for a, v in self.addresses.items() if v["subnetId"] == sid]:
            del self.addresses[aid]
        return ok(200, message="Subnet deleted")

    # -- addresses ----------------------------------------------------------------------------

    def _network(self, sid: int) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        s = self.subnets[sid]
        return ipaddress.ip_network(f"{s['subnet']}/{s['mask']}")

    def _first_free(self, sid: int) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        net = self._network(sid)
        first, last = int(net.network_address), int(net.broadcast_address)
        if net.version == 4 and net.prefixlen < 31:
            first, last = first + 1, last - 1  # IPv6: the network address is handed out too
        used = {int(ipaddress.ip_address(a["ip"])) for a in self.addresses.values() if a["subnetId"] == sid}
        value = first
        while value <= last:
            if value not in used:
                return ipaddress.ip_address(value)
            value += 1
        return None

    def first_free(self, m: Any, q: Any, body: Any, host: str) -> Answer:
        sid = self._subnet(m[1])
        if sid is None:
            return fail(400, "Invalid subnet identifier")
        ip = self._first_free(sid)
        return ok(200, str(ip)) if ip else fail(404, "No free addresses found")

    def take_first_free(self, m: Any, q: Any, body: Any, host: str) -> Answer:
        sid = self._subnet(m[1])
        if sid is None:
            return fail(400, "Invalid subnet identifier")
        ip = self._first_free(sid)
        if ip is None:
            return fail(404, "No free addresses found")
        fields = {"description": "API created", **(body or {}), "subnetId": sid, "ip": str(ip)}
        aid = self._store(fields)
        return ok(201, str(ip), "Address created", id=str(aid))

    def _store(self, fields: dict[str, Any]) -> int:
        aid = self._id("addresses")
        self.addresses[aid] = {
            "id": aid,
            "subnetId": int(fields["subnetId"]),
            "ip": str(fields["ip"]),
            "is_gateway": 1 if str(fields.get("is_gateway") or "0") in ("1", "true") else 0,
            "description": _or_null(fields.get("description")),
            "hostname": _or_null(fields.get("hostname")),
            "mac": _or_null(str(fields.get("mac") or "").lower()),
            "owner": None,
            "tag": int(fields.get("tag") or USED),
            "deviceId": None,
            "note": None,
            "lastSeen": None,
            "editDate": None,
        }
        return aid

    def create_address(self, m: Any, q: Any, body: Any, host: str) -> Answer:
        body = body or {}
        raw = str(body.get("subnetId"))
        sid = self._subnet(raw) if raw.isdigit() else None
        if sid is None:
            return fail(404, "Invalid subnet Id")
        try:
            ip = ipaddress.ip_address(str(body.get("ip")))
        except ValueError:
            return fail(400, "Invalid IP address")
        if ip not in self._network(sid):
            return fail(500, f"IP address not in selected subnet! ({ip})")
        if any(a["subnetId"] == sid and a["ip"] == str(ip) for a in self.addresses.values()):
            return fail(409, "IP address already exists")
        aid = self._store({**body, "subnetId": sid, "ip": str(ip)})
        return ok(201, message="Address created", id=str(aid))

    def search(self, m: Any, q: Any, body: Any, host: str) -> Answer:
        try:
            ip = str(ipaddress.ip_address(m[1]))
        except ValueError:
            return fail(400, "Invalid address")
        found = [dict(a) for a in self.addresses.values() if a["ip"] == ip]
        return ok(200, found) if found else fail(404, "Address not found")

    def search_mac(self, m: Any, q: Any, body: Any, host: str) -> Answer:
        found = [dict(a) for a in self.addresses.values() if a["mac"] and a["mac"] == m[1].lower()]
        for row in found[1:]:  # the address cache fills the dotted form once per MAC
            row["ip"] = str(int(ipaddress.ip_address(row["ip"])))
        return ok(200, found) if found else fail(404, "Host name not found")

    def update_address(self, m: Any, q: Any, body: Any, host: str) -> Answer:
        obj = self.addresses.get(int(m[1]))
        if obj is None:
            return fail(404, "Address does not exist")
        body = body or {}
        if "ip" in body or "ip_addr" in body:
            return fail(400, "IP address cannot be changed")
        for key in ("hostname", "description"):
            if key in body:
                obj[key] = _or_null(body[key])
        if "mac" in body:
            obj["mac"] = _or_null(str(body["mac"] or "").lower())
        if "tag" in body:
            obj["tag"] = int(body["tag"])
        return ok(200, message="Address updated")

    def delete_address(self, m: Any, q: Any, body: Any, host: str) -> Answer:
        if self.addresses.pop(int(m[1]), None) is None:
            return fail(404, "Address does not exist")
        return ok(200, message="Address deleted")

    # -- for assertions -----------------------------------------------------------------------

    def ips(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return {a["ip"]: dict(a) for a in self.addresses.values()}
