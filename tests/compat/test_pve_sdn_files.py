"""Upstream fixtures' running configs: written as PVE section-config files, they read back unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdnkit.config.running import RunningConfig
from sdnkit.config.schema import VERSIONED_KINDS
from sdnkit.config.sectionconfig import format_config, parse_config

FIXTURES = Path("/work/shared/fixtures/pve-zones")
CASES = sorted(FIXTURES.glob("*/*/running-config.json")) if FIXTURES.is_dir() else []


@pytest.mark.skipif(not CASES, reason=f"upstream fixtures not found in {FIXTURES}")
@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}")
def test_running_config_objects_round_trip_through_cfg_files(path: Path) -> None:
    running = RunningConfig.loads(path.read_text())
    for kind in VERSIONED_KINDS:
        sections = running.config.of(kind)
        text = format_config(sections.values())
        parsed = parse_config(kind, text).sections
        assert parsed == dict(sections), kind
        assert format_config(parsed.values()) == text
    again = RunningConfig.loads(running.dumps())
    assert again == running
