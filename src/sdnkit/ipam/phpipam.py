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

What phpIPAM v1.8.2 really answers (``research/external-ipam-apis.md``, second check):

* ``search_mac`` gives the first row's ``ip`` dotted and later rows' as a decimal integer string
  (its address cache fills the dotted form once per MAC): both forms are read (``_ip``);
* ids are JSON integers in objects and strings in POST answers: they are compared as strings;
* ``first_free`` on an IPv6 subnet hands out the network address itself, the subnet-router
  anycast address (RFC 4291 §2.6.1) no host may take: ``add_subnet`` reserves it (tag 3,
  "Reserved"), and an allocation that still gets it (a subnet registered before, or by someone
  else) reserves it then and takes the next address. The reservation is no guest: listings and
  ``del_subnet`` leave it out;
* ``verify`` (on ipam create/update) reads the section with the token: a wrong URL, app, token,
  section or certificate is refused before the IPAM is saved.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

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
    http_settings,
    reads_answers,
    undo_on_error,
)
from sdnkit.ipam.http import HttpClient, server_message

__all__ = ["PhpipamIpam"]

RESERVED_TAG = 3  # phpIPAM's built-in address tag "Reserved" (ipTags table)
ANYCAST = "subnet-router anycast address, reserved by sdnkit"


def _ip(raw: object, version: int) -> IPAddress:
    """An address as phpIPAM writes it: dotted, or (``search_mac`` rows) a decimal integer."""
    text = str(raw).strip()
    if text.isdigit():  # an IPv6 address may be small, an IPv4 one never exceeds 32 bits
        return ipaddress.IPv6Address(int(text)) if version == 6 else ipaddress.ip_address(int(text))
    return ipaddress.ip_address(text.split("/")[0])


def _placed(obj: dict[str, Any], subnets: Sequence[Subnet]) -> tuple[Subnet, IPAddress] | None:
    """The subnet (of ``subnets``) that holds the address row ``obj``, and its address."""
    for subnet in subnets:
        ip = _ip(obj["ip"], subnet.version)
        if ip.version == subnet.version and ip in subnet.network:
            return subnet, ip
    return None


def _anycast(subnet: Subnet) -> IPAddress | None:
    """The subnet-router anycast address no host may get (IPv6 but /128), as ``ranges.usable_bounds``."""
    net = subnet.network
    return net.network_address if net.version == 6 and net.prefixlen < 128 else None


def _reservation(obj: dict[str, Any], subnet: Subnet) -> bool:
    """Whether the row is the anycast reservation (a guest that got it before has a MAC)."""
    return not obj.get("mac") and _ip(obj["ip"], subnet.version) == _anycast(subnet)


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


@reads_answers
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
        settings = http_settings(ipam, env, "phpIPAM", {"token": str(ipam.token)})
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

    def _post_address(self, sid: str, ip: IPAddress, fields: dict[str, Any], what: str) -> bool:
        """Register ``ip``; False when it is registered already (409)."""
        body = {"subnetId": sid, "ip": str(ip), **fields}
        resp = self.http.request("POST", "/addresses/", body=body, what=what, accept=(409,))
        return resp.status != 409

    def _registered(self, subnet: Subnet, ip: IPAddress) -> dict[str, Any]:
        """The address object of ``ip``; ``NotFoundError`` if it is not registered."""
        obj = self._address(subnet, ip)
        if obj is None:
            raise NotFoundError(f'subnet "{subnet.id}": IP {ip} is not registered in phpIPAM')
        return obj

    def verify(self) -> None:
        # phpIPAM: 400 "Invalid application id", 401 "Unauthorized", 404 "Section does not exist",
        # 503 "SSL connection is required for API" (research/external-ipam-apis.md, api/index.php)
        shown = {"url": self.http.settings.url, "section": self.section}
        keys = {400: "url", 401: "token", 403: "token", 404: "section", 503: "url"}
        try:
            self.http.request("GET", f"/sections/{self.section}/", what="check the API, token and section")
        except ExternalServiceError as err:
            raise CheckFailure(self.id, "phpIPAM", shown, keys).error(
                err, server_message(err, "message")
            ) from None

    # -- subnets ------------------------------------------------------------------------------

    def add_subnet(self, subnet: Subnet) -> None:
        sid = self._subnet_id(subnet)
        with undo_on_error() as undo:
            if sid is None:
                net = subnet.network
                body = {"subnet": str(net.network_address), "mask": net.prefixlen, "sectionId": self.section}
                self.http.request("POST", "/subnets/", body=body, what="create the subnet")
                sid = self._need_subnet_id(subnet)
                undo.push("delete the subnet", lambda: self._delete_subnet(str(sid)))
            self._reserve_anycast(subnet, sid)

    def _reserve_anycast(self, subnet: Subnet, sid: str) -> None:
        """Keep phpIPAM's first_free from handing out the IPv6 subnet-router anycast address."""
        anycast = _anycast(subnet)
        if anycast is not None:
            fields = {"hostname": "", "description": ANYCAST, "tag": RESERVED_TAG}
            self._post_address(sid, anycast, fields, f"reserve the subnet-router anycast address {anycast}")

    def _delete_subnet(self, sid: str) -> None:
        self.http.request("DELETE", f"/subnets/{sid}/", what="delete the subnet", accept=(404,))

    def update_subnet(self, old: Subnet, new: Subnet) -> None:
        pass  # phpIPAM keeps no DHCP ranges

    def del_subnet(self, subnet: Subnet) -> None:
        sid = self._subnet_id(subnet)
        if sid is None:
            return
        inside = self._get_list(f"/subnets/{sid}/addresses/", "list the subnet's addresses")
        others = [a["ip"] for a in inside if not (_entry(a).gateway or _reservation(a, subnet))]
        if others:
            raise IpamError(
                f'subnet "{subnet.id}": cannot delete, {len(others)} address(es) still registered in phpIPAM '
                f"(e.g. {others[0]}): release them first",
                obj=f'subnet "{subnet.id}"',
            )
        # phpIPAM deletes the subnet together with its addresses (gateway, anycast reservation)
        self.http.request("DELETE", f"/subnets/{sid}/", what="delete the subnet")

    # -- addresses ----------------------------------------------------------------------------

    def add_ip(self, subnet: Subnet, ip: IPAddress, entry: IpEntry) -> None:
        if ip.version != subnet.version or ip not in subnet.network:
            raise IpamError(f'subnet "{subnet.id}": {ip} is not in {subnet.network}', key="ip", value=str(ip))
        sid = self._need_subnet_id(subnet)
        if self._post_address(sid, ip, _fields(entry), f"register address {ip}"):
            return
        existing = self._address(subnet, ip)
        if not (entry.gateway and existing is not None and _entry(existing).gateway):
            raise IpamTakenError(
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
        ip, aid = self._first_free(subnet, sid, entry)
        if ip == _anycast(subnet):
            # phpIPAM gives IPv6 subnets their network address first: keep it, as the reservation
            # add_subnet would have made, and take the next one
            body = {"hostname": "", "description": ANYCAST, "mac": "", "tag": RESERVED_TAG}
            with undo_on_error() as undo:
                undo.push(f"delete {ip}", lambda: self._delete_address(aid))
                self.http.request("PATCH", f"/addresses/{aid}/", body=body, what=f"reserve {ip}")
            ip, aid = self._first_free(subnet, sid, entry)
        return ip

    def _delete_address(self, aid: str) -> None:
        self.http.request("DELETE", f"/addresses/{aid}/", what="undo: delete", accept=(404,))

    def _first_free(self, subnet: Subnet, sid: str, entry: IpEntry) -> tuple[IPAddress, str]:
        """``POST first_free``: the address phpIPAM registered for ``entry``, and its id."""
        before = {str(a["id"]) for a in self._by_mac(entry.mac)}
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
        return _ip(resp.data["data"], subnet.version), str(resp.data["id"])

    def _by_mac(self, mac: str | None) -> list[dict[str, Any]]:
        return self._get_list(f"/addresses/search_mac/{mac}/", "find the MAC's addresses") if mac else []

    def _remove_orphans(self, subnet: Subnet, mac: str, before: set[str], err: BaseException) -> None:
        try:
            for obj in self._by_mac(mac):
                placed = _placed(obj, [subnet])
                if str(obj["id"]) not in before and placed is not None:
                    self._delete_address(str(obj["id"]))
                    err.add_note(f"removed address {placed[1]} created by the failed call")
        except Exception as cleanup_err:  # never hides the error of the allocation
            err.add_note(f"could not check for an address left by the failed call: {cleanup_err}")

    # -- lookups ------------------------------------------------------------------------------

    def find_mac(self, subnets: Sequence[Subnet], mac: str) -> list[Allocation]:
        out = []
        for obj in self._by_mac(mac):
            placed = _placed(obj, subnets)
            if placed is not None:
                out.append(Allocation(placed[0], placed[1], _entry(obj)))
        return out

    def allocations(self, subnets: Sequence[Subnet]) -> list[Allocation]:
        out = []
        for subnet in subnets:
            sid = self._subnet_id(subnet)
            if sid is None:
                continue
            found = self._get_list(f"/subnets/{sid}/addresses/", "list the addresses")
            out.extend(
                Allocation(subnet, _ip(o["ip"], subnet.version), _entry(o))
                for o in found
                if not _reservation(o, subnet)
            )
        return out
