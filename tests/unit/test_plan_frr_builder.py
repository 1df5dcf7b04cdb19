"""The FRR builder's drafts freeze into the model types with every setting they were given."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest

from sdnkit.plan.frr.builder import EvpnDraft, RouterDraft, UnicastDraft, VrfDraft
from sdnkit.plan.frr.model import (
    AfNeighbor,
    BgpRouter,
    EvpnFamily,
    IpRoute,
    NeighborGroup,
    Redistribute,
    UnicastFamily,
    Vrf,
)

# every scalar setting of a BGP router, none at its default
SETTINGS: dict[str, Any] = {
    "vrf": "vrf_a",
    "asn": 65000,
    "router_id": "192.0.2.1",
    "hard_administrative_reset": False,
    "default_ipv4_unicast": False,
    "coalesce_time": 1000,
    "graceful_restart_notification": False,
    "disable_ebgp_connected_route_check": True,
    "bestpath_as_path_multipath_relax": True,
}


@pytest.mark.parametrize(
    ("draft", "frozen"),
    [(UnicastDraft, UnicastFamily), (EvpnDraft, EvpnFamily), (RouterDraft, BgpRouter), (VrfDraft, Vrf)],
)
def test_each_draft_has_the_fields_of_its_model_type(draft: type, frozen: type) -> None:
    """Freezing copies fields by name: a model field the draft lacks would silently stay default."""
    assert [f.name for f in fields(draft)] == [f.name for f in fields(frozen)]


def test_router_freezes_with_every_setting_and_family() -> None:
    router = RouterDraft(**SETTINGS)
    router.neighbor_groups.append(NeighborGroup(name="G", remote_as="external", ips=("192.0.2.2",)))
    router.custom.append(" bgp x")
    v4 = router.unicast("ipv4")
    v4.networks.append("192.0.2.1/32")
    v4.import_vrf.append("vrf_b")
    v4.neighbors.append(AfNeighbor(name="G"))
    v4.redistribute.append(Redistribute(protocol="connected"))
    router.unicast("ipv6").custom.append("  y")
    evpn = router.evpn()
    evpn.advertise_all_vni = True
    evpn.autort_as = 65001
    evpn.default_originate.append("ipv4")
    evpn.rt_import.append("65001:5")
    assert router.evpn() is evpn and router.unicast("ipv4") is v4  # created once, then reused
    assert router.freeze() == BgpRouter(
        **SETTINGS,
        neighbor_groups=(NeighborGroup(name="G", remote_as="external", ips=("192.0.2.2",)),),
        custom=(" bgp x",),
        ipv4_unicast=UnicastFamily(
            networks=("192.0.2.1/32",),
            import_vrf=("vrf_b",),
            neighbors=(AfNeighbor(name="G"),),
            redistribute=(Redistribute(protocol="connected"),),
        ),
        ipv6_unicast=UnicastFamily(custom=("  y",)),
        l2vpn_evpn=EvpnFamily(
            advertise_all_vni=True, autort_as=65001, default_originate=("ipv4",), rt_import=("65001:5",)
        ),
    )


def test_vrf_freezes_with_its_routes() -> None:
    vrf = VrfDraft("vrf_a", vni=5)
    vrf.ip_routes.append(IpRoute(prefix="10.0.0.0/8", via="null0"))
    vrf.custom.append(" x")
    assert vrf.freeze() == Vrf(
        name="vrf_a", vni=5, ip_routes=(IpRoute(prefix="10.0.0.0/8", via="null0"),), custom=(" x",)
    )
