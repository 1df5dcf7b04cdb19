"""phpIPAM plugin (``phpipam`` type): the REST calls of upstream's ``PhpIpamPlugin.pm`` (§5.4), fixed.

``url`` is the application's API root (``https://phpipam.example.com/api/<app>``), ``token`` the
application code (header ``token:``, "SSL with App code" security), ``section`` the section new
subnets go to. Every answer is ``{"code", "success", "data"|"message"}`` with the HTTP status
equal to ``code`` (``research/external-ipam-apis.md``).

Objects: a subnet (found with ``GET /subnets/cidr/<net>/<mask>/``), addresses with ``hostname``,
``mac``, ``is_gateway`` and the vmid in ``description`` (as upstream). phpIPAM has no address
ranges, so an allocation for a DHCP range takes the first free address of the subnet (as
upstream); static DHCP mappings do not need the range.

Fixed against upstream (§10.13): ``find_mac`` parses ``search_mac`` answers, ``del_subnet``
really deletes (refusing while addresses other than the gateway remain), a full subnet is
``IpamExhaustedError``, lookups honour the fingerprint, and an allocation whose answer was lost
is looked up by MAC and deleted so that no orphan stays.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from sdnkit.config.model import DhcpRange, IPAddress, Ipam, Subnet
from sdnkit.errors import ConfigError, ExternalServiceError, IpamError, IpamExhaustedError, NotFoundError
from sdnkit.ipam.base import Allocation, IpEntry, PluginEnv
from sdnkit.ipam.http import HttpClient, HttpSettings

__all__ = ["PhpipamIpam"]


def _entry(obj: dict[str, Any]) -> IpEntry:
    if str(obj.get("is_gateway") or "0") == "1":
        return IpEntry(gateway=True)
    desc = str(obj.get("description") or "")
    return IpEntry(
        mac=obj.get("mac") or None,
        hostname=obj.get("hostname") or None,
        vmid=desc if desc.isdigit() else None,
    )


def _fields(entry: IpEntry) -> dict[str, Any]:
    body: dict[str, Any] = {"hostname": entry.hostname or "", "description": entry.vmid or ""}
    if entry.mac:
        body["mac"] = entry.mac
    if entry.gateway:
        body["is_gateway"] = 1
    return body


class PhpipamIpam:
    def __init__(self, ipam_id: str, http: HttpClient, section: int) -> None:
        self.id = ipam_id
        self.http = http
        self.section = section

    @classmethod
    def from_config(cls, ipam: Ipam, env: PluginEnv) -> PhpipamIpam:
        label = f'ipam "{ipam.id}"'
        for key in ("url", "token", "section"):
            if getattr(ipam, key) in (None, ""):
                raise ConfigError(f'{label}: option "{key}" is required for phpIPAM', obj=label, key=key)
        settings = HttpSettings(
            url=str(ipam.url),
            service=f"{label} (phpIPAM)",
            headers={"token": str(ipam.token)},
            fingerprint=ipam.fingerprint,
            timeout=env.timeout,
            cafile=env.cafile,
        )
        return cls(ipam.id, HttpClient(settings), int(ipam.section or 0))

    # -- lookups ------------------------------------------------------------------------------

    def _get_list(self, path: str, what: str) -> list[dict[str, Any]]:
        """A list answer; phpIPAM answers 404 for "none found"."""
        resp = self.http.request("GET", path, what=what, accept=(404,))
        data = resp.data.get("data") if resp.status == 200 and isinstance(resp.data, dict) else None
        return data if isinstance(data, list) else []

    def _subnet_id(self, subnet: Subnet) -> str | None:
        net = subnet.network
        found = self._get_list(f"/subnets/cidr/{net.network_address}/{net.prefixlen}/", "look up the subnet")
        ours = [s for s in found if str(s.get("sectionId")) == str(self.section)] or found
        return str(ours[0]["id"]) if ours else None

    def _need_subnet_id(self, subnet: Subnet) -> str:
        sid = self._subnet_id(subnet)
        if sid is None:
            raise IpamError(
                f'subnet "{subnet.id}": {subnet.network} is not registered in phpIPAM: save it again'
            )
        return sid

    def _address(self, subnet: Subnet, ip: IPAddress) -> dict[str, Any] | None:
        sid = self._subnet_id(subnet)
        found = self._get_list(f"/addresses/search/{ip}/", f"look up address {ip}")
        return next((a for a in found if sid is None or str(a.get("subnetId")) == sid), None)

    def _registered(self, subnet: Subnet, ip: IPAddress) -> dict[str, Any]:
        """The address object of ``ip``; ``NotFoundError`` if it is not registered."""
        obj = self._address(subnet, ip)
        if obj is None:
            raise NotFoundError(f'subnet "{subnet.id}": IP {ip} is not registered in phpIPAM')
        return obj

    def verify(self) -> None:
        self.http.request("GET", f"/sections/{self.section}/", what="check the API, token and section")

    # -- subnets ------------------------------------------------------------------------------

    def add_subnet(self, subnet: Subnet) -> None:
        if self._subnet_id(subnet) is not None:
            return
        net = subnet.network
        body = {"subnet": str(net.network_address), "mask": net.prefixlen, "sectionId": self.section}
        self.http.request("POST", "/subnets/", body=body, what="create the subnet")

    def update_subnet(self, old: Subnet, new: Subnet) -> None:
        pass  # phpIPAM keeps no DHCP ranges

    def del_subnet(self, subnet: Subnet) -> None:
        sid = self._subnet_id(subnet)
        if sid is None:
            return
        inside = self._get_list(f"/subnets/{sid}/addresses/", "list the subnet's addresses")
        others = [a["ip"] for a in inside if not _entry(a).gateway]
        if others:
            raise IpamError(
                f'subnet "{subnet.id}": cannot delete, {len(others)} address(es) still registered in phpIPAM '
                f"(e.g. {others[0]}): release them first",
                obj=f'subnet "{subnet.id}"',
            )
        # phpIPAM deletes the subnet together with its (gateway) addresses
        self.http.request("DELETE", f"/subnets/{sid}/", what="delete the subnet")

    # -- addresses ----------------------------------------------------------------------------

    def add_ip(self, subnet: Subnet, ip: IPAddress, entry: IpEntry) -> None:
        if ip.version != subnet.version or ip not in subnet.network:
            raise IpamError(f'subnet "{subnet.id}": {ip} is not in {subnet.network}', key="ip", value=str(ip))
        sid = self._need_subnet_id(subnet)
        body = {"subnetId": sid, "ip": str(ip), **_fields(entry)}
        resp = self.http.request(
            "POST", "/addresses/", body=body, what=f"register address {ip}", accept=(409,)
        )
        if resp.status != 409:
            return
        existing = self._address(subnet, ip)
        if not (entry.gateway and existing is not None and _entry(existing).gateway):
            raise IpamError(
                f'subnet "{subnet.id}": IP {ip} is already registered in phpIPAM', key="ip", value=str(ip)
            )

    def update_ip(self, subnet: Subnet, ip: IPAddress, entry: IpEntry) -> None:
        obj = self._registered(subnet, ip)
        body = _fields(entry)
        body.pop("is_gateway", None)
        self.http.request("PATCH", f"/addresses/{obj['id']}/", body=body, what=f"update address {ip}")

    def del_ip(self, subnet: Subnet, ip: IPAddress) -> None:
        obj = self._registered(subnet, ip)
        self.http.request("DELETE", f"/addresses/{obj['id']}/", what=f"delete address {ip}", accept=(404,))

    def next_free_ip(self, subnet: Subnet, entry: IpEntry, pool: DhcpRange | None = None) -> IPAddress:
        sid = self._need_subnet_id(subnet)
        before = {str(a["id"]) for a in self._by_mac(entry.mac)} if entry.mac else set()
        try:
            resp = self.http.request(
                "POST",
                f"/addresses/first_free/{sid}/",
                body=_fields(entry),
                what="allocate an address",
                accept=(404,),
            )
        except ExternalServiceError as err:
            if entry.mac and (err.status is None or err.status >= 500):
                self._remove_orphans(subnet, entry.mac, before, err)
            raise
        if resp.status == 404:
            message = resp.data.get("message", "") if isinstance(resp.data, dict) else ""
            raise IpamExhaustedError(
                f'subnet "{subnet.id}": no free IP left in {subnet.network} (phpIPAM: {message})',
                value=str(subnet.network),
            )
        return ipaddress.ip_address(str(resp.data["data"]).split("/")[0])

    def _by_mac(self, mac: str | None) -> list[dict[str, Any]]:
        return self._get_list(f"/addresses/search_mac/{mac}/", "find the MAC's addresses") if mac else []

    def _remove_orphans(self, subnet: Subnet, mac: str, before: set[str], err: BaseException) -> None:
        try:
            for obj in self._by_mac(mac):
                ip = ipaddress.ip_address(obj["ip"])
                if str(obj["id"]) not in before and ip in subnet.network:
                    self.http.request(
                        "DELETE", f"/addresses/{obj['id']}/", what="undo: delete", accept=(404,)
                    )
                    err.add_note(f"removed address {ip} created by the failed call")
        except ExternalServiceError as cleanup_err:
            err.add_note(f"could not check for an address left by the failed call: {cleanup_err}")

    # -- lookups ------------------------------------------------------------------------------

    def find_mac(self, subnets: Sequence[Subnet], mac: str) -> list[Allocation]:
        out = []
        for obj in self._by_mac(mac):
            ip = ipaddress.ip_address(obj["ip"])
            subnet = next((s for s in subnets if s.version == ip.version and ip in s.network), None)
            if subnet is not None:
                out.append(Allocation(subnet, ip, _entry(obj)))
        return out

    def allocations(self, subnets: Sequence[Subnet]) -> list[Allocation]:
        out = []
        for subnet in subnets:
            sid = self._subnet_id(subnet)
            if sid is None:
                continue
            found = self._get_list(f"/subnets/{sid}/addresses/", "list the addresses")
            out.extend(Allocation(subnet, ipaddress.ip_address(o["ip"]), _entry(o)) for o in found)
        return out
