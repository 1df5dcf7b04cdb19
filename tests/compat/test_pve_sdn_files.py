"""Upstream fixtures' running configs: written as PVE section-config files, they read back unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from prerequisites import pve_case_params
from sdnkit.config.running import RunningConfig
from sdnkit.config.schema import VERSIONED_KINDS
from sdnkit.config.sectionconfig import format_config, parse_config


@pytest.mark.needs("pve-fixtures")
@pytest.mark.parametrize("case", pve_case_params())
def test_running_config_objects_round_trip_through_cfg_files(case: Path) -> None:
    running = RunningConfig.loads((case / "running-config.json").read_text())
    for kind in VERSIONED_KINDS:
        sections = running.config.of(kind)
        text = format_config(sections.values())
        parsed = parse_config(kind, text).sections
        assert parsed == dict(sections), kind
        assert format_config(parsed.values()) == text
    again = RunningConfig.loads(running.dumps())
    assert again == running
