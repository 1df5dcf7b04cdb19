"""Ansible's ``community.proxmox`` SDN modules, unchanged from the ``ansible`` package, against ``sdn serve``.

A real ``ansible-playbook`` runs the modules with their own connection options (api_host, api_port,
api_user, api_token_id, api_token_secret, validate_certs) over HTTPS. Each module takes the global
lock, changes one object, applies with ``PUT /cluster/sdn`` and releases the lock, as against PVE.
The playbooks create, update, read and delete a zone, a vnet and a subnet; a second run of the
same playbook must change nothing for vnets and subnets (the zone module reports every update as a
change whatever the values). Results are read from Ansible's JSON callback, and the effect from
the running configuration the server answers with ``running=1``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.api.conftest import Server

pytestmark = [pytest.mark.api, pytest.mark.slow]

PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
HEADER = """- hosts: localhost
  gather_facts: false
  module_defaults:
    group/community.proxmox.proxmox:
      api_host: 127.0.0.1
      api_port: {port}
      api_user: root@pam
      api_token_id: admin
      api_token_secret: "{secret}"
      validate_certs: false
  tasks:
"""
CREATE = """
    - name: zone
      community.proxmox.proxmox_zone: {zone: anszone, type: simple, ipam: pve}
    - name: vnet
      community.proxmox.proxmox_vnet: {vnet: ansvnet, zone: anszone, alias: first}
    - name: subnet
      community.proxmox.proxmox_subnet:
        vnet: ansvnet
        zone: anszone
        subnet: 10.42.0.0/24
        gateway: 10.42.0.1
        dhcp_range: [{start: 10.42.0.100, end: 10.42.0.150}]
    - name: zone_info
      community.proxmox.proxmox_zone_info: {}
    - name: vnet_info
      community.proxmox.proxmox_vnet_info: {vnet: ansvnet}
"""
UPDATE = """
    - name: zone
      community.proxmox.proxmox_zone: {zone: anszone, type: simple, ipam: pve, mtu: 1400}
    - name: vnet
      community.proxmox.proxmox_vnet: {vnet: ansvnet, zone: anszone, alias: second}
    - name: subnet
      community.proxmox.proxmox_subnet:
        vnet: ansvnet
        zone: anszone
        subnet: 10.42.0.0/24
        gateway: 10.42.0.1
        snat: true
        dhcp_range: [{start: 10.42.0.200, end: 10.42.0.210}]
"""
DELETE_SUBNET = """
    - name: subnet
      community.proxmox.proxmox_subnet: {vnet: ansvnet, zone: anszone, subnet: 10.42.0.0/24, state: absent}
"""
DELETE_VNET_ZONE = """
    - name: vnet
      community.proxmox.proxmox_vnet: {vnet: ansvnet, state: absent}
    - name: zone
      community.proxmox.proxmox_zone: {zone: anszone, state: absent}
"""


@pytest.fixture(scope="module")
def ansible() -> Path:
    if not PLAYBOOK.exists() and shutil.which("ansible-playbook") is None:
        message = "ansible-playbook is not installed (pip install 'ansible==12.3.0', the dev extra)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return PLAYBOOK if PLAYBOOK.exists() else Path(str(shutil.which("ansible-playbook")))


def play(ansible: Path, server: Server, tmp_path: Path, tasks: str) -> dict[str, dict[str, Any]]:
    """Run the tasks; their results by task name (Ansible's JSON callback)."""
    secret = server.root_token.rsplit("=", 1)[1]
    book = tmp_path / "play.yml"
    book.write_text(HEADER.format(port=server.port, secret=secret) + tasks)
    env = {
        **os.environ,
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "PYTHONWARNINGS": "ignore",
    }
    done = subprocess.run(
        [str(ansible), "-i", "localhost,", "-c", "local", str(book)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    report = json.loads(done.stdout)
    results = {t["task"]["name"]: t["hosts"]["localhost"] for t in report["plays"][0]["tasks"]}
    failed = {name: r.get("msg") for name, r in results.items() if r.get("failed")}
    assert not failed and done.returncode == 0, f"failed tasks: {failed}\n{done.stderr[-2000:]}"
    return results


def running(server: Server, path: str) -> Any:
    return server.root("GET", path, params={"running": 1})


def test_a_playbook_creates_updates_reads_and_deletes_zone_vnet_and_subnet(ansible, server, tmp_path):
    first = play(ansible, server, tmp_path, CREATE)
    assert all(first[name]["changed"] for name in ("zone", "vnet", "subnet"))
    assert "anszone" in {z["zone"] for z in first["zone_info"]["zones"]}
    (vnet,) = first["vnet_info"]["vnets"]
    assert vnet["zone"] == "anszone" and vnet["alias"] == "first" and vnet["firewall_rules"] == []
    assert [s["cidr"] for s in vnet["subnets"]] == ["10.42.0.0/24"]
    applied = {v["vnet"]: v for v in running(server, "/cluster/sdn/vnets")}
    assert applied["ansvnet"]["alias"] == "first"  # applied through PUT /cluster/sdn, not left pending

    again = play(ansible, server, tmp_path, CREATE)
    assert not again["vnet"]["changed"] and not again["subnet"]["changed"]

    updated = play(ansible, server, tmp_path, UPDATE)
    assert all(updated[name]["changed"] for name in ("zone", "vnet", "subnet"))
    assert {v["vnet"]: v for v in running(server, "/cluster/sdn/vnets")}["ansvnet"]["alias"] == "second"
    (subnet,) = running(server, "/cluster/sdn/vnets/ansvnet/subnets")
    ranges = {(r["start-address"], r["end-address"]) for r in subnet["dhcp-range"]}
    assert subnet["snat"] == 1 and ranges == {("10.42.0.100", "10.42.0.150"), ("10.42.0.200", "10.42.0.210")}
    assert {z["zone"]: z for z in running(server, "/cluster/sdn/zones")}["anszone"]["mtu"] == 1400
    again = play(ansible, server, tmp_path, UPDATE)
    assert not again["vnet"]["changed"] and not again["subnet"]["changed"]

    deleted = play(ansible, server, tmp_path, DELETE_SUBNET + DELETE_VNET_ZONE)
    assert all(deleted[name]["changed"] for name in ("zone", "vnet", "subnet"))
    assert "ansvnet" not in {v["vnet"] for v in running(server, "/cluster/sdn/vnets")}
    assert "anszone" not in {z["zone"] for z in running(server, "/cluster/sdn/zones")}
    # again, without the subnet task: its module lists the subnets of a vnet that is gone now, which
    # fails (404 here, 500 "sdn vnet 'ansvnet' does not exist" on PVE)
    again = play(ansible, server, tmp_path, DELETE_VNET_ZONE)
    assert not again["vnet"]["changed"] and not again["zone"]["changed"]
    assert not (server.config_dir / ".lock").exists()  # every module released the global lock
