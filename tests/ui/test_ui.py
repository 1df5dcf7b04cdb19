"""The web UI as an operator uses it, in Chromium, against a real ``sdn serve`` and a lab node's agent.

Every test logs in through the form and works through the panels as a person would (fields found
by their labels, buttons by their names). What the UI shows is checked against an independent
source where there is one: the API's own answer for the same request, the lab node's kernel (``ip
-j``) for what Apply realized, ``config/schema.py`` for the options every form must offer.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
from typing import Any

import pytest
import requests

from sdnkit.config.schema import TYPES, Kind
from sdnkit.lab.state import LabStore

from .conftest import Controller, login, new_page, screenshot, unique

pytestmark = [pytest.mark.ui, pytest.mark.kernel, pytest.mark.api, pytest.mark.slow]

_NETS = itertools.count(os.getpid() % 150 + 20)


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as pw_expect

    return pw_expect(target)


def _net() -> str:
    """A /24 no other test of this run uses: 10.<n>.1.0/24."""
    return f"10.{next(_NETS) % 250}.1"


def _zones_panel(page: Any) -> None:
    page.get_by_role("link", name="Zones", exact=True).click()
    expect(page.get_by_role("heading", name="Zones", exact=True).first).to_be_visible()


def _row(scope: Any, text: str) -> Any:
    """The table row (in a page or a part of it) with a cell that reads ``text``."""
    root = getattr(scope, "page", scope)  # the inner locator of a filter is relative to the row
    cell = root.locator("td").filter(has_text=re.compile(f"^\\s*{re.escape(text)}\\s*$"))
    return scope.get_by_role("row").filter(has=cell)


def _kernel_addresses(controller: Controller, dev: str) -> list[str]:
    out = subprocess.run(
        ["ip", "-n", controller.node_ns(), "-j", "addr", "show", "dev", dev],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        return []
    return [
        f"{a['local']}/{a['prefixlen']}" for link in json.loads(out.stdout) for a in link.get("addr_info", [])
    ]


def _create_zone(page: Any, zone: str, **fields: str) -> Any:
    page.get_by_role("button", name="Create zone").click()
    dialog = page.get_by_role("dialog", name="Create zone")
    dialog.get_by_label("Type", exact=True).select_option(label="Simple")
    dialog.get_by_label("ID", exact=True).fill(zone)
    for name, value in fields.items():
        control = dialog.get_by_label(name, exact=True)
        if control.evaluate("el => el.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)
    dialog.get_by_role("button", name="Create", exact=True).click()
    return dialog


def test_login_logout_and_a_wrong_password(page: Any, controller: Controller) -> None:
    page.goto(f"{controller.url}/")
    page.get_by_label("User name").fill("root@pam")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("authentication failure")
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    screenshot(page, "login")

    page.get_by_label("Password").fill(controller.root_password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.get_by_text("root@pam", exact=True)).to_be_visible()
    assert page.evaluate("fetch('/api2/json/cluster/sdn/zones').then(r => r.status)") == 200

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You are logged out.")).to_be_visible()
    assert page.evaluate("fetch('/api2/json/cluster/sdn/zones').then(r => r.status)") == 401
    page.reload()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()


def test_simple_zone_example_through_the_forms_pending_then_applied(
    page: Any, controller: Controller
) -> None:
    """The seed's Simple zone example: zone, vnet, subnet with gateway, SNAT and a DHCP range."""
    zone, vnet, net = unique("sz"), unique("sv"), _net()
    login(page, controller)
    _zones_panel(page)
    dialog = _create_zone(page, zone, IPAM="pve", DHCP="dnsmasq")
    expect(dialog).to_be_hidden()
    expect(_row(page, zone)).to_contain_text("new")

    page.get_by_role("link", name="VNets", exact=True).click()
    page.get_by_role("button", name="Create vnet").click()
    dialog = page.get_by_role("dialog", name="Create vnet")
    dialog.get_by_label("ID", exact=True).fill(vnet)
    dialog.get_by_label("Zone", exact=True).select_option(zone)
    dialog.get_by_role("button", name="Create", exact=True).click()
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name=f"Select vnet {vnet}").click()

    page.get_by_role("button", name="Create subnet").click()
    dialog = page.get_by_role("dialog", name="Create subnet")
    dialog.get_by_label("Subnet (CIDR)").fill(f"{net}.0/24")
    dialog.get_by_label("Gateway", exact=True).fill(f"{net}.1")
    dialog.get_by_label("SNAT", exact=True).check()
    dialog.get_by_role("button", name="Add DHCP range").click()
    dialog.get_by_label("Start address 1").fill(f"{net}.100")
    dialog.get_by_label("End address 1").fill(f"{net}.200")
    screenshot(page, "subnet-form")
    dialog.get_by_role("button", name="Create", exact=True).click()
    expect(dialog).to_be_hidden()
    subnet_row = _row(page, f"{net}.0/24")
    expect(subnet_row).to_contain_text("new")
    expect(subnet_row).to_contain_text(f"{net}.100 – {net}.200")
    screenshot(page, "vnets-pending")

    page.get_by_role("link", name="Overview").click()
    diff = page.get_by_role("region", name="Pending changes")
    expect(diff.get_by_role("cell", name=f"zone {zone}")).to_be_visible()
    expect(diff.get_by_role("cell", name=f"vnet {vnet}")).to_be_visible()
    expect(diff.get_by_role("cell", name=f"subnet {zone}-{net}.0-24")).to_be_visible()
    expect(diff).to_contain_text(f"{net}.1")
    assert _kernel_addresses(controller, vnet) == []  # pending: nothing on the node yet
    screenshot(page, "overview-pending")

    page.get_by_role("button", name="Apply…").click()
    dialog = page.get_by_role("dialog", name="Apply pending changes")
    expect(dialog.get_by_role("cell", name=f"subnet {zone}-{net}.0-24")).to_be_visible()
    screenshot(page, "apply-diff")
    dialog.get_by_role("button", name="Apply", exact=True).click()
    dialog = page.get_by_role("dialog").filter(has_text="Applying version")
    expect(dialog.get_by_text("OK", exact=True)).to_be_visible()
    node1 = (
        dialog.get_by_role("list", name="Status per node").get_by_role("listitem").filter(has_text="node1")
    )
    expect(node1).to_contain_text("available", timeout=60_000)
    screenshot(page, "apply-progress")
    dialog.get_by_role("button", name="Close").click()

    assert f"{net}.1/24" in _kernel_addresses(controller, vnet)  # the agent realized it
    expect(page.get_by_role("link", name="no pending changes")).to_be_visible()
    status = page.get_by_role("region", name="Status per node").get_by_role("rowgroup", name="Node node1")
    expect(_row(status, zone)).to_contain_text("available")
    expect(_row(status, vnet)).to_contain_text("available")
    screenshot(page, "overview-applied")


def test_the_servers_message_is_shown_at_the_field(page: Any, controller: Controller) -> None:
    zone = unique("iv")
    login(page, controller)
    _zones_panel(page)
    dialog = _create_zone(page, zone, MTU="70000")
    mtu = dialog.get_by_label("MTU", exact=True)
    expect(mtu).to_have_attribute("aria-invalid", "true")
    message = dialog.locator(f"#{mtu.get_attribute('aria-describedby').split()[-1]}")
    api = _api_errors(controller, zone=zone, type="simple", mtu="70000")  # the API's own words
    expect(message).to_have_text(api["mtu"])
    assert "70000 is out of range 68-65535" in api["mtu"]
    screenshot(page, "zone-form-error")
    assert zone not in [z["zone"] for z in controller.call("GET", "/cluster/sdn/zones")]

    mtu.fill("1400")
    dialog.get_by_role("button", name="Create", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(_row(page, zone)).to_contain_text("1400")
    assert {"zone": zone, "type": "simple", "mtu": 1400}.items() <= controller.call(
        "GET", f"/cluster/sdn/zones/{zone}"
    ).items()


def _api_errors(controller: Controller, **params: str) -> dict[str, str]:
    session = requests.Session()
    login_data = session.post(
        f"{controller.api}/access/ticket",
        data={"username": "root@pam", "password": controller.root_password},
        verify=controller.cafile,
        timeout=30,
    ).json()["data"]
    resp = session.post(
        f"{controller.api}/cluster/sdn/zones",
        data=params,
        headers={"CSRFPreventionToken": login_data["CSRFPreventionToken"]},
        verify=controller.cafile,
        timeout=30,
    )
    assert resp.status_code == 400
    return resp.json()["errors"]


def test_zones_made_through_the_api_are_changed_and_deleted_pending_then_rolled_back(
    page: Any, controller: Controller
) -> None:
    zone, gone = unique("ap"), unique("ag")
    controller.call("POST", "/cluster/sdn/zones", zone=zone, type="simple", mtu="1500")
    controller.call("POST", "/cluster/sdn/zones", zone=gone, type="simple")
    controller.call("PUT", "/cluster/sdn")
    login(page, controller)
    _zones_panel(page)
    row = _row(page, zone)
    expect(row).to_contain_text("1500")
    expect(row.locator(".badge")).to_have_count(0)  # applied: no pending state

    page.get_by_role("button", name=f"Edit zone {zone}").click()
    dialog = page.get_by_role("dialog", name=f"Edit zone {zone}")
    mtu = dialog.get_by_label("MTU", exact=True)
    expect(mtu).to_have_value("1500")
    mtu.fill("1400")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(row).to_contain_text("changed")
    expect(row.locator(".change .old")).to_have_text("1500")
    expect(row.locator(".change .new")).to_have_text("1400")

    page.get_by_role("button", name=f"Delete zone {gone}").click()
    page.get_by_role("dialog", name=f"Delete zone {gone}").get_by_role("button", name="Delete").click()
    expect(_row(page, gone)).to_contain_text("deleted")
    expect(page.get_by_role("button", name=f"Edit zone {gone}")).to_be_disabled()
    page.get_by_role("button", name=f"Details of zone {zone}").click()
    screenshot(page, "zones-pending")

    page.get_by_role("button", name=f"Edit zone {zone}").click()  # the form shows the pending change too
    dialog = page.get_by_role("dialog", name=f"Edit zone {zone}")
    expect(dialog.locator(".pend")).to_contain_text("1500")
    dialog.get_by_role("button", name="Cancel").click()

    page.get_by_role("link", name="Overview").click()
    diff = page.get_by_role("region", name="Pending changes")
    expect(diff.get_by_role("row").filter(has_text="MTU").filter(has_text="1400")).to_be_visible()
    expect(_row(diff, f"zone {gone}")).to_contain_text("deleted")
    page.get_by_role("button", name="Rollback…").click()
    page.get_by_role("dialog", name="Roll back pending changes").get_by_role(
        "button", name="Roll back"
    ).click()
    expect(page.get_by_role("link", name="no pending changes")).to_be_visible()
    assert controller.call("GET", f"/cluster/sdn/zones/{zone}")["mtu"] == 1500
    assert controller.call("GET", f"/cluster/sdn/zones/{gone}")["zone"] == gone
    _zones_panel(page)
    expect(_row(page, zone).locator(".badge")).to_have_count(0)
    expect(_row(page, gone).locator(".badge")).to_have_count(0)


def test_task_log_lines_become_per_node_progress(page: Any, controller: Controller) -> None:
    """PVE task log lines ``<node>: <event>`` (what apply's task logs per node) as the dialog reads them."""
    login(page, controller)
    events = page.evaluate(
        """async () => {
        const { nodeEvents } = await import('/js/apply.js');
        const log = ['running version 5 committed', 'node1: applying version 5', 'node2: applying version 5',
          'node1: applied version 5', 'node2: error: link "vnet1": create bridge failed', 'node3: waiting',
          'TASK OK'].map((t, i) => ({ n: i + 1, t }));
        return Object.fromEntries([...nodeEvents(log)].map(([n, e]) => [n, [e.state, e.text]]));
    }"""
    )
    assert events == {
        "node1": ["available", "applied version 5"],
        "node2": ["error", 'error: link "vnet1": create bridge failed'],
        "node3": ["running", "waiting"],
    }


def test_a_second_dhcp_range_is_pending_old_to_new(page: Any, controller: Controller) -> None:
    zone, vnet, net = unique("dz"), unique("dv"), _net()
    controller.call("POST", "/cluster/sdn/zones", zone=zone, type="simple", ipam="pve", dhcp="dnsmasq")
    controller.call("POST", "/cluster/sdn/vnets", vnet=vnet, zone=zone)
    first = f"start-address={net}.100,end-address={net}.150"
    controller.call(
        "POST",
        f"/cluster/sdn/vnets/{vnet}/subnets",
        subnet=f"{net}.0/24",
        gateway=f"{net}.1",
        **{"dhcp-range": first},
    )
    controller.call("PUT", "/cluster/sdn")
    login(page, controller)
    page.get_by_role("link", name="Subnets", exact=True).click()
    page.get_by_role("button", name=f"Edit subnet {net}.0/24").click()
    dialog = page.get_by_role("dialog", name=f"Edit subnet {net}.0/24")
    expect(dialog.get_by_label("Start address 1")).to_have_value(f"{net}.100")
    dialog.get_by_role("button", name="Add DHCP range").click()
    dialog.get_by_label("Start address 2").fill(f"{net}.200")
    dialog.get_by_label("End address 2").fill(f"{net}.250")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    row = _row(page, f"{net}.0/24")
    expect(row).to_contain_text("changed")
    expect(row.locator(".change .old")).to_have_text(f"{net}.100 – {net}.150")
    expect(row.locator(".change .new")).to_have_text(f"{net}.100 – {net}.150; {net}.200 – {net}.250")
    subnet = controller.call("GET", f"/cluster/sdn/vnets/{vnet}/subnets/{zone}-{net}.0-24")
    assert subnet["dhcp-range"] == [
        {"start-address": f"{net}.100", "end-address": f"{net}.150"},
        {"start-address": f"{net}.200", "end-address": f"{net}.250"},
    ]


def test_fabrics_and_their_nodes_through_the_forms(page: Any, controller: Controller) -> None:
    fabric, ospf = unique("fab"), unique("osp")
    try:
        _fabric_and_node(page, controller, fabric)
        controller.call(
            "POST",
            "/cluster/sdn/fabrics/fabric",
            id=ospf,
            protocol="ospf",
            area="0",
            ip_prefix="198.51.100.0/24",
        )
        page.reload()
        page.get_by_role("button", name=f"Select fabric {ospf}").click()
        page.get_by_role("button", name="Create fabric node").click()
        dialog = page.get_by_role("dialog", name="Create fabric node")  # an OSPF node's options: no IPv6
        expect(dialog.get_by_label("IP", exact=True)).to_be_visible()
        expect(dialog.get_by_label("IPv6", exact=True)).to_have_count(0)
        dialog.get_by_role("button", name="Cancel").click()
    finally:  # never applied: this host's kernel has no dummy devices for the fabric's loopback
        for made in (fabric, ospf):
            if any(f["id"] == made for f in controller.call("GET", "/cluster/sdn/fabrics/fabric")):
                controller.call("DELETE", f"/cluster/sdn/fabrics/fabric/{made}")


def _fabric_and_node(page: Any, controller: Controller, fabric: str) -> None:
    login(page, controller)
    page.get_by_role("link", name="Fabrics", exact=True).click()
    page.get_by_role("button", name="Create fabric", exact=True).click()
    dialog = page.get_by_role("dialog", name="Create fabric")
    dialog.get_by_label("Protocol", exact=True).select_option(label="OpenFabric")
    dialog.get_by_label("ID", exact=True).fill(fabric)
    dialog.get_by_label("IP prefix", exact=True).fill("192.0.2.0/24")
    dialog.get_by_role("button", name="Create", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(_row(page, fabric)).to_contain_text("new")

    page.get_by_role("button", name=f"Select fabric {fabric}").click()
    page.get_by_role("button", name="Create fabric node").click()
    dialog = page.get_by_role("dialog", name="Create fabric node")
    expect(dialog.get_by_label("Hello interval")).to_have_count(0)  # the node's options, not the fabric's
    expect(dialog.get_by_label("IPv6", exact=True)).to_be_visible()  # an OpenFabric node has one
    dialog.get_by_label("ID", exact=True).fill("node1")
    dialog.get_by_label("IP", exact=True).fill("192.0.2.11")
    dialog.get_by_role("button", name="Add Interfaces").click()
    dialog.get_by_label("Name 1").fill("eth0")
    dialog.get_by_role("button", name="Create", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(_row(page, "node1")).to_contain_text("192.0.2.11")
    expect(page.get_by_role("button", name="Create fabric node")).to_be_enabled()
    node = controller.call("GET", f"/cluster/sdn/fabrics/node/{fabric}/node1")
    assert (node["protocol"], node["ip"], node["interfaces"]) == ("openfabric", "192.0.2.11", ["name=eth0"])


def test_a_restricted_user_sees_only_their_zone_and_refusals_are_shown(
    page: Any, controller: Controller
) -> None:
    mine, other = unique("ra"), unique("rb")
    for zone in (mine, other):
        controller.call("POST", "/cluster/sdn/zones", zone=zone, type="simple")
    user, password = f"{unique('al')}@pve", "alice-password-1"
    controller.user(user, password, {f"/sdn/zones/{mine}": "PVESDNAdmin"})
    login(page, controller, user, password)
    _zones_panel(page)
    expect(_row(page, mine)).to_be_visible()
    expect(_row(page, other)).to_have_count(0)
    screenshot(page, "restricted-zones")

    page.get_by_role("button", name=f"Edit zone {mine}").click()  # allowed: their zone
    dialog = page.get_by_role("dialog", name=f"Edit zone {mine}")
    dialog.get_by_label("MTU", exact=True).fill("1450")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(_row(page, mine)).to_contain_text("1450")

    dialog = _create_zone(page, unique("rc"))  # refused: creating needs SDN.Allocate on /sdn/zones
    expect(dialog.get_by_role("alert")).to_contain_text("Permission check failed (/sdn/zones, SDN.Allocate)")
    dialog.get_by_role("button", name="Cancel").click()

    page.get_by_role("link", name="Overview").click()
    expect(page.get_by_role("region", name="Pending changes").get_by_role("alert")).to_contain_text(
        "Permission check failed (/sdn, SDN.Audit)"
    )
    page.get_by_role("button", name="Apply…").click()
    dialog = page.get_by_role("dialog", name="Apply pending changes")
    dialog.get_by_role("button", name="Apply", exact=True).click()
    expect(dialog.get_by_role("alert").filter(has_text="SDN.Allocate")).to_contain_text(
        "Permission check failed (/sdn, SDN.Allocate)"
    )


def test_topology_shows_nodes_zones_vnets_and_guest_ports(page: Any, controller: Controller) -> None:
    zone, vnet, later, net = unique("tz"), unique("tv"), unique("tn"), _net()
    controller.call("POST", "/cluster/sdn/zones", zone=zone, type="simple", ipam="pve")
    controller.call("POST", "/cluster/sdn/vnets", vnet=vnet, zone=zone)
    controller.call("POST", f"/cluster/sdn/vnets/{vnet}/subnets", subnet=f"{net}.0/24", gateway=f"{net}.1")
    controller.call("PUT", "/cluster/sdn")
    dhcp_root = LabStore(controller.lab).node_dir("node1") / "dhcp"
    mac = "02:00:5e:10:00:01"
    controller.sdn(
        "port", "add", "--vnet", vnet, "--guest", "100", "--mac", mac, "--hostname", "web1",
        "--node", "node1",
        "--node-netns", controller.node_ns(), "--dhcp-root", str(dhcp_root), "--no-firewall",
    )  # fmt: skip
    controller.call("POST", "/cluster/sdn/zones", zone=later, type="simple")  # pending, not applied

    login(page, controller)
    page.get_by_role("link", name="Topology").click()
    svg = page.locator("svg.topology")
    expect(svg.get_by_role("link", name=re.compile(f"^zone {zone}: Simple"))).to_be_visible()
    port = svg.get_by_role(
        "img", name=re.compile(f"^port of guest 100 on node node1, MAC {mac}, {net}\\.\\d+")
    )
    expect(port).to_have_attribute("aria-label", re.compile("applied$"), timeout=60_000)
    expect(svg.get_by_role("link", name=re.compile(f"^zone {later}: .*\\+ new"))).to_be_visible()
    expect(svg.get_by_role("link", name=re.compile("^node node1: "))).to_be_visible()
    screenshot(page, "topology", full_page=True)


def test_ipam_status_add_change_and_delete_a_mapping(page: Any, controller: Controller) -> None:
    zone, vnet, net = unique("iz"), unique("iv"), _net()
    controller.call("POST", "/cluster/sdn/zones", zone=zone, type="simple", ipam="pve")
    controller.call("POST", "/cluster/sdn/vnets", vnet=vnet, zone=zone)
    controller.call("POST", f"/cluster/sdn/vnets/{vnet}/subnets", subnet=f"{net}.0/24", gateway=f"{net}.1")
    controller.call("PUT", "/cluster/sdn")
    login(page, controller)
    page.get_by_role("link", name="IPAM", exact=True).click()
    status = page.get_by_role("region", name="IPAM status")
    expect(_row(status, f"{net}.1")).to_contain_text("gateway")

    status.get_by_role("button", name="Add mapping").click()
    dialog = page.get_by_role("dialog", name="Add an IP mapping")
    dialog.get_by_label("VNet", exact=True).select_option(vnet)
    dialog.get_by_label("IP", exact=True).fill(f"{net}.50")
    dialog.get_by_label("MAC", exact=True).fill("02:00:5e:20:00:50")
    dialog.get_by_label("VMID", exact=True).fill("150")
    dialog.get_by_role("button", name="Add", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(_row(status, f"{net}.50")).to_contain_text("02:00:5e:20:00:50")
    screenshot(page, "ipam-status")

    status.get_by_role("button", name=f"Edit mapping {net}.50").click()
    dialog = page.get_by_role("dialog", name="Change the address of 02:00:5e:20:00:50")
    dialog.get_by_label("IP", exact=True).fill(f"{net}.51")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(_row(status, f"{net}.51")).to_contain_text("02:00:5e:20:00:50")
    expect(_row(status, f"{net}.50")).to_have_count(0)

    status.get_by_role("button", name=f"Delete mapping {net}.51").click()
    page.get_by_role("dialog", name=f"Delete mapping {net}.51").get_by_role("button", name="Delete").click()
    expect(_row(status, f"{net}.51")).to_have_count(0)
    ips = {e["ip"] for e in controller.call("GET", "/cluster/sdn/ipams/pve/status") if e["vnet"] == vnet}
    assert ips == {f"{net}.1"}


FORMS = (  # (panel link, create button, schema kind, type select shows these names)
    ("Zones", "Create zone", Kind.ZONES,
     {"simple": "Simple", "vlan": "VLAN", "qinq": "QinQ", "vxlan": "VXLAN", "evpn": "EVPN"}),
    ("Controllers", "Create controller", Kind.CONTROLLERS, {"evpn": "EVPN", "bgp": "BGP", "isis": "IS-IS"}),
    ("IPAM", "Create IPAM", Kind.IPAMS, {"pve": "PVE", "netbox": "NetBox", "phpipam": "phpIPAM"}),
    ("DNS", "Create DNS server", Kind.DNS, {"powerdns": "PowerDNS"}),
)  # fmt: skip

LABELLED = """() => [...document.querySelectorAll('input, select, textarea, button, fieldset.array')]
  .filter(el => el.offsetParent !== null)
  .filter(el => el.tagName === 'BUTTON' ? !(el.textContent.trim() || el.getAttribute('aria-label'))
    : el.tagName === 'FIELDSET' ? !el.querySelector('legend')
    : !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
      && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML.slice(0, 120))"""


def test_create_forms_offer_every_option_of_every_type_each_labelled(
    page: Any, controller: Controller
) -> None:
    login(page, controller)
    for link, button, kind, names in FORMS:
        page.get_by_role("link", name=link, exact=True).click()
        page.get_by_role("button", name=button).click()
        dialog = page.get_by_role("dialog", name=button)
        for type_, name in names.items():
            dialog.get_by_label("Type", exact=True).select_option(label=name)
            for key in TYPES[kind][type_].options:
                control = dialog.locator(f"[id='{kind.value}-form-{key}']")
                expect(control).to_be_visible()
            assert page.evaluate(LABELLED) == [], f"{link} {type_}: controls without a label or name"
        dialog.get_by_role("button", name="Cancel").click()
        expect(dialog).to_be_hidden()
        assert page.evaluate(LABELLED) == [], f"{link}: controls without a label or name"


def test_keyboard_only(page: Any, controller: Controller) -> None:
    page.goto(f"{controller.url}/")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(controller.root_password)
    page.keyboard.press("Shift+Tab")  # realm, then user name
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Control+a")
    page.keyboard.type("root@pam")
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    zones = page.get_by_role("link", name="Zones", exact=True)
    for _ in range(30):
        if zones.evaluate("el => el === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(zones).to_be_focused()
    page.keyboard.press("Enter")
    create = page.get_by_role("button", name="Create zone")
    for _ in range(30):
        if create.evaluate("el => el === document.activeElement"):
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Create zone")
    expect(dialog).to_be_visible()
    assert dialog.evaluate("d => d.contains(document.activeElement)")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_the_session_is_renewed_before_it_expires(page: Any, controller: Controller) -> None:
    page.clock.install()
    login(page, controller)
    with page.expect_request(lambda r: r.url.endswith("/access/ticket") and r.method == "POST") as renewal:
        page.clock.fast_forward("16:00")
    sent = dict(pair.split("=", 1) for pair in (renewal.value.post_data or "").split("&"))
    assert sent["username"] == "root%40pam" and sent["password"].startswith("PVE%3Aroot%40pam%3A")
    assert renewal.value.response().status == 200
    _zones_panel(page)  # still logged in after the renewal
    expect(page.get_by_role("button", name="Log in")).to_have_count(0)


def test_light_and_dark_follow_the_system(browser: Any, controller: Controller) -> None:
    backgrounds = {}
    for scheme in ("light", "dark"):
        pg = new_page(browser, color_scheme=scheme)
        try:
            login(pg, controller)
            rgb = pg.evaluate("getComputedStyle(document.body).backgroundColor")
            backgrounds[scheme] = sum(int(v) for v in re.findall(r"\d+", rgb)[:3]) / 3
            if scheme == "dark":
                screenshot(pg, "overview-dark")
            assert pg.js_errors == []
        finally:
            pg.context.close()
    assert backgrounds["light"] > 200 and backgrounds["dark"] < 60
