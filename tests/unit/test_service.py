"""The service layer: PVE parameters in, PVE shapes out, refusals that write nothing, hooks, locks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sdnkit.config.schema import Kind
from sdnkit.config.zones.evpn import default_mac
from sdnkit.errors import ConfigError, ConflictError, LockError, NotFoundError
from sdnkit.service import Action, ObjectChange, SdnService, Transaction
from sdnkit.store.snapshot import LOCK_DOC, read_running


@pytest.fixture
def svc(tmp_path: Path) -> SdnService:
    return SdnService(tmp_path, hooks=[])


def files(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.iterdir()) if p.is_file()}


def simple_setup(svc: SdnService) -> None:
    svc.create("zones", {"zone": "z1", "type": "simple", "ipam": "pve", "nodes": "n2,n1"})
    svc.create("vnets", {"vnet": "v1", "zone": "z1"})
    svc.create(
        "subnets",
        {
            "vnet": "v1",
            "subnet": "10.0.1.0/24",
            "gateway": "10.0.1.1",
            "snat": "1",
            "dhcp-range": ["start-address=10.0.1.100,end-address=10.0.1.200"],
        },
    )


def test_shapes_match_the_pve_api(svc: SdnService, tmp_path: Path) -> None:
    simple_setup(svc)
    zone = svc.get("zones", {"zone": "z1"})
    assert zone == {"zone": "z1", "type": "simple", "ipam": "pve", "nodes": "n1,n2", "digest": zone["digest"]}
    assert len(zone["digest"]) == 40
    subnet = svc.get("subnets", {"vnet": "v1", "subnet": "z1-10.0.1.0-24"})
    assert subnet == {
        "subnet": "z1-10.0.1.0-24",
        "id": "z1-10.0.1.0-24",
        "type": "subnet",
        "vnet": "v1",
        "cidr": "10.0.1.0/24",
        "zone": "z1",
        "network": "10.0.1.0",
        "mask": "24",
        "gateway": "10.0.1.1",
        "snat": 1,
        "dhcp-range": [{"start-address": "10.0.1.100", "end-address": "10.0.1.200"}],
        "digest": subnet["digest"],
    }
    assert (tmp_path / "subnets.cfg").read_text() == (
        "subnet: z1-10.0.1.0-24\n\tvnet v1\n"
        "\tdhcp-range start-address=10.0.1.100,end-address=10.0.1.200\n\tgateway 10.0.1.1\n\tsnat 1\n\n"
    )
    assert [o["ipam"] for o in svc.list("ipams")] == ["pve"]
    assert svc.index()[0] == {"id": "vnets"}


def test_json_values_as_the_api_sends_them(svc: SdnService) -> None:
    simple_setup(svc)
    ranges = [{"start-address": "10.0.1.10", "end-address": "10.0.1.20"}]
    params = {"vnet": "v1", "subnet": "z1-10.0.1.0-24", "snat": True, "digest": None, "dhcp-range": ranges}
    svc.update("subnets", params)
    subnet = svc.get("subnets", {"vnet": "v1", "subnet": "z1-10.0.1.0-24", "pending": None})
    assert (subnet["snat"], subnet["dhcp-range"]) == (1, ranges)
    svc.update("zones", {"zone": "z1", "nodes": ["n3", "n1"], "mtu": 1400})
    assert svc.get("zones", {"zone": "z1"})["nodes"] == "n1,n3"


def test_list_filters(svc: SdnService) -> None:
    simple_setup(svc)
    svc.create("zones", {"zone": "z2", "type": "vlan", "bridge": "vmbr0"})
    assert [z["zone"] for z in svc.list("zones", {"type": "vlan"})] == ["z2"]
    assert [s["subnet"] for s in svc.list("subnets", {"vnet": "v1"})] == ["z1-10.0.1.0-24"]
    with pytest.raises(NotFoundError, match='vnet "nope" does not exist'):
        svc.list("subnets", {"vnet": "nope"})
    with pytest.raises(ConfigError, match="ipams take effect at once and have no pending view"):
        svc.list("ipams", {"pending": 1})
    with pytest.raises(ConfigError, match="unknown parameter"):
        svc.list("zones", {"colour": "blue"})


@pytest.mark.parametrize(
    ("collection", "params", "key", "text"),
    [
        ("zones", {"zone": "z1", "type": "simple"}, "zone", 'zone "z1" already exists'),
        ("zones", {"zone": "z9", "type": "faucet"}, "type", "unknown type 'faucet'"),
        ("zones", {"zone": "z9"}, "type", "missing parameter 'type'"),
        ("zones", {"zone": "z9", "type": "simple", "mtu": "70000"}, "mtu", "70000 is out of range 68-65535"),
        (
            "zones",
            {"zone": "z9", "type": "simple", "bridge": "vmbr0"},
            "bridge",
            "not allowed for type simple",
        ),
        ("zones", {"zone": "z9", "type": "simple", "colour": "x"}, "colour", "(no such option)"),
        ("zones", {"zone": "toolong99", "type": "simple"}, "zone", "longer than 8 characters"),
        ("zones", {"zone": "z9", "type": "vlan"}, "bridge", 'option "bridge" is required for type vlan'),
        ("vnets", {"vnet": "v2", "zone": "z1", "alias": "a\nb"}, "alias", "LINE FEED"),
        ("vnets", {"vnet": "v2", "zone": "z1", "tag": "5"}, "tag", 'vnets of simple zone "z1" take no tag'),
        ("subnets", {"vnet": "nope", "subnet": "10.9.0.0/24"}, "vnet", 'vnet "nope" does not exist'),
        ("subnets", {"vnet": "v1", "subnet": "10.9.0.0"}, "subnet", "not a valid CIDR"),
        ("subnets", {"vnet": "v1", "subnet": "10.9.0.0/24", "gateway": "10.8.0.1"}, "gateway", "is not in"),
        ("subnets", {"vnet": "v1", "subnet": "10.0.1.128/25"}, "subnet", "overlaps subnet 10.0.1.0/24"),
    ],
)
def test_refused_creates_name_the_field_and_write_nothing(
    svc: SdnService, tmp_path: Path, collection: str, params: dict[str, Any], key: str, text: str
) -> None:
    simple_setup(svc)
    before = files(tmp_path)
    with pytest.raises(ConfigError) as info:
        svc.create(collection, params)
    assert key in info.value.errors, info.value.errors
    assert text in info.value.errors[key]
    assert files(tmp_path) == before


def test_update_with_delete_and_digest(svc: SdnService, tmp_path: Path) -> None:
    simple_setup(svc)
    digest = svc.get("zones", {"zone": "z1"})["digest"]
    svc.update("zones", {"zone": "z1", "mtu": 1400, "delete": "nodes", "digest": digest})
    assert svc.get("zones", {"zone": "z1"})["mtu"] == 1400
    assert "nodes" not in svc.get("zones", {"zone": "z1"})
    before = files(tmp_path)
    with pytest.raises(ConflictError, match=r"zones\.cfg was modified since it was read"):
        svc.update("zones", {"zone": "z1", "mtu": 1300, "digest": digest})
    with pytest.raises(ConfigError) as info:
        svc.update("zones", {"zone": "z1", "mtu": 1300, "delete": "mtu,colour,type"})
    assert set(info.value.errors) == {"mtu", "colour", "type"}
    assert "cannot set and delete 'mtu' at the same time" in info.value.errors["mtu"]
    with pytest.raises(ConfigError, match="unable to delete required option 'zone'"):
        svc.update("vnets", {"vnet": "v1", "delete": "zone"})
    with pytest.raises(ConfigError, match="the type cannot change"):
        svc.update("zones", {"zone": "z1", "type": "vlan"})
    with pytest.raises(NotFoundError, match='zone "z9" does not exist'):
        svc.update("zones", {"zone": "z9", "mtu": 1400})
    assert files(tmp_path) == before


def test_subnets_by_cidr_and_wrong_vnet(svc: SdnService) -> None:
    simple_setup(svc)
    svc.create("vnets", {"vnet": "v2", "zone": "z1"})
    svc.update("subnets", {"vnet": "v1", "subnet": "10.0.1.0/24", "snat": 0})
    assert svc.get("subnets", {"vnet": "v1", "subnet": "10.0.1.0/24"})["snat"] == 0
    with pytest.raises(ConfigError, match=r'wrong vnet v2 \(it belongs to vnet "v1"\)'):
        svc.get("subnets", {"vnet": "v2", "subnet": "z1-10.0.1.0-24"})
    with pytest.raises(ConfigError, match="wrong vnet"):
        svc.update("subnets", {"vnet": "v2", "subnet": "z1-10.0.1.0-24", "snat": 1})
    svc.delete("subnets", {"vnet": "v1", "subnet": "10.0.1.0/24"})
    assert svc.list("subnets") == []


def test_deletes_refused_while_referenced(svc: SdnService) -> None:
    simple_setup(svc)
    with pytest.raises(ConfigError, match='zone "z1": cannot delete it, it is still used by vnet "v1"'):
        svc.delete("zones", {"zone": "z1"})
    with pytest.raises(ConfigError, match=r'still used by subnet "z1-10\.0\.1\.0-24"'):
        svc.delete("vnets", {"vnet": "v1"})
    with pytest.raises(ConfigError, match="the built-in IPAM cannot be deleted"):
        svc.delete("ipams", {"ipam": "pve"})
    svc.delete("subnets", {"subnet": "z1-10.0.1.0-24"})
    svc.delete("vnets", {"vnet": "v1"})
    svc.delete("zones", {"zone": "z1"})
    assert svc.list("zones") == []


def test_zone_ipam_and_vnet_zone_are_fixed_while_subnets_exist(svc: SdnService) -> None:
    simple_setup(svc)
    svc.create("zones", {"zone": "z2", "type": "simple"})
    with pytest.raises(ConfigError, match="cannot change the ipam while the zone has subnets"):
        svc.update("zones", {"zone": "z1", "delete": "ipam"})
    with pytest.raises(ConfigError, match='cannot move the vnet to zone "z2" while it has subnets'):
        svc.update("vnets", {"vnet": "v1", "zone": "z2"})


def test_evpn_zone_gets_a_gateway_mac(svc: SdnService) -> None:
    svc.create("controllers", {"controller": "ctl", "type": "evpn", "asn": 65000, "peers": "192.0.2.1"})
    svc.create("zones", {"zone": "ev", "type": "evpn", "controller": "ctl", "vrf-vxlan": 10000})
    assert svc.get("zones", {"zone": "ev"})["mac"] == default_mac("ev")
    svc.update("zones", {"zone": "ev", "mac": "02:00:00:00:00:01"})
    assert svc.get("zones", {"zone": "ev"})["mac"] == "02:00:00:00:00:01"


def test_fabrics_and_their_nodes(svc: SdnService, tmp_path: Path) -> None:
    svc.create("fabrics", {"id": "f1", "protocol": "openfabric", "ip_prefix": "192.168.2.0/24"})
    svc.create(
        "fabric-nodes", {"fabric_id": "f1", "node_id": "n1", "ip": "192.168.2.1", "interfaces": "name=ens19"}
    )
    node = svc.get("fabric-nodes", {"fabric_id": "f1", "node_id": "n1"})
    assert node == {
        "fabric_id": "f1",
        "node_id": "n1",
        "protocol": "openfabric",
        "ip": "192.168.2.1",
        "interfaces": ["name=ens19"],
        "digest": node["digest"],
    }
    assert svc.list("fabrics")[0] == {
        "id": "f1",
        "protocol": "openfabric",
        "ip_prefix": "192.168.2.0/24",
        "digest": node["digest"],
    }
    with pytest.raises(ConfigError, match="protocol ospf differs from protocol openfabric"):
        svc.create(
            "fabric-nodes", {"fabric_id": "f1", "node_id": "n2", "protocol": "ospf", "ip": "192.168.2.2"}
        )
    with pytest.raises(ConfigError, match=r"ip 10\.0\.0\.1 is not in ip_prefix 192\.168\.2\.0/24"):
        svc.create("fabric-nodes", {"fabric_id": "f1", "node_id": "n2", "ip": "10.0.0.1"})
    svc.create("zones", {"zone": "vx", "type": "vxlan", "fabric": "f1"})
    with pytest.raises(ConfigError, match='fabric "f1": cannot delete it, it is still used by zone "vx"'):
        svc.delete("fabrics", {"id": "f1"})
    svc.delete("zones", {"zone": "vx"})
    svc.delete("fabrics", {"id": "f1"})  # takes its nodes along
    assert (tmp_path / "fabrics.cfg").read_text() == ""
    assert [o["state"] for o in svc.list("fabric-nodes", {"pending": 1})] == []


# the global lock ------------------------------------------------------------------------------


def test_lock_token_guards_every_change(svc: SdnService, tmp_path: Path) -> None:
    simple_setup(svc)
    with pytest.raises(LockError, match="there are pending changes"):
        svc.lock()
    token = svc.lock({"allow-pending": 1})
    assert (tmp_path / LOCK_DOC).read_text() == token and token[14] == "7"  # a UUIDv7
    with pytest.raises(LockError, match="already locked"):
        svc.lock({"allow-pending": 1})
    with pytest.raises(LockError, match="no lock-token was given"):
        svc.create("vnets", {"vnet": "v2", "zone": "z1"})
    with pytest.raises(LockError, match="a wrong lock-token was given"):
        svc.apply({"lock-token": "0190a7c2-0000-7000-8000-000000000000"})
    svc.create("vnets", {"vnet": "v2", "zone": "z1", "lock-token": token})
    assert svc.apply({"lock-token": token, "release-lock": 0}) == 1
    assert (tmp_path / LOCK_DOC).exists()
    with pytest.raises(LockError, match="invalid lock token"):
        svc.unlock({"lock-token": "nope"})
    assert svc.apply({"lock-token": token}) == 2  # release-lock defaults to 1
    assert not (tmp_path / LOCK_DOC).exists()
    svc.lock()
    svc.unlock({"force": 1})
    svc.unlock({})  # unlocking an unlocked config is a no-op


# hooks ------------------------------------------------------------------------------------------


def test_hooks_see_changes_and_stage_documents_in_the_same_commit(tmp_path: Path) -> None:
    seen: list[tuple[Kind, Action, str]] = []

    def ipam_hook(change: ObjectChange, tx: Transaction) -> None:
        seen.append((change.kind, change.action, change.id))
        if change.kind is Kind.SUBNETS and change.new is not None:
            doc = tx.read("pve-ipam-state.json")
            data = (doc.data if doc else b"") + f"{change.id} {change.new.get('gateway')}\n".encode()
            tx.stage("pve-ipam-state.json", data)

    svc = SdnService(tmp_path, hooks=[ipam_hook])
    simple_setup(svc)
    assert (tmp_path / "pve-ipam-state.json").read_text() == "z1-10.0.1.0-24 10.0.1.1\n"
    assert seen[-1] == (Kind.SUBNETS, Action.CREATE, "z1-10.0.1.0-24")
    svc.apply()
    svc.delete("subnets", {"subnet": "z1-10.0.1.0-24"})
    svc.rollback()  # hooks run for what rollback changes too
    assert seen[-2:] == [
        (Kind.SUBNETS, Action.DELETE, "z1-10.0.1.0-24"),
        (Kind.SUBNETS, Action.CREATE, "z1-10.0.1.0-24"),
    ]


def test_a_failing_hook_aborts_the_write_and_runs_the_undos(tmp_path: Path) -> None:
    undone: list[str] = []

    def registers(change: ObjectChange, tx: Transaction) -> None:
        tx.stage("pve-ipam-state.json", b"registered")
        tx.on_abort(lambda: undone.append(change.id))

    def refuses(change: ObjectChange, tx: Transaction) -> None:
        if change.kind is Kind.SUBNETS:
            raise ConfigError("ipam: subnet is not empty", key="subnet")

    svc = SdnService(tmp_path, hooks=[registers, refuses])
    svc.create("zones", {"zone": "z1", "type": "simple"})
    svc.create("vnets", {"vnet": "v1", "zone": "z1"})
    before = files(tmp_path)
    with pytest.raises(ConfigError, match="subnet is not empty"):
        svc.create("subnets", {"vnet": "v1", "subnet": "10.0.0.0/24"})
    assert undone == ["z1-10.0.0.0-24"]
    assert files(tmp_path) == before


def test_undo_failure_is_attached_not_hiding_the_error(tmp_path: Path) -> None:
    def hook(change: ObjectChange, tx: Transaction) -> None:
        tx.on_abort(lambda: 1 / 0)
        raise ConfigError("refused", key="zone")

    svc = SdnService(tmp_path, hooks=[hook])
    with pytest.raises(ConfigError, match="refused") as info:
        svc.create("zones", {"zone": "z1", "type": "simple"})
    assert any("division by zero" in note for note in info.value.__notes__)


# apply refuses broken configs; import -------------------------------------------------------


PVE_DIR = {
    "zones.cfg": (
        "simple: z1\n\tipam pve\n\tmtu 70000\n\nvlan: z2\n\tbridge vmbr0\n\nfaucet: z3\n\tdp-id 1\n\n"
    ),
    "vnets.cfg": "vnet: v1\n\tzone z1\n\nvnet: v2\n\tzone z2\n\ttag 10\n\nvnet: v3\n\tzone z2\n\ttag 10\n\n",
    "subnets.cfg": "subnet: z1-10.0.0.0-24\n\tvnet v1\n\tgateway 10.0.0.1\n\n",
    ".running-config": '{"version":7,"zones":{"ids":{"z1":{"type":"simple","ipam":"pve"},'
    '"z3":{"type":"faucet"}}},"vnets":{"ids":{"v1":{"type":"vnet","zone":"z1"}}}}',
    "pve-ipam-state.json": '{"zones":{}}',
}


def test_import_a_pve_directory_leniently(svc: SdnService, tmp_path: Path) -> None:
    source = tmp_path / "pve"
    source.mkdir()
    for name, text in PVE_DIR.items():
        (source / name).write_text(text)
    store_dir = tmp_path / "store"
    imported = SdnService(store_dir, hooks=[])
    warnings = imported.import_pve(source)
    assert any("zones.cfg line 3" in w and '"mtu"' in w for w in warnings)
    assert any("unknown type 'faucet'" in w for w in warnings)
    assert any(".running-config: zone 'z3' dropped" in w for w in warnings)
    assert any(w.startswith('rule: vnet "v3": tag 10 is already used by vnet "v2"') for w in warnings)
    assert read_running(imported.store).version == 7
    assert (store_dir / "pve-ipam-state.json").read_text() == '{"zones":{}}'
    assert [z["zone"] for z in imported.list("zones")] == ["z1", "z2"]
    # what breaks a rule blocks apply until it is fixed, but not unrelated edits
    imported.create("zones", {"zone": "z4", "type": "simple"})
    with pytest.raises(ConfigError, match='vnet "v3": tag 10 is already used') as info:
        imported.apply()
    assert "fix it first" in info.value.__notes__[0]
    assert "; ".join(imported.check()) == info.value.message
    imported.update("vnets", {"vnet": "v3", "tag": 11})
    assert imported.apply() == 8
    with pytest.raises(ConfigError, match="already holds a configuration"):
        imported.import_pve(source)
