"""Simple zones: an isolated bridge per vnet on each node; vnets take no tag."""

from __future__ import annotations

from sdnkit.config.zones.base import TagPolicy, ZoneRules


class SimpleRules(ZoneRules):
    tag_policy = TagPolicy.FORBIDDEN
