"""Which zones and nodes a new running version concerns (``config/affected.py``)."""

from __future__ import annotations

from pathlib import Path

from sdnkit.config.affected import affected, changed_zones
from sdnkit.service import SdnService
from sdnkit.store.snapshot import load_snapshot


def _running(svc: SdnService):  # the pending config as apply would make it running
    svc.apply({})
    return load_snapshot(svc.store).running.config


def test_zones_change_with_their_vnets_subnets_and_evpn_controller(tmp_path: Path) -> None:
    svc = SdnService(str(tmp_path))
    svc.create("zones", {"zone": "za", "type": "simple", "nodes": "n1,n2"})
    svc.create("zones", {"zone": "zb", "type": "simple"})
    svc.create("controllers", {"controller": "ctl", "type": "evpn", "asn": 65000, "peers": "192.0.2.1"})
    svc.create("zones", {"zone": "ze", "type": "evpn", "controller": "ctl", "vrf-vxlan": 100, "nodes": "n3"})
    svc.create("vnets", {"vnet": "va", "zone": "za"})
    before = _running(svc)

    svc.create("subnets", {"vnet": "va", "subnet": "10.9.0.0/24", "gateway": "10.9.0.1"})
    after = _running(svc)
    assert changed_zones(before, after) == {"za"}  # a subnet changes its vnet's zone
    found = affected(before, after)
    assert (found.zones, found.all_nodes, found.nodes) == (("za",), False, ("n1", "n2"))
    assert found.members(["n1", "n2", "n3", "n4"]) == ("n1", "n2")

    svc.update("controllers", {"controller": "ctl", "peers": "192.0.2.1,192.0.2.2"})
    again = _running(svc)
    assert changed_zones(after, again) == {"ze"}  # the EVPN zone's controller
    assert affected(after, again).members(["n1", "n3"]) == ("n3",)

    svc.update("zones", {"zone": "zb", "mtu": 1400})
    last = _running(svc)
    everywhere = affected(again, last)
    assert everywhere.zones == ("zb",) and everywhere.all_nodes  # zb has no nodes list: every node
    assert everywhere.members(["n1", "n9"]) == ("n1", "n9")
    assert changed_zones(last, last) == set() and not affected(last, last).members(["n1"])


def test_a_deleted_zone_concerns_the_nodes_it_was_on(tmp_path: Path) -> None:
    svc = SdnService(str(tmp_path))
    svc.create("zones", {"zone": "zc", "type": "simple", "nodes": "n7"})
    before = _running(svc)
    svc.delete("zones", {"zone": "zc"})
    after = _running(svc)
    assert affected(before, after).members(["n1", "n7"]) == ("n7",)
