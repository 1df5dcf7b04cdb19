"""NetBox IPAM plugin (``netbox`` type): the REST calls of upstream's ``NetboxPlugin.pm`` (§5.3), fixed.

Objects: a subnet is a NetBox prefix, each DHCP range an ip-range, each address an ip-address
whose ``description`` is ``gateway`` or ``mac:<mac>`` and ``dns_name`` the hostname (as upstream,
so entries PVE made are understood; NetBox has no place for the vmid).

Differences from upstream, on purpose:

* lookups use NetBox's exact filters (``?prefix=``, ``?address=``, ``?start_address=``,
  ``?description__ie=``), never the ``?q=`` substring search that also matches 10.0.0.10-19
  (``research/external-ipam-apis.md``); lists follow the pagination ``next`` links;
* allocation is ``POST …/available-ips/`` on the prefix, or on the ip-range of the DHCP range;
  a full pool (409) is ``IpamExhaustedError``;
* a subnet whose registration fails half way is removed again; an allocation whose answer was
  lost (timeout, 5xx) is looked up and deleted, so no orphan address stays behind;
* ``del_subnet`` refuses only when addresses other than the gateway remain (upstream counts
  results of the wrong key, §10.13);
* changed DHCP ranges: the old ip-ranges are deleted before the new ones are created (NetBox
  refuses a range that overlaps an existing one, 400 "Defined addresses overlap with range …"),
  and re-created if a later step fails;
* ``verify`` (on ipam create/update) reads ``/api/status/``, which needs the token: a wrong URL,
  token or certificate is refused before the IPAM is saved.

Authentication: ``Authorization: Token <token>`` (v1 tokens), or ``Bearer`` for v2 tokens
(``nbt_…``), as NetBox 4.x expects.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sdnkit.config.model import DhcpRange, IPAddress, Ipam, Subnet
from sdnkit.errors import (
    ConfigError,
    ExternalServiceError,
    IpamError,
    IpamExhaustedError,
    IpamTakenError,
    NotFoundError,
)
from sdnkit.ipam.base import (
    Allocation,
    CheckFailure,
    IpEntry,
    PluginEnv,
    Undo,
    http_settings,
    reads_answers,
    undo_on_error,
)
from sdnkit.ipam.http import HttpClient, server_message

__all__ = ["NetboxIpam"]

_MAX_PAGES = 1000


def _host(address: str) -> IPAddress:
    return ipaddress.ip_interface(address).ip


def _description(entry: IpEntry) -> str:
    if entry.gateway:
        return "gateway"
    return f"mac:{entry.mac}" if entry.mac else ""


def _entry(obj: dict[str, Any], subnet: Subnet) -> IpEntry:
    desc = str(obj.get("description") or "")
    if desc == "gateway":
        return IpEntry(gateway=True)
    mac = desc[4:] if desc.lower().startswith("mac:") else None
    return IpEntry(mac=mac or None, hostname=obj.get("dns_name") or None)


@reads_answers
class NetboxIpam:
    def __init__(self, ipam_id: str, http: HttpClient) -> None:
        self.id = ipam_id
        self.http = http

    @classmethod
    def from_config(cls, ipam: Ipam, env: PluginEnv) -> NetboxIpam:
        label = f'ipam "{ipam.id}"'
        for key in ("url", "token"):
            if not getattr(ipam, key):
                raise ConfigError(f'{label}: option "{key}" is required for NetBox', obj=label, key=key)
        token = str(ipam.token)
        scheme = "Bearer" if token.startswith("nbt_") else "Token"
        headers = {"Authorization": f"{scheme} {token}"}
        return cls(ipam.id, HttpClient(http_settings(ipam, env, "NetBox", headers)))

    # -- lookups ------------------------------------------------------------------------------

    def _list(self, path: str, query: dict[str, str], what: str) -> list[dict[str, Any]]:
        """Every result of a paginated list, following ``next``."""
        out: list[dict[str, Any]] = []
        page: dict[str, str] | None = dict(query)
        for _ in range(_MAX_PAGES):
            if page is None:
                return out
            data = self.http.request("GET", path, query=page, what=what).data or {}
            out.extend(data.get("results") or [])
            nxt = data.get("next")
            page = dict(parse_qsl(urlsplit(nxt).query)) if nxt else None
        raise ExternalServiceError(f"{self.http.settings.service}: {what}: more than {_MAX_PAGES} pages")

    def _prefix(self, subnet: Subnet) -> dict[str, Any] | None:
        found = self._list("/ipam/prefixes/", {"prefix": str(subnet.network)}, "look up the prefix")
        # the same prefix may exist in several VRFs: prefer the global one, as sdnkit uses no VRF
        found.sort(key=lambda p: p.get("vrf") is not None)
        return found[0] if found else None

    def _range(self, subnet: Subnet, r: DhcpRange) -> dict[str, Any] | None:
        query = {"start_address": str(r.start), "end_address": str(r.end)}
        found = self._list("/ipam/ip-ranges/", query, "look up the ip-range")
        return found[0] if found else None

    def _address(self, subnet: Subnet, ip: IPAddress) -> dict[str, Any] | None:
        found = self._list("/ipam/ip-addresses/", {"address": str(ip)}, f"look up address {ip}")
        return found[0] if found else None

    def _delete(self, path: str, what: str) -> None:
        self.http.request("DELETE", path, what=what, accept=(404,))

    def _registered(self, subnet: Subnet, ip: IPAddress) -> dict[str, Any]:
        """The address object of ``ip``; ``NotFoundError`` if it is not registered."""
        obj = self._address(subnet, ip)
        if obj is None:
            raise NotFoundError(f'subnet "{subnet.id}": IP {ip} is not registered in NetBox')
        return obj

    def verify(self) -> None:
        # NetBox answers 403 for a missing or wrong token ("Invalid v1 token"/"Invalid v2 token"),
        # 404 where there is no API (research/external-ipam-apis.md)
        check = CheckFailure(
            self.id, "NetBox", {"url": self.http.settings.url}, {401: "token", 403: "token", 404: "url"}
        )
        try:
            self.http.request("GET", "/status/", what="check the API and token")
        except ExternalServiceError as err:
            raise check.error(err, server_message(err, "detail")) from None

    # -- subnets ------------------------------------------------------------------------------

    def _add_range(self, subnet: Subnet, r: DhcpRange) -> int:
        body = {
            "start_address": f"{r.start}/{subnet.prefixlen}",
            "end_address": f"{r.end}/{subnet.prefixlen}",
        }
        data = self.http.request(
            "POST", "/ipam/ip-ranges/", body=body, what=f"create ip-range {r.start}-{r.end}"
        )
        return int(data.data["id"])

    def add_subnet(self, subnet: Subnet) -> None:
        with undo_on_error() as undo:
            if self._prefix(subnet) is None:
                body = {"prefix": str(subnet.network)}
                made = self.http.request("POST", "/ipam/prefixes/", body=body, what="create the prefix").data
                pid = int(made["id"])
                undo.push(
                    "delete the prefix", lambda: self._delete(f"/ipam/prefixes/{pid}/", "undo: delete prefix")
                )
            self._add_ranges(subnet, subnet.dhcp_ranges, undo)

    def _add_ranges(self, subnet: Subnet, ranges: Sequence[DhcpRange], undo: Undo) -> None:
        for r in ranges:
            if self._range(subnet, r) is None:
                rid = self._add_range(subnet, r)
                undo.push(
                    f"delete ip-range {rid}", lambda rid=rid: self._delete(f"/ipam/ip-ranges/{rid}/", "undo")
                )

    def _del_ranges(self, subnet: Subnet, ranges: Sequence[DhcpRange], undo: Undo) -> None:
        for r in ranges:
            found = self._range(subnet, r)
            if found is not None:
                self._delete(f"/ipam/ip-ranges/{found['id']}/", f"delete ip-range {r.start}-{r.end}")
                undo.push(f"re-create ip-range {r.start}-{r.end}", lambda r=r: self._add_range(subnet, r))

    def update_subnet(self, old: Subnet, new: Subnet) -> None:
        removed = [r for r in old.dhcp_ranges if r not in new.dhcp_ranges]
        added = [r for r in new.dhcp_ranges if r not in old.dhcp_ranges]
        with undo_on_error() as undo:
            # old ranges go first: NetBox refuses a new range that overlaps one still there
            self._del_ranges(old, removed, undo)
            self._add_ranges(new, added, undo)

    def del_subnet(self, subnet: Subnet) -> None:
        prefix = self._prefix(subnet)
        if prefix is None:
            return
        inside = self._list(
            "/ipam/ip-addresses/", {"parent": str(subnet.network)}, "list the prefix's addresses"
        )
        gateways = [a for a in inside if _entry(a, subnet).gateway or _host(a["address"]) == subnet.gateway]
        others = [a["address"] for a in inside if a not in gateways]
        if others:
            raise IpamError(
                f'subnet "{subnet.id}": cannot delete, {len(others)} address(es) still registered in NetBox '
                f"(e.g. {others[0]}): release them first",
                obj=f'subnet "{subnet.id}"',
            )
        with undo_on_error() as undo:
            for gw in gateways:
                self._delete(f"/ipam/ip-addresses/{gw['id']}/", "delete the gateway address")
                body = {
                    "address": gw["address"],
                    "description": "gateway",
                    "dns_name": gw.get("dns_name") or "",
                }
                undo.push("re-create the gateway", lambda b=body: self._post_address(b, "undo: gateway"))
            self._del_ranges(subnet, subnet.dhcp_ranges, undo)
            self._delete(f"/ipam/prefixes/{prefix['id']}/", "delete the prefix")

    # -- addresses ----------------------------------------------------------------------------

    def _post_address(self, body: dict[str, Any], what: str) -> Any:
        return self.http.request("POST", "/ipam/ip-addresses/", body=body, what=what, accept=(400,))

    def add_ip(self, subnet: Subnet, ip: IPAddress, entry: IpEntry) -> None:
        if ip.version != subnet.version or ip not in subnet.network:
            raise IpamError(f'subnet "{subnet.id}": {ip} is not in {subnet.network}', key="ip", value=str(ip))
        existing = self._address(subnet, ip)
        if existing is None:
            body: dict[str, Any] = {"address": f"{ip}/{subnet.prefixlen}", "description": _description(entry)}
            if entry.hostname:
                body["dns_name"] = entry.hostname
            resp = self._post_address(body, f"register address {ip}")
            if resp.status != 400:
                return
            if "duplicate" not in str(resp.data).lower():
                raise ExternalServiceError(
                    f"{self.http.settings.service}: register address {ip}: refused: {resp.data}", status=400
                )
            existing = self._address(subnet, ip) or {}
        if not (entry.gateway and _entry(existing, subnet).gateway):
            raise IpamTakenError(
                f'subnet "{subnet.id}": IP {ip} is already registered in NetBox', key="ip", value=str(ip)
            )

    def update_ip(self, subnet: Subnet, ip: IPAddress, entry: IpEntry) -> None:
        obj = self._registered(subnet, ip)
        body = {"description": _description(entry), "dns_name": entry.hostname or ""}
        self.http.request("PATCH", f"/ipam/ip-addresses/{obj['id']}/", body=body, what=f"update address {ip}")

    def del_ip(self, subnet: Subnet, ip: IPAddress) -> None:
        obj = self._registered(subnet, ip)
        self._delete(f"/ipam/ip-addresses/{obj['id']}/", f"delete address {ip}")

    def next_free_ip(self, subnet: Subnet, entry: IpEntry, pool: DhcpRange | None = None) -> IPAddress:
        if pool is not None:
            found = self._range(subnet, pool)
            where, path = f"ip-range {pool.start}-{pool.end}", "/ipam/ip-ranges/{}/available-ips/"
        else:
            found = self._prefix(subnet)
            where, path = f"prefix {subnet.network}", "/ipam/prefixes/{}/available-ips/"
        if found is None:
            raise IpamError(
                f'subnet "{subnet.id}": {where} is not registered in NetBox: save the subnet again'
            )
        body: dict[str, Any] = {"description": _description(entry)}
        if entry.hostname:
            body["dns_name"] = entry.hostname
        before = {a["id"] for a in self._mine(subnet, entry)}
        try:
            resp = self.http.request(
                "POST", path.format(found["id"]), body=body, what="allocate an address", accept=(409,)
            )
        except ExternalServiceError as err:
            if err.status is None or err.status >= 500:  # the address may exist without us knowing it
                self._remove_orphans(subnet, entry, before, err)
            raise
        if resp.status == 409:
            raise IpamExhaustedError(
                f'subnet "{subnet.id}": no free IP left in {where} (NetBox)', value=where
            )
        return _host(resp.data["address"])

    def _mine(self, subnet: Subnet, entry: IpEntry) -> list[dict[str, Any]]:
        if not entry.mac:
            return []
        query = {"parent": str(subnet.network), "description__ie": _description(entry)}
        return self._list("/ipam/ip-addresses/", query, "list the addresses of this MAC")

    def _remove_orphans(self, subnet: Subnet, entry: IpEntry, before: set[int], err: BaseException) -> None:
        try:
            for obj in self._mine(subnet, entry):
                if obj["id"] not in before:
                    self._delete(f"/ipam/ip-addresses/{obj['id']}/", "undo: delete the unconfirmed address")
                    err.add_note(f"removed address {obj['address']} created by the failed call")
        except Exception as cleanup_err:  # never hides the error of the allocation
            err.add_note(f"could not check for an address left by the failed call: {cleanup_err}")

    # -- lookups ------------------------------------------------------------------------------

    def find_mac(self, subnets: Sequence[Subnet], mac: str) -> list[Allocation]:
        found = self._list(
            "/ipam/ip-addresses/", {"description__ie": f"mac:{mac}"}, "find the MAC's addresses"
        )
        out = []
        for obj in found:
            ip = _host(obj["address"])
            subnet = next((s for s in subnets if s.version == ip.version and ip in s.network), None)
            if subnet is not None:
                out.append(Allocation(subnet, ip, _entry(obj, subnet)))
        return out

    def allocations(self, subnets: Sequence[Subnet]) -> list[Allocation]:
        out = []
        for subnet in subnets:
            found = self._list("/ipam/ip-addresses/", {"parent": str(subnet.network)}, "list the addresses")
            out.extend(Allocation(subnet, _host(o["address"]), _entry(o, subnet)) for o in found)
        return out
