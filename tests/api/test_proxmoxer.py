"""proxmoxer, unchanged from PyPI, drives sdnkit as it drives Proxmox VE.

The five setup examples of the seed (Simple with its SNAT variant, VLAN, QinQ, VXLAN, EVPN) are
created through ``ProxmoxAPI`` over HTTPS, applied, read back as pending and running state; then
digest, lock token and rollback are exercised, and a user logs in with a password (ticket +
CSRF token). IDs longer than 8 characters are shortened (``myvlanzone`` → ``vlanzone``,
``qinqzone1`` → ``qinqz1``, ...), as current PVE refuses them too (spec §2.1, fix #7077), and the
EVPN example's vnets are renamed (``evpnvn1``/``evpnvn2``) because the VLAN example already uses
``myvnet1`` and vnet IDs are cluster-wide. Only configuration is written; no packet is sent to
any of the example addresses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from proxmoxer import ProxmoxAPI
from proxmoxer.core import ResourceException

if TYPE_CHECKING:
    from tests.api.conftest import Server

# verify_ssl=False as users pass it; proxmoxer silences urllib3's warning, pytest re-arms it per test
pytestmark = [
    pytest.mark.api,
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]

ZONES: list[dict[str, Any]] = [
    {"zone": "simple", "type": "simple", "ipam": "pve"},
    {"zone": "vlanzone", "type": "vlan", "bridge": "vmbr0"},
    {"zone": "qinqz1", "type": "qinq", "bridge": "vmbr0", "tag": 20},
    {"zone": "qinqz2", "type": "qinq", "bridge": "vmbr0", "tag": 30},
    {"zone": "vxzone", "type": "vxlan", "peers": "192.168.0.1,192.168.0.2,192.168.0.3", "mtu": 1450},
    {
        "zone": "evpnzone",
        "type": "evpn",
        "vrf-vxlan": 10000,
        "controller": "myevpnctl",
        "mtu": 1450,
        "mac": "32:F4:05:FE:6C:0A",
        "exitnodes": "node1,node2",
    },
]
CONTROLLERS = [
    {"controller": "myevpnctl", "type": "evpn", "asn": 65000, "peers": "192.168.0.1,192.168.0.2,192.168.0.3"}
]
VNETS: list[dict[str, Any]] = [
    {"vnet": "vnet1", "zone": "simple"},
    {"vnet": "myvnet1", "zone": "vlanzone", "tag": 10},
    {"vnet": "qinqvn1", "zone": "qinqz1", "tag": 100},
    {"vnet": "qinqvn2", "zone": "qinqz2", "tag": 100},
    {"vnet": "vxvnet1", "zone": "vxzone", "tag": 100000},
    {"vnet": "evpnvn1", "zone": "evpnzone", "tag": 11000},
    {"vnet": "evpnvn2", "zone": "evpnzone", "tag": 12000},
]
SUBNETS: list[dict[str, Any]] = [
    {"vnet": "vnet1", "subnet": "10.0.1.0/24", "gateway": "10.0.1.1", "snat": 1},  # Simple
    {"vnet": "vnet1", "subnet": "172.16.0.0/24", "gateway": "172.16.0.1", "snat": 1},  # Source NAT
    {"vnet": "evpnvn1", "subnet": "10.0.1.0/24", "gateway": "10.0.1.1"},
    {"vnet": "evpnvn2", "subnet": "10.0.2.0/24", "gateway": "10.0.2.1"},
]


def _token_api(server: Server) -> ProxmoxAPI:
    secret = server.root_token.rsplit("=", 1)[1]
    return ProxmoxAPI(
        server.host,
        port=server.port,
        user="root@pam",
        token_name="admin",
        token_value=secret,
        verify_ssl=False,
    )


def _create_examples(sdn: Any) -> None:
    for ctl in CONTROLLERS:
        sdn.controllers.post(**ctl)
    for zone in ZONES:
        sdn.zones.post(**zone)
    for vnet in VNETS:
        sdn.vnets.post(**vnet)
    for sub in SUBNETS:
        params = {k: v for k, v in sub.items() if k != "vnet"}
        sdn.vnets(sub["vnet"]).subnets.post(type="subnet", **params)


def _by(items: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {item[key]: item for item in items}


def test_seed_examples_through_proxmoxer(server: Server) -> None:
    prox = _token_api(server)
    sdn = prox.cluster.sdn
    _create_examples(sdn)

    pending = _by(sdn.zones.get(pending=1), "zone")
    assert {z["zone"] for z in ZONES} <= set(pending)
    assert all(pending[z["zone"]]["state"] == "new" for z in ZONES)
    assert pending["evpnzone"]["pending"]["vrf-vxlan"] == 10000

    upid = sdn.put()
    assert upid.startswith("UPID:") and ":reloadnetworkall:" in upid
    node = upid.split(":")[1]
    task = prox.nodes(node).tasks(upid).status.get()
    assert (task["status"], task["exitstatus"]) == ("stopped", "OK")

    running = _by(sdn.zones.get(running=1), "zone")
    assert running["qinqz2"]["tag"] == 30
    assert running["vxzone"]["peers"] == "192.168.0.1,192.168.0.2,192.168.0.3"
    assert running["evpnzone"]["exitnodes"] == "node1,node2"
    assert all("state" not in z for z in sdn.zones.get(pending=1))
    assert _by(sdn.vnets.get(running=1), "vnet")["vxvnet1"]["tag"] == 100000
    subnets = _by(sdn.vnets("vnet1").subnets.get(running=1), "cidr")
    assert subnets["172.16.0.0/24"]["snat"] == 1 and subnets["10.0.1.0/24"]["gateway"] == "10.0.1.1"
    assert _by(sdn.controllers.get(running=1), "controller")["myevpnctl"]["asn"] == 65000

    # a guest address in the Simple example's IPAM, as the seed's VMs use them
    sdn.vnets("vnet1").ips.post(zone="simple", ip="10.0.1.14", mac="BC:24:11:00:00:0E")
    sdn.vnets("vnet1").ips.put(zone="simple", ip="10.0.1.15", mac="BC:24:11:00:00:0E", vmid=100)
    status = {row["ip"]: row for row in prox.cluster.sdn.ipams("pve").status.get()}
    assert status["10.0.1.15"]["mac"].lower() == "bc:24:11:00:00:0e" and "10.0.1.14" not in status
    sdn.vnets("vnet1").ips.delete(zone="simple", ip="10.0.1.15")
    assert "10.0.1.15" not in {row["ip"] for row in prox.cluster.sdn.ipams("pve").status.get()}


def test_digest_refuses_a_stale_update(server: Server) -> None:
    sdn = _token_api(server).cluster.sdn
    sdn.zones.post(zone="dgz", type="vlan", bridge="vmbr0")
    digest = sdn.zones("dgz").get()["digest"]
    sdn.zones("dgz").put(mtu=1400, digest=digest)
    with pytest.raises(ResourceException) as err:
        sdn.zones("dgz").put(mtu=1300, digest=digest)
    assert err.value.status_code == 409
    assert "digest" in err.value.content and "digest" in (err.value.errors or {})
    assert sdn.zones("dgz").get()["mtu"] == 1400
    sdn.zones("dgz").put(delete="mtu", digest=sdn.zones("dgz").get()["digest"])
    assert "mtu" not in sdn.zones("dgz").get()


def test_lock_token_guards_every_change(server: Server) -> None:
    sdn = _token_api(server).cluster.sdn
    sdn.zones.post(zone="lkz", type="simple")
    sdn.put()
    token = sdn.lock.post()
    try:
        with pytest.raises(ResourceException) as err:
            sdn.zones("lkz").put(mtu=1400)
        assert err.value.status_code == 423 and "lock" in err.value.content
        with pytest.raises(ResourceException) as err:
            sdn.zones("lkz").put(mtu=1400, **{"lock-token": "0192e6d1-0000-7000-8000-000000000000"})
        assert err.value.status_code == 423 and "lock" in err.value.content
        seen = sdn.zones("lkz").get(pending=1)
        assert "mtu" not in seen and "mtu" not in seen.get("pending", {}), seen  # refusals change nothing
        sdn.zones("lkz").put(mtu=1400, **{"lock-token": token})
        seen = sdn.zones("lkz").get(pending=1)
        assert seen.get("pending", {}).get("mtu") == 1400 or seen.get("mtu") == 1400, seen
        sdn.put(**{"lock-token": token})  # apply releases the lock (release-lock defaults to 1)
    except BaseException:
        sdn.lock.delete(force=1)
        raise
    sdn.zones("lkz").put(mtu=1300)  # unlocked again
    sdn.rollback.post()
    assert _by(sdn.zones.get(running=1), "zone")["lkz"]["mtu"] == 1400


def test_rollback_discards_pending_changes(server: Server) -> None:
    sdn = _token_api(server).cluster.sdn
    sdn.zones.post(zone="rbz", type="simple")
    sdn.vnets.post(vnet="rbv", zone="rbz")
    sdn.put()
    sdn.zones("rbz").put(mtu=1400)
    sdn.vnets("rbv").delete()
    sdn.vnets.post(vnet="rbnew", zone="rbz")
    states = {v["vnet"]: v.get("state") for v in sdn.vnets.get(pending=1)}
    assert states["rbv"] == "deleted" and states["rbnew"] == "new"
    assert _by(sdn.zones.get(pending=1), "zone")["rbz"]["pending"] == {"mtu": 1400}

    sdn.rollback.post()

    assert "mtu" not in sdn.zones("rbz").get()
    vnets = _by(sdn.vnets.get(), "vnet")
    assert "rbv" in vnets and "rbnew" not in vnets
    assert all("state" not in v for v in sdn.vnets.get(pending=1))


def test_password_login_with_ticket_and_csrf(server: Server) -> None:
    server.access.add_user("alice@pve", "alice-secret-pw")
    server.access.set_acl("/sdn/zones", "PVESDNAdmin", "alice@pve")
    prox = ProxmoxAPI(
        server.host, port=server.port, user="alice@pve", password="alice-secret-pw", verify_ssl=False
    )
    ticket, csrf = prox.get_tokens()
    assert ticket.startswith("PVE:alice@pve:") and csrf
    prox.cluster.sdn.zones.post(zone="alicez", type="simple")  # a write: proxmoxer sends the CSRF token
    assert "alicez" in _by(prox.cluster.sdn.zones.get(), "zone")
    with pytest.raises(ResourceException) as err:
        prox.cluster.sdn.put()  # alice has no SDN.Allocate on /sdn
    assert err.value.status_code == 403
    assert err.value.content == "Permission check failed (/sdn, SDN.Allocate)"


def test_wrong_password_is_refused(server: Server) -> None:
    from proxmoxer.core import AuthenticationError

    server.access.add_user("bob@pve", "bob-secret-pw")
    with pytest.raises(AuthenticationError, match="code: 401"):
        ProxmoxAPI(server.host, port=server.port, user="bob@pve", password="wrong-password", verify_ssl=False)


def _locked(sdn: Any, change: Any) -> None:
    """One change the way Ansible's community.proxmox makes it: lock, change, apply, release."""
    token = sdn.lock.post()
    try:
        change(token)
        sdn.put(**{"lock-token": token, "release-lock": 1})
    except BaseException:
        sdn.rollback.post(**{"lock-token": token, "release-lock": 1})
        raise


def test_whole_lifecycle_of_zone_vnet_subnet_and_ips(server: Server) -> None:
    prox = _token_api(server)
    sdn = prox.cluster.sdn
    sdn.put()  # other tests of the module may leave pending changes, which the lock refuses
    lt = "lock-token"
    _locked(sdn, lambda t: sdn.zones.post(zone="lcz", type="simple", ipam="pve", **{lt: t}))
    _locked(sdn, lambda t: sdn.vnets.post(vnet="lcv", zone="lcz", type="vnet", **{lt: t}))
    _locked(
        sdn,
        lambda t: sdn.vnets("lcv").subnets.post(
            subnet="10.77.0.0/24", type="subnet", gateway="10.77.0.1", **{lt: t}
        ),
    )
    subnet_id = "lcz-10.77.0.0-24"
    assert _by(sdn.vnets("lcv").subnets.get(running=1), "subnet")[subnet_id]["gateway"] == "10.77.0.1"

    # updates repeat the path's ID in the body, as Ansible's modules do: accepted when equal
    vnet = sdn.vnets("lcv").get()
    _locked(sdn, lambda t: sdn.vnets("lcv").put(vnet="lcv", alias="lc", digest=vnet["digest"], **{lt: t}))
    sub = sdn.vnets("lcv").subnets(subnet_id).get()
    _locked(
        sdn,
        lambda t: (
            sdn.vnets("lcv").subnets(subnet_id).put(vnet="lcv", snat=1, digest=sub["digest"], **{lt: t})
        ),
    )
    _locked(sdn, lambda t: sdn.zones("lcz").put(mtu=1450, **{lt: t}))
    assert _by(sdn.vnets.get(running=1), "vnet")["lcv"]["alias"] == "lc"
    assert sdn.vnets("lcv").subnets(subnet_id).get(running=1)["snat"] == 1
    assert sdn.zones("lcz").get(running=1)["mtu"] == 1450

    # IP/MAC mappings: create, move to another address, delete (PVE Ips.pm)
    ips = sdn.vnets("lcv").ips
    ips.post(zone="lcz", ip="10.77.0.20", mac="BC:24:11:77:00:20")
    ips.put(zone="lcz", ip="10.77.0.21", mac="BC:24:11:77:00:20", vmid=177)
    status = {row["ip"]: row for row in sdn.ipams("pve").status.get() if row.get("vnet") == "lcv"}
    assert status["10.77.0.21"]["vmid"] == 177 and "10.77.0.20" not in status
    assert status["10.77.0.1"].get("gateway") == 1  # the subnet's gateway is registered too
    ips.delete(zone="lcz", ip="10.77.0.21", mac="BC:24:11:77:00:20")
    assert "10.77.0.21" not in {row["ip"] for row in sdn.ipams("pve").status.get()}
    with pytest.raises(ResourceException) as err:
        ips.post(zone="simple", ip="10.77.0.22")  # not the vnet's zone
    assert err.value.status_code == 400

    _locked(sdn, lambda t: sdn.vnets("lcv").subnets(subnet_id).delete(**{lt: t}))
    _locked(sdn, lambda t: sdn.vnets("lcv").delete(**{lt: t}))
    _locked(sdn, lambda t: sdn.zones("lcz").delete(**{lt: t}))
    assert "lcv" not in _by(sdn.vnets.get(running=1), "vnet")
    assert "lcz" not in _by(sdn.zones.get(running=1), "zone")
    assert not (server.config_dir / ".lock").exists()


def test_a_path_parameter_repeated_with_another_value_is_refused(server: Server) -> None:
    sdn = _token_api(server).cluster.sdn
    sdn.zones.post(zone="dupz", type="simple")
    sdn.vnets.post(vnet="dupv", zone="dupz")
    with pytest.raises(ResourceException) as err:
        sdn.vnets("dupv").put(vnet="other", alias="x")
    assert err.value.status_code == 400
    assert err.value.errors == {
        "vnet": "duplicate parameter (already defined in URI) with conflicting values!"
    }
    with pytest.raises(ResourceException):
        sdn.vnets("dupv").delete(vnet="other")  # in the query string too
    assert "alias" not in sdn.vnets("dupv").get()
    sdn.vnets("dupv").put(vnet="dupv", alias="x")
    assert sdn.vnets("dupv").get()["alias"] == "x"
    sdn.vnets("dupv").delete(vnet="dupv")
    assert "dupv" not in _by(sdn.vnets.get(), "vnet")


def test_task_status_and_log_have_pve_fields(server: Server) -> None:
    prox = _token_api(server)
    upid = prox.cluster.sdn.put()
    node = upid.split(":")[1]
    status = prox.nodes(node).tasks(upid).status.get()
    assert {
        "status",
        "exitstatus",
        "type",
        "id",
        "node",
        "upid",
        "starttime",
        "pid",
        "pstart",
        "user",
    } <= set(status)
    assert (status["upid"], status["node"], status["type"]) == (upid, node, "reloadnetworkall")
    assert isinstance(status["pid"], int) and isinstance(status["starttime"], int)
    log = prox.nodes(node).tasks(upid).log.get()
    assert [line["n"] for line in log] == list(range(1, len(log) + 1)) and log[-1]["t"] == "TASK OK"
    assert prox.nodes(node).tasks(upid).log.get(start=1, limit=1) == log[1:2]
