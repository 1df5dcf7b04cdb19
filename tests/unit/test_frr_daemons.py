"""Which FRR daemons a plan needs, the daemons file edit, and reading FRR's refusals.

Expectations come from FRR's documentation (which daemon serves which ``router`` block, ``bfd``,
static routes) and from frr-reload.py's output as FRR 8.4 prints it (captured from real runs).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # plan_support.py

from plan_support import config, facts

from sdnkit.plan.frr.daemons import daemons_of_lines
from sdnkit.plan.planner import plan_node
from sdnkit.realize.frr import lines_to_add, refusal
from sdnkit.realize.frr_service import daemons_file_text, enabled_in, wanted

DEBIAN_DAEMONS = 'bgpd=no\nospfd=no\nfabricd=no\nbfdd=no\nvtysh_enable=yes\nzebra_options="  -A 127.0.0.1"\n'


def test_an_evpn_controller_needs_bgpd_and_bfdd():
    cfg = config(controllers={"ctl": {"type": "evpn", "asn": 65000, "peers": "192.0.2.1,192.0.2.2"}})
    plan = plan_node(cfg, facts())
    assert plan.frr_daemons == ("bfdd", "bgpd")


def test_local_lines_add_their_daemons():
    text = ["router ospf", " ospf router-id 1.1.1.1", "ip route 10.9.0.0/16 192.0.2.254", "router ospf6"]
    assert daemons_of_lines(text) == {"ospfd", "staticd", "ospf6d"}
    assert daemons_of_lines(["! router bgp 1", "line vty"]) == set()


def test_daemons_file_keeps_other_lines_and_turns_on_what_is_needed():
    new = daemons_file_text(DEBIAN_DAEMONS, wanted(["bgpd", "bfdd"]), ["fabricd", "ospfd"])
    assert enabled_in(new) == {"bgpd", "bfdd"}
    assert "zebra=" not in new and 'zebra_options="  -A 127.0.0.1"' in new
    assert "ospfd=no" in new and "vtysh_enable=yes" in new
    assert daemons_file_text(new, wanted(["bgpd", "bfdd"]), ["fabricd", "ospfd"]) == new  # stable


def test_a_parse_error_names_the_line_and_its_block():
    conf = "frr defaults datacenter\n!\nrouter bgp 65100\n neighbor 192.0.2.1 remote-as 65000\n"
    conf += " neighbor 192.0.2.1 bogus\nexit\n"
    output = (
        "2026-12-07 16:44:18,947  ERROR: vtysh failed to process new configuration: "
        "vtysh (mark file) exited with status 2:\n"
        "b'line 5: % Unknown command:  neighbor 192.0.2.1 bogus\\n\\n'\n"
    )
    words, blocks = refusal(output, conf)
    assert words == "line 5: % Unknown command:  neighbor 192.0.2.1 bogus"
    assert blocks == ["router bgp 65100 > neighbor 192.0.2.1 bogus"]


def test_lines_frr_did_not_take_come_with_their_context_and_without_the_usual_noise():
    output = """
Lines To Delete
===============
no hostname vm

Lines To Add
============
router bgp 65100 vrf vrf_zone1
 address-family l2vpn evpn
  route-target import 4294967295:4294967295
frr version 10.4.1
hostname outside
line vty
"""
    rt = "route-target import 4294967295:4294967295"
    assert lines_to_add(output) == [f"router bgp 65100 vrf vrf_zone1 > address-family l2vpn evpn > {rt}"]
    assert lines_to_add("\nLines To Delete\n===============\n\nLines To Add\n============\nline vty\n") == []
