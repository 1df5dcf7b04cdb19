"""Pending versus running (PVE's representation), apply, rollback and dry-run."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from sdnkit.config import pending as pending_mod
from sdnkit.config.model import SdnConfig
from sdnkit.config.pending import State, diff_config, dry_run, has_pending_changes, pending_objects, text_diff
from sdnkit.config.running import RunningConfig
from sdnkit.config.schema import Kind
from sdnkit.config.section import Section
from sdnkit.config.sectionconfig import parse_config
from sdnkit.errors import ConfigError
from sdnkit.service import SdnService
from sdnkit.store.snapshot import RUNNING_DOC, read_running


def secs(kind: Kind, text: str) -> dict[str, Section]:
    return parse_config(kind, text).sections


RUNNING_ZONES = (
    "simple: za\n\tipam pve\n\tmtu 1500\n\tnodes n2,n1\n\nsimple: zd\n\tipam pve\n\nsimple: zu\n\n"
)
CURRENT_ZONES = (
    "simple: za\n\tmtu 1400\n\tdhcp dnsmasq\n\tnodes n1,n2\n\n"
    "simple: zu\n\nvlan: zn\n\tbridge vmbr0\n\tnodes n3,n1\n\n"
)


def test_pending_objects_is_pves_representation() -> None:
    objs = pending_objects(secs(Kind.ZONES, RUNNING_ZONES), secs(Kind.ZONES, CURRENT_ZONES))
    assert objs == {
        # running values on top; changed, added and removed options in pending{}
        "za": {
            "type": "simple",
            "ipam": "pve",
            "mtu": 1500,
            "nodes": "n1,n2",
            "state": "changed",
            "pending": {"dhcp": "dnsmasq", "ipam": "deleted", "mtu": 1400},
        },
        "zd": {"type": "simple", "ipam": "pve", "state": "deleted", "pending": {}},
        "zn": {"type": "vlan", "state": "new", "pending": {"bridge": "vmbr0", "nodes": "n1,n3"}},
        "zu": {"type": "simple"},  # unchanged: neither state nor pending
    }


def test_pending_subnet_keeps_vnet_on_top_and_encodes_dhcp_ranges() -> None:
    running = secs(Kind.SUBNETS, "subnet: zz-10.0.0.0-24\n\tvnet v1\n\tsnat 1\n\n")
    current = secs(
        Kind.SUBNETS,
        "subnet: zz-10.0.0.0-24\n\tvnet v1\n\tsnat 0\n"
        "\tdhcp-range start-address=10.0.0.50,end-address=10.0.0.60\n"
        "\tdhcp-range start-address=10.0.0.10,end-address=10.0.0.20\n\n"
        "subnet: zz-10.0.1.0-24\n\tvnet v1\n\tgateway 10.0.1.1\n\n",
    )
    objs = pending_objects(running, current)
    changed = objs["zz-10.0.0.0-24"]
    assert changed["state"] == "changed"
    # a falsy new value is a change too (PVE's `if $value` would miss it)
    assert changed["pending"]["snat"] == 0
    # PVE's encode_value: the array sorted and comma-joined
    assert changed["pending"]["dhcp-range"] == (
        "start-address=10.0.0.10,end-address=10.0.0.20,start-address=10.0.0.50,end-address=10.0.0.60"
    )
    assert objs["zz-10.0.1.0-24"] == {
        "type": "subnet",
        "vnet": "v1",
        "state": "new",
        "pending": {"gateway": "10.0.1.1"},
    }


def test_node_order_alone_is_not_a_change() -> None:
    a = secs(Kind.ZONES, "simple: zz\n\tnodes n1,n2\n\n")
    b = secs(Kind.ZONES, "simple: zz\n\tnodes n2,n1\n\n")
    assert "state" not in pending_objects(a, b)["zz"]


def test_diff_config_and_has_pending_changes() -> None:
    running = SdnConfig({Kind.ZONES: secs(Kind.ZONES, RUNNING_ZONES)})
    current = SdnConfig({Kind.ZONES: secs(Kind.ZONES, CURRENT_ZONES)})
    diffs = {d.id: d for d in diff_config(running, current)}
    assert set(diffs) == {"za", "zd", "zn"}
    assert diffs["zd"].state is State.DELETED and diffs["zn"].state is State.NEW
    assert dict((k, (o, n)) for k, o, n in diffs["za"].changes) == {
        "dhcp": (None, "dnsmasq"),
        "ipam": ("pve", None),
        "mtu": (1500, 1400),
    }
    assert has_pending_changes(running, current)
    assert not has_pending_changes(current, current)


def test_dry_run_calls_registered_node_diff_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def provider(old: RunningConfig, new: RunningConfig, node: str) -> Mapping[str, str]:
        calls.append((old.version, new.version, node, sorted(new.config.of(Kind.ZONES))))
        render = lambda cfg: "".join(f"auto {z}\n" for z in sorted(cfg.config.of(Kind.ZONES)))  # noqa: E731
        return {"interfaces-diff": text_diff(render(old), render(new), "/etc/network/interfaces.d/sdn")}

    monkeypatch.setattr(pending_mod, "NODE_DIFF_PROVIDERS", [provider])
    running = RunningConfig(4, SdnConfig({Kind.ZONES: secs(Kind.ZONES, RUNNING_ZONES)}))
    current = SdnConfig({Kind.ZONES: secs(Kind.ZONES, CURRENT_ZONES)})
    assert "interfaces-diff" not in dry_run(running, current)  # no node, no rendering
    result = dry_run(running, current, "n1")
    assert calls == [(4, 5, "n1", ["za", "zn", "zu"])]
    assert result["version"] == 4 and result["next-version"] == 5 and result["node"] == "n1"
    assert "-auto zd\n" in result["interfaces-diff"] and "+auto zn\n" in result["interfaces-diff"]


# through the service ---------------------------------------------------------------------------


@pytest.fixture
def svc(tmp_path: Path) -> SdnService:
    service = SdnService(tmp_path)
    service.create("zones", {"zone": "z1", "type": "simple", "ipam": "pve"})
    service.create("vnets", {"vnet": "v1", "zone": "z1"})
    service.create("subnets", {"vnet": "v1", "subnet": "10.0.0.0/24", "gateway": "10.0.0.1"})
    return service


def test_apply_writes_running_config_with_next_version(svc: SdnService, tmp_path: Path) -> None:
    assert [o["state"] for o in svc.list("vnets", {"pending": 1})] == ["new"]
    assert svc.apply() == 1
    running = read_running(svc.store)
    assert running.version == 1
    assert sorted(running.config.of(Kind.SUBNETS)) == ["z1-10.0.0.0-24"]
    assert svc.pending() == []
    assert "state" not in svc.get("zones", {"zone": "z1", "pending": 1})
    assert svc.apply() == 2  # like PVE, apply always makes a new version
    assert b'"version":2' in (tmp_path / RUNNING_DOC).read_bytes()


def test_pending_running_and_current_views(svc: SdnService) -> None:
    svc.apply()
    svc.update("zones", {"zone": "z1", "mtu": 1400})
    assert svc.get("zones", {"zone": "z1", "running": 1}) == {"zone": "z1", "type": "simple", "ipam": "pve"}
    assert svc.get("zones", {"zone": "z1"})["mtu"] == 1400
    pending = svc.get("zones", {"zone": "z1", "pending": 1})
    assert pending == {
        "zone": "z1",
        "type": "simple",
        "ipam": "pve",
        "state": "changed",
        "pending": {"mtu": 1400},
    }


def test_rollback_restores_the_running_files(svc: SdnService, tmp_path: Path) -> None:
    svc.apply()
    before = {n: (tmp_path / n).read_bytes() for n in ("zones.cfg", "vnets.cfg", "subnets.cfg")}
    svc.update("zones", {"zone": "z1", "mtu": 1400})
    svc.create("vnets", {"vnet": "v2", "zone": "z1"})
    svc.delete("subnets", {"vnet": "v1", "subnet": "z1-10.0.0.0-24"})
    assert len(svc.pending()) == 3
    svc.rollback()
    assert svc.pending() == []
    assert {n: (tmp_path / n).read_bytes() for n in before} == before


def test_rollback_with_nothing_applied_is_refused(svc: SdnService, tmp_path: Path) -> None:
    before = (tmp_path / "zones.cfg").read_bytes()
    with pytest.raises(ConfigError, match="nothing has been applied yet"):
        svc.rollback()
    assert (tmp_path / "zones.cfg").read_bytes() == before


def test_dry_run_shows_what_apply_would_change(svc: SdnService) -> None:
    svc.apply()
    svc.update("subnets", {"vnet": "v1", "subnet": "z1-10.0.0.0-24", "snat": 1})
    result = svc.dry_run()
    assert result["version"] == 1 and result["next-version"] == 2
    assert result["changes"] == [
        {
            "kind": "subnets",
            "id": "z1-10.0.0.0-24",
            "state": "changed",
            "changes": {"snat": {"old": None, "new": 1}},
        }
    ]
    assert read_running(svc.store).version == 1  # a dry run changes nothing


def test_rendered_node_diffs_show_what_apply_changes_on_that_node() -> None:
    from sdnkit.plan.facts import NodeFacts
    from sdnkit.service.nodediff import rendered_diffs

    new = RunningConfig(
        1,
        SdnConfig(
            {
                Kind.ZONES: secs(Kind.ZONES, "simple: z1\n\n"),
                Kind.VNETS: secs(Kind.VNETS, "vnet: v1\n\tzone z1\n\n"),
                Kind.SUBNETS: secs(Kind.SUBNETS, "subnet: z1-10.0.0.0-24\n\tvnet v1\n\tgateway 10.0.0.1\n\n"),
            }
        ),
    )
    out = rendered_diffs(RunningConfig.empty(), new, "n1", facts_for=lambda node, cfg: NodeFacts(node=node))
    assert out["interfaces-diff"].startswith("--- /etc/network/interfaces.d/sdn\n")
    assert "+auto v1\n" in out["interfaces-diff"] and "+\taddress 10.0.0.1/24\n" in out["interfaces-diff"]
    assert out["frr-diff"] == ""
    # another node's facts are not known here: the API forwards its dry-run to that node
    assert rendered_diffs(RunningConfig.empty(), new, "n2", facts_for=lambda node, cfg: None) == {}
