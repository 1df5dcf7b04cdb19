"""EVPN zones: VXLAN vnets routed in a VRF (L3VNI ``vrf-vxlan``), driven by the one evpn controller."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from sdnkit.config.formats import Value
from sdnkit.config.model import ControllerType, SdnConfig, Vnet, Zone, ZoneType
from sdnkit.config.schema import Kind
from sdnkit.config.violation import Violation
from sdnkit.config.zones.base import IfaceName, TagPolicy, TagScope, ZoneRules, vnet_iface, zone_iface

VNI_ZONE_TYPES = (ZoneType.VXLAN, ZoneType.EVPN)


def default_mac(zone_id: str) -> str:
    """The zone's anycast gateway MAC when none is set: locally administered, unicast, stable.

    PVE draws a random one from the datacenter's MAC prefix; a hash of the zone ID gives the same
    answer on every run, so tests and re-creations are reproducible.
    """
    digest = hashlib.sha256(f"sdnkit-evpn-gateway:{zone_id}".encode()).digest()
    return ":".join(f"{octet:02X}" for octet in (0x02, *digest[:5]))


class EvpnRules(ZoneRules):
    tag_policy = TagPolicy.REQUIRED
    tag_scope = TagScope.VNI
    tag_max = 16777215
    tag_name = "VNI"
    vlanaware = False  # EVPN vnets are routed; guest VLANs cannot cross the VRF

    def fill_defaults(self, zone_id: str, options: dict[str, Value]) -> dict[str, Value]:
        return {**options, "mac": options.get("mac") or default_mac(zone_id)}

    def check_zone(self, zone: Zone, cfg: SdnConfig) -> Iterator[Violation]:
        yield from self._controller(zone, cfg)
        yield from self._vrf_vxlan(zone, cfg)
        yield from self._rt_import(zone, cfg)
        if zone.exitnodes_primary and zone.exitnodes_primary not in zone.exitnodes:
            yield Violation(
                Kind.ZONES,
                zone.id,
                "exitnodes-primary",
                f"exitnodes-primary {zone.exitnodes_primary} must be one of the exitnodes "
                f"({','.join(sorted(zone.exitnodes)) or 'none set'})",
            )

    def _controller(self, zone: Zone, cfg: SdnConfig) -> Iterator[Violation]:
        ctl = cfg.controllers.get(zone.controller or "")
        if ctl is None:
            text = f'controller "{zone.controller}" does not exist'
            yield Violation(Kind.ZONES, zone.id, "controller", text)
        elif ctl.type is not ControllerType.EVPN:
            text = f'controller "{ctl.id}" is of type {ctl.type}, an evpn zone needs an evpn controller'
            yield Violation(Kind.ZONES, zone.id, "controller", text)

    def _vrf_vxlan(self, zone: Zone, cfg: SdnConfig) -> Iterator[Violation]:
        vni = zone.vrf_vxlan
        for other in cfg.zones.values():
            if other.id != zone.id and other.type is ZoneType.EVPN and other.vrf_vxlan == vni:
                text = f'vrf-vxlan {vni} is already used by zone "{other.id}" (it must be unique)'
                yield Violation(Kind.ZONES, zone.id, "vrf-vxlan", text)
        for vnet in cfg.vnets.values():
            vzone = cfg.zones.get(vnet.zone)
            if vnet.tag == vni and vzone is not None and vzone.type in VNI_ZONE_TYPES:
                text = f'vrf-vxlan {vni} is already the VNI of vnet "{vnet.id}" (they must differ)'
                yield Violation(Kind.ZONES, zone.id, "vrf-vxlan", text)

    def _rt_import(self, zone: Zone, cfg: SdnConfig) -> Iterator[Violation]:
        """No zone may import a route target of this cluster's own zones: its own is implied
        (FRR does not even show it), and another zone's cannot carry traffic on Linux, where each
        VRF has its own L3VNI device and router MAC; importing it drops routes of both zones."""
        owners = {}
        for other in cfg.zones.values():
            ctl = cfg.controllers.get(other.controller or "")
            if other.type is ZoneType.EVPN and other.vrf_vxlan and ctl is not None and ctl.asn:
                owners[f"{ctl.asn}:{other.vrf_vxlan}"] = other.id
        for rt in sorted(zone.rt_import):
            owner = owners.get(rt)
            if owner == zone.id:
                yield Violation(
                    Kind.ZONES, zone.id, "rt-import", f"rt-import {rt} is the zone's own route target"
                )
            elif owner is not None:
                text = (
                    f'rt-import {rt} is the route target of zone "{owner}" of this cluster: EVPN zones '
                    "of one cluster cannot import each other's routes on Linux (each VRF has its own "
                    "L3VNI device and router MAC)"
                )
                yield Violation(Kind.ZONES, zone.id, "rt-import", text)

    def interface_names(self, zone: Zone, vnets: list[Vnet]) -> Iterator[IfaceName]:
        for prefix in ("vrf_", "vrfvx_", "vrfbr_", "xvrf_", "xvrfp_"):
            yield zone_iface(zone, prefix)
        for vnet in vnets:
            yield vnet_iface(vnet, "vxlan_")
