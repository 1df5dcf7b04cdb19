"""Holding back a zone the node cannot realize (pure: no kernel needed)."""

from __future__ import annotations

from sdnkit.agent.holdback import held_back, only_zones
from sdnkit.config.running import RunningConfig


def running(version, zones, vnets, subnets=None):
    return RunningConfig.from_json(
        {
            "version": version,
            "zones": {"ids": zones},
            "vnets": {"ids": vnets},
            "subnets": {"ids": subnets or {}},
        }
    )


OLD = running(
    1,
    {"z1": {"type": "simple"}, "z2": {"type": "vlan", "bridge": "vmbr0"}},
    {"v1": {"type": "vnet", "zone": "z1"}, "v2": {"type": "vnet", "zone": "z2", "tag": "10"}},
    {"z1-10.0.1.0-24": {"type": "subnet", "vnet": "v1", "gateway": "10.0.1.1"}},
)
NEW = running(
    2,
    {"z1": {"type": "simple"}, "z2": {"type": "vlan", "bridge": "vmbr9"}, "z3": {"type": "simple"}},
    {
        "v1": {"type": "vnet", "zone": "z1"},
        "v2": {"type": "vnet", "zone": "z2", "tag": "20"},
        "v3": {"type": "vnet", "zone": "z3"},
    },
)


def test_only_zones_keeps_their_vnets_and_subnets():
    part = only_zones(OLD.config, lambda z: z == "z1")
    assert list(part.zones) == ["z1"] and list(part.vnets) == ["v1"] and len(part.subnets) == 1


def test_a_held_back_zone_keeps_its_last_applied_version_and_the_rest_moves_on():
    held = held_back(NEW, OLD, ["z2"])
    assert held.version == 2
    assert held.config.zones["z2"].bridge == "vmbr0"  # as last applied
    assert held.config.vnets["v2"].tag == 10
    assert held.config.vnets["v1"] == NEW.config.vnets["v1"] and "v3" in held.config.vnets
    assert not held.config.subnets  # z1's subnet is gone in the new version: gone here too


def test_a_new_zone_that_fails_is_left_out():
    held = held_back(NEW, OLD, ["z3"])
    assert "z3" not in held.config.zones and "v3" not in held.config.vnets
    assert held.config.zones["z2"].bridge == "vmbr9"
