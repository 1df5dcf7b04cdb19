"""PowerDNS authoritative server over its HTTP API (spec §5.6; header ``X-API-Key``).

``url`` is the server endpoint, e.g. ``http://127.0.0.1:8081/api/v1/servers/localhost``.

* A/AAAA: a PATCH with ``changetype: REPLACE`` replaces the whole record set, so adding an
  address reads the zone, merges, and writes the set back (TTL: the plugin's ``ttl``, else 14400);
  removing one writes back the others with their TTL, or deletes the set when none is left.
  The read-merge-write is serialised per name inside this process; PowerDNS offers no
  conditional write, so two processes adding to the same name at the same instant can still race.
* PTR: one record per address, REPLACE on add and DELETE on remove.
* Reverse zones: the most specific ``in-addr.arpa.``/``ip6.arpa.`` zone the server hosts for the
  address, or exactly the ``reversemaskv6`` nibble zone for IPv6 (``dns/reverse.py``). The zone
  list is read once per plugin object.
"""

from __future__ import annotations

import ipaddress
import threading
from collections import defaultdict
from typing import Any
from urllib.parse import quote

from sdnkit.config.model import Dns, IPAddress
from sdnkit.dns.base import DEFAULT_TTL
from sdnkit.dns.reverse import candidate_zones, fqdn, is_reverse_zone, pick_reverse_zone, ptr_name, zone_at
from sdnkit.errors import DnsError
from sdnkit.ipam.http import HttpClient, HttpSettings

__all__ = ["PowerDns"]

_NAME_LOCKS: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)


def _rtype(ip: IPAddress) -> str:
    return "A" if ip.version == 4 else "AAAA"


def _same_ip(content: str, ip: IPAddress) -> bool:
    try:
        return ipaddress.ip_address(content) == ip
    except ValueError:
        return False


class PowerDns:
    def __init__(self, dns_id: str, client: HttpClient, ttl: int, reversemaskv6: int | None = None) -> None:
        self.id = dns_id
        self.client = client
        self.ttl = ttl
        self.reversemaskv6 = reversemaskv6
        self._hosted: list[str] | None = None

    @classmethod
    def from_config(cls, dns: Dns, *, timeout: float = 30.0) -> PowerDns:
        settings = HttpSettings(
            url=dns.url,
            service=f'dns "{dns.id}" (PowerDNS)',
            headers={"X-API-Key": dns.key},
            fingerprint=dns.fingerprint,
            timeout=timeout,
        )
        return cls(dns.id, HttpClient(settings), dns.ttl or DEFAULT_TTL, dns.reversemaskv6)

    @property
    def label(self) -> str:
        return f'dns "{self.id}"'

    def _zone_path(self, zone: str) -> str:
        return "/zones/" + quote(fqdn(zone), safe=".")

    def verify(self) -> None:
        self.client.request("GET", "", what="check the API")

    def verify_zone(self, zone: str) -> None:
        resp = self.client.request(
            "GET", self._zone_path(zone), query={"rrsets": "false"}, what="check the zone", accept=(404, 422)
        )
        if resp.status != 200:
            raise DnsError(f"{self.label}: zone {fqdn(zone)} does not exist on the server", obj=self.label)

    def hosted_zones(self) -> list[str]:
        if self._hosted is None:
            zones = self.client.request("GET", "/zones", what="list the zones").data or []
            self._hosted = sorted(fqdn(z["name"]) for z in zones if is_reverse_zone(z.get("name", "")))
        return self._hosted

    def reverse_zone(self, ip: IPAddress) -> str:
        zone = pick_reverse_zone(ip, self.hosted_zones(), self.reversemaskv6 if ip.version == 6 else None)
        if zone is None:
            if ip.version == 6 and self.reversemaskv6 is not None:
                tried = f"{zone_at(ip, self.reversemaskv6)} (reversemaskv6={self.reversemaskv6})"
            elif ip.version == 6:
                tried = "its nibble zones, /124 up to /4"
            else:
                tried = ", ".join(candidate_zones(ip))
            raise DnsError(
                f"{self.label}: no reverse zone for {ip} on the server (looked for {tried})", obj=self.label
            )
        return zone

    def _rrset(self, zone: str, name: str, rtype: str) -> dict[str, Any] | None:
        data = self.client.request("GET", self._zone_path(zone), what="read the zone").data or {}
        for rrset in data.get("rrsets", ()):
            if fqdn(rrset.get("name", "")) == name and rrset.get("type") == rtype:
                return rrset
        return None

    def _patch(self, zone: str, rrset: dict[str, Any], what: str) -> None:
        self.client.request("PATCH", self._zone_path(zone), body={"rrsets": [rrset]}, what=what)

    def _records(self, name: str, rtype: str, contents: list[tuple[str, bool]]) -> list[dict[str, Any]]:
        return [{"content": c, "disabled": d, "name": name, "type": rtype} for c, d in contents]

    def add_a_record(self, zone: str, name: str, ip: IPAddress) -> None:
        name, rtype = fqdn(name), _rtype(ip)
        with _NAME_LOCKS[f"{self.id}/{name}/{rtype}"]:
            rrset = self._rrset(zone, name, rtype)
            existing = [(r["content"], bool(r.get("disabled"))) for r in (rrset or {}).get("records", ())]
            if any(_same_ip(c, ip) for c, _ in existing):
                return
            records = self._records(name, rtype, [*existing, (str(ip), False)])
            body = {"name": name, "type": rtype, "ttl": self.ttl, "changetype": "REPLACE", "records": records}
            self._patch(zone, body, f"add {rtype} record {name} {ip}")

    def del_a_record(self, zone: str, name: str, ip: IPAddress) -> None:
        name, rtype = fqdn(name), _rtype(ip)
        with _NAME_LOCKS[f"{self.id}/{name}/{rtype}"]:
            rrset = self._rrset(zone, name, rtype)
            existing = [(r["content"], bool(r.get("disabled"))) for r in (rrset or {}).get("records", ())]
            left = [(c, d) for c, d in existing if not _same_ip(c, ip)]
            if rrset is None or len(left) == len(existing):
                return
            body: dict[str, Any] = {"name": name, "type": rtype, "changetype": "DELETE", "records": []}
            if left:
                ttl = rrset.get("ttl", self.ttl)
                body.update(changetype="REPLACE", ttl=ttl, records=self._records(name, rtype, left))
            self._patch(zone, body, f"delete {rtype} record {name} {ip}")

    def add_ptr_record(self, zone: str, name: str, ip: IPAddress) -> None:
        owner = ptr_name(ip)
        records = self._records(owner, "PTR", [(fqdn(name), False)])
        body = {"name": owner, "type": "PTR", "ttl": self.ttl, "changetype": "REPLACE", "records": records}
        self._patch(zone, body, f"add PTR record {owner} {fqdn(name)}")

    def del_ptr_record(self, zone: str, ip: IPAddress) -> None:
        owner = ptr_name(ip)
        body = {"name": owner, "type": "PTR", "changetype": "DELETE", "records": []}
        self._patch(zone, body, f"delete PTR record {owner}")
