"""A NetBox test double: the part of the REST API (``/api/ipam/...``) that sdnkit uses.

It answers as NetBox v4.6.8 answered on loopback, as recorded in
``/work/shared/research/external-ipam-apis.md``, and as NetBox's REST API documentation describes
(https://netboxlabs.com/docs/netbox/integrations/rest-api/ : pagination, filtering, the
``available-ips`` endpoints):

* auth: ``Authorization: Token <token>`` (v1) or ``Bearer nbt_<key>.<token>`` (v2); none → 403
  "Authentication credentials were not provided."; wrong → 403 "Invalid v1 token" or "Invalid v2
  token" (second check); ``/api/status/`` needs the token too;
* objects carry ``id``, ``url``, ``display_url``, ``display``, ``owner`` and NetBox's bookkeeping;
* lists paginated 50 per page (``limit``/``offset``): ``{"count", "next", "previous", "results"}``
  with absolute ``next``/``previous`` links; unknown filter values → an empty list;
* filters: prefixes ``prefix`` (exact), ip-ranges ``start_address``/``end_address`` (host part),
  ip-addresses ``address`` (the host; with a mask, host and mask: ``/24`` finds a stored /24, ``/32``
  does not; an invalid value finds nothing), ``parent`` (inside a prefix),
  ``dns_name``, ``description`` and ``description__ie`` (exact, case-insensitive);
* ``POST /api/ipam/prefixes/`` → 201 (the prefix is stored in network form); the same prefix again
  → 400 "Duplicate prefix found in global table" (``Prefix.clean``, ``ENFORCE_GLOBAL_UNIQUE``);
* ``GET .../available-ips/?limit=N`` → a bare list; ``POST .../available-ips/`` with an object →
  201 and one ip-address carrying the prefix's (or range's) mask, with a list → 201 and a list;
  the lowest free address first (freed addresses come back); IPv4 skips the network and
  broadcast addresses except in /31, /32 and pools; IPv6 starts at ``::1``; full → 409
  "Insufficient resources are available to satisfy the request" (a list asking for too many:
  409, nothing created); unknown id → 404;
* ``POST /api/ipam/ip-ranges/``: a range overlapping another (same VRF) → 400 ``{"__all__":
  ["Defined addresses overlap with range 10.60.0.2-3/29 in VRF None"]}`` (second check; the range
  is named as NetBox's ``IPRange.name`` writes it); ``PATCH …/ip-ranges/<id>/`` moves a range
  (the same check, the range itself excluded); ``POST …/ip-ranges/<id>/available-ips/`` hands
  out the range's addresses, then 409;
* ``POST /api/ipam/ip-addresses/``: duplicate → 400 ``{"address": ["Duplicate IP address found
  in global table: …"]}``, invalid ``dns_name`` → 400; ``dns_name`` is stored lowercased
  (``IPAddress.save``); ``PATCH`` → 200; ``DELETE`` → 204 with no body, then 404.

Every request is carried out in full even when the client gave up waiting (a ``Fault`` with a
delay): as the real servers do, a slow answer may still create the address.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, ClassVar
from urllib.parse import urlencode

from fakes.httpserver import Answer, FakeServer, TlsFiles

IP = ipaddress.IPv4Address | ipaddress.IPv6Address

FULL = {"detail": "Insufficient resources are available to satisfy the request"}
DNS_NAME = re.compile(r"^([0-9A-Za-z_-]+|\*)(\.[0-9A-Za-z_-]+)*\.?$")
PAGE = 50
TOKEN = "0123456789abcdef0123456789abcdef01234567"  # a v1 token: 40 characters
DNS_ERROR = (
    "Only alphanumeric characters, asterisks, hyphens, periods, and underscores are allowed in DNS names"
)
STAMP = "2026-11-01T00:00:00.000000Z"


def _family(version: int) -> dict[str, Any]:
    return {"value": version, "label": f"IPv{version}"}


def _not_found(model: str) -> Answer:
    return 404, {"detail": f"No {model} matches the given query."}


def _record(kind: str, oid: int, display: str, version: int, host: str) -> dict[str, Any]:
    """The fields every IPAM object has in NetBox's answers: identity, VRF, status, bookkeeping."""
    return {
        "id": oid,
        "url": f"http://{host}/api/ipam/{kind}/{oid}/",
        "display_url": f"http://{host}/ipam/{kind}/{oid}/",
        "display": display,
        "owner": None,
        "family": _family(version),
        "vrf": None,
        "tenant": None,
        "status": {"value": "active", "label": "Active"},
        "role": None,
        "description": "",
        "comments": "",
        "tags": [],
        "custom_fields": {},
        "created": STAMP,
        "last_updated": STAMP,
    }


def range_name(start: IP, end: IP, mask: str) -> str:
    """NetBox's ``IPRange.name``: the chunks both ends share, then the rest of each end."""
    sep = ":" if start.version == 6 else "."
    a, b = str(start).split(sep), str(end).split(sep)
    base = [x for x, y in zip(a, b, strict=False) if x == y]
    return f"{sep.join(base)}{sep}{sep.join(a[len(base) :])}-{sep.join(b[len(base) :])}/{mask}"


def _host(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_interface(text).ip
    except ValueError:
        return None


class FakeNetbox(FakeServer):
    PREFIX = "/api"
    ROUTES: ClassVar[dict[tuple[str, str], str]] = {
        ("GET", r"/status/"): "status",
        ("GET", r"/ipam/aggregates/"): "aggregates",
        ("GET", r"/ipam/prefixes/"): "list_prefixes",
        ("POST", r"/ipam/prefixes/"): "create_prefix",
        ("DELETE", r"/ipam/prefixes/(\d+)/"): "delete_prefix",
        ("GET", r"/ipam/prefixes/(\d+)/available-ips/"): "prefix_available",
        ("POST", r"/ipam/prefixes/(\d+)/available-ips/"): "prefix_allocate",
        ("GET", r"/ipam/ip-ranges/"): "list_ranges",
        ("POST", r"/ipam/ip-ranges/"): "create_range",
        ("PATCH", r"/ipam/ip-ranges/(\d+)/"): "update_range",
        ("DELETE", r"/ipam/ip-ranges/(\d+)/"): "delete_range",
        ("POST", r"/ipam/ip-ranges/(\d+)/available-ips/"): "range_allocate",
        ("GET", r"/ipam/ip-addresses/"): "list_addresses",
        ("POST", r"/ipam/ip-addresses/"): "create_address",
        ("PATCH", r"/ipam/ip-addresses/(\d+)/"): "update_address",
        ("DELETE", r"/ipam/ip-addresses/(\d+)/"): "delete_address",
    }

    def __init__(self, token: str = TOKEN, *, tls: TlsFiles | None = None) -> None:
        super().__init__(tls=tls)
        self.token = token
        self.prefixes: dict[int, dict[str, Any]] = {}
        self.ranges: dict[int, dict[str, Any]] = {}
        self.addresses: dict[int, dict[str, Any]] = {}
        self._ids = {"prefixes": 0, "ip-ranges": 0, "ip-addresses": 0}

    @property
    def url(self) -> str:
        return f"{self.origin}/api"

    # -- framework ----------------------------------------------------------------------------

    def authenticate(self, headers: dict[str, str], path: str) -> Answer | None:
        auth = headers.get("authorization")
        if not auth:
            return 403, {"detail": "Authentication credentials were not provided."}
        scheme, _, value = auth.partition(" ")
        if scheme.lower() not in ("token", "bearer") or value != self.token:
            version = "v2" if value.startswith("nbt_") else "v1"
            return 403, {"detail": f"Invalid {version} token"}
        return None

    def server_error(self) -> Any:
        return {"error": "injected failure", "exception": "RuntimeError", "netbox_version": "4.6.8"}

    def _new_id(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    def _page(self, kind: str, items: list[dict[str, Any]], query: dict[str, str], host: str) -> Answer:
        limit = int(query.get("limit") or PAGE)
        offset = int(query.get("offset") or 0)
        base = {k: v for k, v in query.items() if k not in ("limit", "offset")}

        def link(off: int) -> str:
            return f"http://{host}/api/ipam/{kind}/?{urlencode({**base, 'limit': limit, 'offset': off})}"

        more = offset + limit < len(items)
        return 200, {
            "count": len(items),
            "next": link(offset + limit) if more else None,
            "previous": link(max(0, offset - limit)) if offset else None,
            "results": items[offset : offset + limit],
        }

    def status(self, m: Any, q: dict[str, str], body: Any, host: str) -> Answer:
        return 200, {"netbox-version": "4.6.8", "django-version": "5.2", "plugins": {}}

    def aggregates(self, m: Any, q: dict[str, str], body: Any, host: str) -> Answer:
        return self._page("aggregates", [], q, host)

    # -- prefixes -----------------------------------------------------------------------------

    def _prefix_obj(self, pid: int, prefix: str, host: str) -> dict[str, Any]:
        net = ipaddress.ip_network(prefix)
        return {
            **_record("prefixes", pid, prefix, net.version, host),
            "prefix": prefix,
            "scope_type": None,
            "scope_id": None,
            "scope": None,
            "vlan": None,
            "is_pool": False,
            "mark_utilized": False,
            "children": 0,
            "_depth": 0,
        }

    def list_prefixes(self, m: Any, q: dict[str, str], body: Any, host: str) -> Answer:
        items = list(self.prefixes.values())
        if "prefix" in q:
            try:
                want = str(ipaddress.ip_network(q["prefix"], strict=False))
            except ValueError:
                want = None
            items = [p for p in items if p["prefix"] == want]
        return self._page("prefixes", items, q, host)

    def create_prefix(self, m: Any, q: dict[str, str], body: Any, host: str) -> Answer:
        try:
            net = ipaddress.ip_network(str((body or {}).get("prefix")), strict=False)
        except ValueError:
            return 400, {"prefix": ["Enter a valid IPv4 or IPv6 prefix and mask in CIDR notation."]}
        if any(p["prefix"] == str(net) for p in self.prefixes.values()):  # ENFORCE_GLOBAL_UNIQUE (default)
            return 400, {"prefix": [f"Duplicate prefix found in global table: {net}"]}
        pid = self._new_id("prefixes")
        obj = self._prefix_obj(pid, str(net), host)
        obj["is_pool"] = bool((body or {}).get("is_pool", False))
        self.prefixes[pid] = obj
        return 201, obj

    def delete_prefix(self, m: Any, q: dict[str, str], body: Any, host: str) -> Answer:
        return _delete(self.prefixes, int(m[1]), "Prefix")

    def _prefix_free(self, obj: dict[str, Any], limit: int) -> list[int]:
        net = ipaddress.ip_network(obj["prefix"])
        first, last = int(net.network_address), int(net.broadcast_address)
        if not obj["is_pool"]:
            if net.version == 4 and net.prefixlen < 31:
                first, last = first + 1, last - 1
            elif net.version == 6 and net.prefixlen < 127:
                first += 1
        return self._free(first, last, net.version, limit)

    def _free(self, first: int, last: int, version: int, limit: int) -> list[int]:
        used = {int(_host(a["address"])) for a in self.addresses.values() if a["family"]["value"] == version}
        out: list[int] = []
        value = first
        while value <= last and len(out) < limit:
            if value not in used:
                out.append(value)
            value += 1
        return out

    def prefix_available(self, m: Any, q: dict[str, str], body: Any, host: str) -> Answer:
        obj = self.prefixes.get(int(m[1]))
        if obj is None:
            return _not_found("Prefix")
        net = ipaddress.ip_network(obj["prefix"])
        limit = int(q.get("limit") or PAGE)
        free = self._prefix_free(obj, limit)
        return 200, [
            {"family": net.version, "address": f"{ipaddress.ip_address(v)}/{net.prefixlen}", "vrf": None}
            for v in free
        ]

    def prefix_allocate(self, m: Any, q: dict[str, str], body: Any, host: str) -> Answer:
        obj = self.prefixes.get(int(m[1]))
        if obj is None:
            return _not_found("Prefix")
        net = ipaddress.ip_network(obj["prefix"])
        return self._allocate(self._prefix_free(obj, _count(body)), net.prefixlen, body, host)

    def _allocate(self, free: list[int], masklen: int, body: Any, host: str) -> Answer:
        wanted = body if isinstance(body, list) else [body or {}]
        if len(wanted) > len(free):
            return 409, FULL
        made = []
        for fields, value in zip(wanted, free, strict=False):
            address = f"{ipaddress.ip_address(value)}/{masklen}"
            status, obj = self._store_address({**fields, "address": address}, host)
            if status != 201:
                return status, obj
            made.append(obj)
        return 201, made if isinstance(body, list) else made[0]

    # -- ip ranges ----------------------------------------------------------------------------

    def list_ranges(self, m: Any, q: dict[str, str], body: Any, host: str) -> Answer:
        items = list(self.ranges.values())
        for key in ("start_address", "end_address"):
            if key in q:
                want = _host(q[key])
                items = [r for r in items if _host(r[key]) == want]
        return self._page("ip-ranges", items, q, host)

    def _range_fields(self, rid: int, start_text: str, end_text: str) -> Answer:
        """The address fields of range ``rid``, or NetBox's 400 (``IPRange.clean``)."""
        start, end = _host(start_text), _host(end_text)
        if start is None or end is None or start.version != end.version:
            return 400, {"__all__": ["Starting and ending IP address versions must match"]}
        if end < start:
            return 400, {
                "end_address": [f"Ending address must be greater than the starting address ({start})"]
            }
        mask = start_text.partition("/")[2] or ("32" if start.version == 4 else "128")
        for other in self.ranges.values():
            lo, hi = _host(other["start_address"]), _host(other["end_address"])
            assert lo is not None and hi is not None
            if other["id"] != rid and lo.version == start.version and lo <= end and start <= hi:
                return 400, {
                    "__all__": [f"Defined addresses overlap with range {other['display']} in VRF None"]
                }
        return 200, {
            "display": range_name(start, end, mask),
            "start_address": f"{start}/{mask}",
            "end_address": f"{end}/{mask}",
            "size": int(end) - int(start) + 1,
        }

    def create_range(self, m: Any, q: dict[str, str], body: Any, host: str) -> Answer:
        body = body or {}
        rid = self._ids["ip-ranges"] + 1
        status, fields = self._range_fields(rid, str(body.get("start_address")), str(body.get("end_address")))
        if status != 200:
            return status, fields
        self._new_id("ip-ranges")
        family = ipaddress.ip_interface(fields["start_address"]).version
        obj = {
            **_record("ip-ranges", rid, fields["display"], family, host),
            **fields,
            "mark_populated": False,
            "mark_utilized": False,
        }
        self.ranges[rid] = obj
        return 201, obj

    def update_range(self, m: Any, q: dict[str, str], body: Any, host: str) -> Answer:
        obj = self.ranges.get(int(m[1]))
        if obj is None:
            return _not_found("IPRange")
        body = body or {}
        start = str(body.get("start_address", obj["start_address"]))
        end = str(body.get("end_address", obj["end_address"]))
        status, fields = self._range_fields(obj["id"], start, end)
        if status != 200:
            return status, fields
        obj.update(fields)
        return 200, obj

    def delete_range(self, m: Any, q: dict[str, str], body: Any, host: str) -> Answer:
        return _delete(self.ranges, int(m[1]), "IPRange")

    def range_allocate(self, m: Any, q: dict[str, str], body: Any, host: str) -> Answer:
        obj = self.ranges.get(int(m[1]))
        if obj is None:
            return _not_found("IPRange")
        start, end = _host(obj["start_address"]), _host(obj["end_address"])
        assert start is not None and end is not None
        free = self._free(int(start), int(end), start.version, _count(body))
        return self._allocate(free, int(obj["start_address"].partition("/")[2]), body, host)

    # -- ip addresses -------------------------------------------------------------------------

    def list_addresses(self, m: Any, q: dict[str, str], body: Any, host: str) -> Answer:
        items = list(self.addresses.values())
        if "address" in q:  # the host without a mask; with one, host and mask (a /32 misses a /24)
            items = [a for a in items if _same_address(q["address"], a["address"])]
        if "parent" in q:
            try:
                parent = ipaddress.ip_network(q["parent"], strict=False)
            except ValueError:
                parent = None
            items = [a for a in items if parent is not None and _in(a["address"], parent)]
        for key in ("dns_name", "description"):
            if key in q:
                items = [a for a in items if a[key] == q[key]]
        if "description__ie" in q:
            items = [a for a in items if a["description"].lower() == q["description__ie"].lower()]
        return self._page("ip-addresses", items, q, host)

    def _store_address(self, fields: dict[str, Any], host: str) -> Answer:
        address = str(fields.get("address"))
        ip = _host(address)
        if ip is None:
            return 400, {"address": ["Enter a valid IPv4 or IPv6 address with optional mask."]}
        if "/" not in address:
            address = f"{address}/{32 if ip.version == 4 else 128}"
        for other in self.addresses.values():
            if _host(other["address"]) == ip:
                return 400, {"address": [f"Duplicate IP address found in global table: {other['address']}"]}
        dns_name = str(fields.get("dns_name") or "")
        if dns_name and not DNS_NAME.match(dns_name):
            return 400, {"dns_name": [DNS_ERROR]}
        dns_name = dns_name.lower()  # IPAddress.save() lowercases it
        aid = self._new_id("ip-addresses")
        obj = {
            **_record("ip-addresses", aid, address, ip.version, host),
            "address": address,
            "status": {"value": str(fields.get("status") or "active"), "label": "Active"},
            "assigned_object_type": None,
            "assigned_object_id": None,
            "assigned_object": None,
            "nat_inside": None,
            "nat_outside": [],
            "dns_name": dns_name,
            "description": str(fields.get("description") or ""),
        }
        self.addresses[aid] = obj
        return 201, obj

    def create_address(self, m: Any, q: dict[str, str], body: Any, host: str) -> Answer:
        return self._store_address(body or {}, host)

    def update_address(self, m: Any, q: dict[str, str], body: Any, host: str) -> Answer:
        obj = self.addresses.get(int(m[1]))
        if obj is None:
            return _not_found("IPAddress")
        body = body or {}
        dns_name = str(body.get("dns_name", obj["dns_name"]))
        if dns_name and not DNS_NAME.match(dns_name):
            return 400, {"dns_name": [DNS_ERROR]}
        obj["dns_name"] = dns_name.lower()
        if "description" in body:
            obj["description"] = str(body["description"])
        return 200, obj

    def delete_address(self, m: Any, q: dict[str, str], body: Any, host: str) -> Answer:
        return _delete(self.addresses, int(m[1]), "IPAddress")

    # -- for assertions -----------------------------------------------------------------------

    def hosts(self) -> dict[str, dict[str, Any]]:
        """Registered addresses by host IP."""
        with self.lock:
            return {str(_host(a["address"])): dict(a) for a in self.addresses.values()}


def _delete(table: dict[int, dict[str, Any]], oid: int, model: str) -> Answer:
    if table.pop(oid, None) is None:
        return _not_found(model)
    return 204, None


def _count(body: Any) -> int:
    return len(body) if isinstance(body, list) else 1


def _same_address(query: str, stored: str) -> bool:
    try:
        if "/" in query:
            return ipaddress.ip_interface(query) == ipaddress.ip_interface(stored)
        return ipaddress.ip_address(query) == ipaddress.ip_interface(stored).ip
    except ValueError:
        return False  # an invalid value matches nothing: 200 with count 0


def _in(address: str, parent: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    ip = _host(address)
    return ip is not None and ip.version == parent.version and ip in parent
