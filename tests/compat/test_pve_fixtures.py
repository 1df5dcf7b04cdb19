"""Our ifupdown2 and FRR output is equivalent to upstream's for every PVE zone fixture.

Reads ``../shared/fixtures/pve-zones/<type>/<case>/`` (or ``$SDN_PVE_FIXTURES``: running-config.json,
interfaces, optional frr.conf.local, expected_sdn_interfaces, expected_controller_config) with the
node facts upstream's test harness mocks; without the folder the tests skip, or fail in CI. The
only deviation allowed is the documented §10.21 fix: top-level statements of frr.conf.local that
upstream drops.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from equivalence import diff_frr, diff_interfaces, dropped_local_statements

from prerequisites import pve_case_params, pve_cases
from sdnkit.cli import render as render_cli
from sdnkit.config.running import RunningConfig
from sdnkit.plan.factsfile import build_facts
from sdnkit.plan.interfaces_file import parse_interfaces
from sdnkit.plan.planner import plan_node
from sdnkit.render.frr import render_frr
from sdnkit.render.ifupdown import render_interfaces

# what run_test_zones.pl mocks: node name, interface MAC, route to anything via vmbr0, bridge ports
FACTS = {
    "node": "localhost",
    "mac": "bc:24:11:1d:69:60",
    "underlay_iface": "vmbr0",
    "bridge_ports": {"vmbr0": ["eth0"]},
}
pytestmark = pytest.mark.needs("pve-fixtures")


def _optional(path: Path) -> str | None:
    return path.read_text() if path.is_file() else None


def _render(case: Path) -> tuple[str, str | None]:
    running = RunningConfig.loads((case / "running-config.json").read_text())
    interfaces = parse_interfaces((case / "interfaces").read_text(), str(case / "interfaces"))
    facts = build_facts(FACTS, interfaces, _optional(case / "frr.conf.local"))
    plan = plan_node(running, facts)
    return render_interfaces(plan), render_frr(plan.frr) if plan.frr is not None else None


@pytest.mark.parametrize("case", pve_case_params())
def test_fixture_equivalent(case: Path) -> None:
    sdn, frr = _render(case)
    assert diff_interfaces((case / "expected_sdn_interfaces").read_text(), sdn) == []
    expected_frr = _optional(case / "expected_controller_config")
    if expected_frr is None:
        assert frr is None, "upstream writes no frr.conf for this config"
        return
    assert frr is not None, "upstream writes an frr.conf for this config"
    allowed = dropped_local_statements(_optional(case / "frr.conf.local") or "")
    assert diff_frr(expected_frr, frr, allowed_extra=allowed) == []


def test_render_command_matches_planner(tmp_path: Path) -> None:
    """``sdn render`` writes what the planner and renderers produce, for a case with FRR."""
    case = pve_cases("expected_controller_config")[0]
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps(FACTS))
    argv = [
        "render",
        "--running-config",
        str(case / "running-config.json"),
        "--interfaces",
        str(case / "interfaces"),
    ]
    argv += ["--facts", str(facts), "--out", str(tmp_path / "out")]
    if (case / "frr.conf.local").is_file():
        argv += ["--frr-local", str(case / "frr.conf.local")]
    parser = argparse.ArgumentParser()
    parser.add_argument("--config-dir", default=str(tmp_path / "store"))
    parser.add_argument("--output", default="text")
    render_cli.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    assert args.func(args) == 0
    sdn, frr = _render(case)
    assert (tmp_path / "out" / "sdn").read_text() == sdn
    assert (tmp_path / "out" / "frr.conf").read_text() == frr
