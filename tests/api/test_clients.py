"""What PVE API clients call besides the SDN objects: the VNet firewall, cluster resources, users.

Through ``requests`` (the wire format proxmoxer and Ansible use) against a real ``sdn serve``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from tests.api.conftest import unique

if TYPE_CHECKING:
    from tests.api.conftest import Server

pytestmark = pytest.mark.api


def _vnet(server: Server) -> tuple[str, str]:
    zone, vnet = unique("fz"), unique("fv")
    server.root("POST", "/cluster/sdn/zones", data={"zone": zone, "type": "simple"})
    server.root("POST", "/cluster/sdn/vnets", data={"vnet": vnet, "zone": zone})
    return zone, vnet


def _fw(vnet: str) -> str:
    return f"/cluster/sdn/vnets/{vnet}/firewall"


def test_vnet_firewall_rules_are_stored_as_pve_stores_them(server: Server) -> None:
    _, vnet = _vnet(server)
    assert server.root("GET", _fw(vnet)) == [{"name": "rules"}, {"name": "options"}]
    options = server.root("GET", f"{_fw(vnet)}/options")
    server.root(
        "PUT",
        f"{_fw(vnet)}/options",
        data={"enable": 1, "policy_forward": "DROP", "digest": options["digest"]},
    )
    server.root("POST", f"{_fw(vnet)}/rules", data={"type": "forward", "action": "DROP", "proto": "icmp"})
    server.root(
        "POST",
        f"{_fw(vnet)}/rules",
        data={"type": "forward", "action": "ACCEPT", "macro": "ssh", "source": f"+sdn/{vnet}-all",
              "log": "info", "enable": 1, "comment": "admins"},
    )  # fmt: skip
    text = (server.config_dir / "firewall" / f"{vnet}.fw").read_text()
    assert text == (
        "[OPTIONS]\n\nenable: 1\npolicy_forward: DROP\n\n[RULES]\n\n"
        f"FORWARD SSH(ACCEPT) -source +sdn/{vnet}-all -log info # admins\n"
        "|FORWARD DROP -p icmp\n\n"
    )
    rules = server.root("GET", f"{_fw(vnet)}/rules")
    assert [(r["pos"], r.get("macro"), r["enable"]) for r in rules] == [(0, "SSH", 1), (1, None, 0)]
    assert len({r["digest"] for r in rules}) == 1
    assert server.root("GET", f"{_fw(vnet)}/rules/1")["proto"] == "icmp"

    # move (PVE: other arguments are ignored), update, delete, each checked against the digest
    server.root(
        "PUT", f"{_fw(vnet)}/rules/1", data={"moveto": 0, "comment": "ignored", "digest": rules[0]["digest"]}
    )
    moved = server.root("GET", f"{_fw(vnet)}/rules")
    assert [r.get("proto") for r in moved] == ["icmp", None] and "comment" not in moved[0]
    stale = server.call(
        "DELETE", f"{_fw(vnet)}/rules/0", server.root_token, params={"digest": rules[0]["digest"]}
    )
    assert stale.status_code == 409
    server.root("PUT", f"{_fw(vnet)}/rules/1", data={"delete": "log", "dest": "10.9.0.0/24"})
    bad = server.call("PUT", f"{_fw(vnet)}/rules/1", server.root_token, data={"proto": "udp"})
    assert bad.status_code == 400 and "already defined in macro" in bad.json()["errors"]["proto"]
    current = server.root("GET", f"{_fw(vnet)}/rules/0")["digest"]
    server.root("DELETE", f"{_fw(vnet)}/rules/0", params={"digest": current})
    assert [r.get("macro") for r in server.root("GET", f"{_fw(vnet)}/rules")] == ["SSH"]
    assert "-dest 10.9.0.0/24" in (server.config_dir / "firewall" / f"{vnet}.fw").read_text()
    assert "-log" not in (server.config_dir / "firewall" / f"{vnet}.fw").read_text()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("comment", "x\n[RULES]\nFORWARD ACCEPT", "is not allowed"),
        ("source", "10.0.0.1 -p tcp", "invalid IP address"),
        ("dest", "+sdn/nosuchvnet-all", "no such ipset"),
        ("type", "in", "only 'forward'"),
        ("proto", "tcp; drop", "unknown protocol"),
        ("iface", "eth0", "not supported"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_field_and_changes_nothing(
    server: Server, field, value, message
) -> None:
    _, vnet = _vnet(server)
    rule = {"type": "forward", "action": "DROP", field: value}
    resp = server.call("POST", f"{_fw(vnet)}/rules", server.root_token, data=rule)
    assert resp.status_code == 400 and message in resp.json()["errors"][field]
    assert server.root("GET", f"{_fw(vnet)}/rules") == []
    assert not (server.config_dir / "firewall" / f"{vnet}.fw").exists()


def test_vnet_firewall_permissions_follow_the_vnet(server: Server) -> None:
    zone, vnet = _vnet(server)
    _, other = _vnet(server)
    auditor = server.token({f"/sdn/zones/{zone}": "PVEAuditor"})
    admin = server.token({f"/sdn/zones/{zone}": "PVESDNAdmin"})
    assert server.call("GET", f"{_fw(vnet)}/rules", auditor).status_code == 200
    assert server.call("GET", f"{_fw(other)}/rules", auditor).status_code == 403
    rule = {"type": "forward", "action": "DROP", "proto": "icmp"}
    assert server.call("POST", f"{_fw(vnet)}/rules", auditor, data=rule).status_code == 403
    assert server.call("POST", f"{_fw(vnet)}/rules", admin, data=rule).status_code == 200
    # another vnet's IP set needs audit rights on that vnet too
    foreign = {**rule, "source": f"+sdn/{other}-all"}
    assert server.call("POST", f"{_fw(vnet)}/rules", admin, data=foreign).status_code == 403
    assert len(server.root("GET", f"{_fw(vnet)}/rules")) == 1


def test_cluster_resources_list_sdn_zones_per_node(server: Server) -> None:
    from sdnkit.agent import status as records
    from sdnkit.service import SdnService

    zone = unique("rz")
    server.root("POST", "/cluster/sdn/zones", data={"zone": zone, "type": "simple"})
    version = int(server.root("PUT", "/cluster/sdn").split(":")[6])
    store = SdnService(str(server.config_dir)).store
    up = {zone: records.ObjectStatus(status=records.Status.AVAILABLE)}
    for node in ("rnode1", "rnode2"):
        records.write(
            store, records.NodeStatus(node=node, version=version, applied=version, time=0.0, zones=up)
        )
    sdn = [r for r in server.root("GET", "/cluster/resources", params={"type": "sdn"}) if r["sdn"] == zone]
    assert sorted((r["id"], r["node"], r["status"], r["type"]) for r in sdn) == [
        (f"sdn/rnode1/{zone}", "rnode1", "available", "sdn"),
        (f"sdn/rnode2/{zone}", "rnode2", "available", "sdn"),
    ]
    assert all(r["zone-type"] == "simple" for r in sdn)
    nodes = {r["node"] for r in server.root("GET", "/cluster/resources", params={"type": "node"})}
    assert {"rnode1", "rnode2"} <= nodes
    stranger = server.token({"/sdn/zones/none": "PVEAuditor"})
    seen = server.call("GET", "/cluster/resources", stranger, params={"type": "sdn"}).json()["data"]
    assert all(r["sdn"] != zone for r in seen)


def test_users_are_managed_through_the_api(server: Server) -> None:
    userid = f"{unique('api')}@pve"
    server.root(
        "POST", "/access/users", data={"userid": userid, "password": "first-password", "comment": "ops"}
    )
    users: dict[str, Any] = {u["userid"]: u for u in server.root("GET", "/access/users")}
    assert users[userid] == {
        "userid": userid,
        "enable": 1,
        "expire": 0,
        "comment": "ops",
        "realm-type": "pve",
    }
    login = {"username": userid, "password": "first-password"}
    assert server.call("POST", "/access/ticket", data=login).status_code == 200

    server.root("PUT", f"/access/users/{userid}", data={"enable": 0, "delete": "comment"})
    assert server.root("GET", f"/access/users/{userid}")["enable"] == 0
    assert server.call("POST", "/access/ticket", data=login).status_code == 401  # disabled: no login
    assert "comment" not in server.root("GET", f"/access/users/{userid}")

    helper = server.token({"/access/groups": "PVEUserAdmin"})
    plain = server.token({"/sdn": "PVEAuditor"})
    assert server.call("DELETE", f"/access/users/{userid}", plain).status_code == 403
    assert [u["userid"] for u in server.call("GET", "/access/users", plain).json()["data"]] != list(users)
    assert server.call("PUT", "/access/users/root@pam", helper, data={"comment": "x"}).status_code == 403
    assert server.call("DELETE", f"/access/users/{userid}", helper).status_code == 200
    assert userid not in {u["userid"] for u in server.root("GET", "/access/users")}
    assert server.call("DELETE", "/access/users/root@pam", server.root_token).status_code == 400


def test_guest_ports_through_the_api(server: Server) -> None:
    zone, vnet = unique("pz"), unique("pv")
    server.root("POST", "/cluster/sdn/zones", data={"zone": zone, "type": "simple", "ipam": "pve"})
    server.root("POST", "/cluster/sdn/vnets", data={"vnet": vnet, "zone": zone})
    server.root(
        "POST", f"/cluster/sdn/vnets/{vnet}/subnets", data={"subnet": "10.88.0.0/24", "gateway": "10.88.0.1"}
    )
    server.root("PUT", "/cluster/sdn")
    mac = "bc:24:11:88:00:01"
    user = server.token({f"/sdn/zones/{zone}": "PVESDNUser"})
    made = server.call("POST", "/cluster/sdn/ports", user, data={"vnet": vnet, "guest": "188", "mac": mac})
    assert made.status_code == 200, made.text
    port = made.json()["data"]
    assert (port["vnet"], port["zone"], port["guest"], port["mac"]) == (vnet, zone, "188", mac)
    (ip,) = port["ips"]
    assert ip.startswith("10.88.0.") and ip != "10.88.0.1"
    status = server.root("GET", "/cluster/sdn/ipams/pve/status")
    assert {(r["ip"], r.get("vmid")) for r in status if r.get("vnet") == vnet} >= {(ip, 188)}  # in the IPAM
    listed = server.root("GET", "/cluster/sdn/ports", params={"vnet": vnet})
    assert [p["mac"] for p in listed] == [mac]
    outsider = server.token({"/sdn/zones/elsewhere": "PVESDNAdmin"})
    assert server.call("GET", "/cluster/sdn/ports", outsider, params={"vnet": vnet}).json()["data"] == []
    path = f"/cluster/sdn/ports/{vnet}/188/{mac}"
    assert server.call("DELETE", path, outsider).status_code == 403
    taken = server.call(
        "POST",
        "/cluster/sdn/ports",
        user,
        data={"vnet": vnet, "guest": "189", "mac": "bc:24:11:88:00:02", "ip": ip},
    )
    assert taken.status_code in (400, 409)  # the address is taken: refused, nothing made
    assert len(server.root("GET", "/cluster/sdn/ports", params={"vnet": vnet})) == 1
    assert server.call("DELETE", path, user).status_code == 200
    assert server.root("GET", "/cluster/sdn/ports", params={"vnet": vnet}) == []
    assert ip not in {r["ip"] for r in server.root("GET", "/cluster/sdn/ipams/pve/status")}
