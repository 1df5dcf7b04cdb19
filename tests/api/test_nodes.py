"""``/nodes/{node}/sdn``: zone and vnet status from the node agents' records, as PVE reports it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from sdnkit.agent import status as records
from sdnkit.agent.status import NodeStatus, ObjectStatus, Status
from sdnkit.store import LocalStore

if TYPE_CHECKING:
    from tests.api.conftest import Server

pytestmark = pytest.mark.api


def _record(server: Server, node: str, version: int, applied: int, vnet_error: str | None = None) -> None:
    vnet = ObjectStatus(
        status=Status.ERROR if vnet_error else Status.AVAILABLE, message=vnet_error, zone="nz"
    )
    zone = ObjectStatus(status=Status.ERROR if vnet_error else Status.AVAILABLE, zone_type="simple")
    record = NodeStatus(
        node=node, version=version, applied=applied, time=time.time(), zones={"nz": zone}, vnets={"nv": vnet}
    )
    records.write(LocalStore(server.config_dir), record)


def test_zone_and_vnet_status_per_node(server: Server) -> None:
    server.root("POST", "/cluster/sdn/zones", data={"zone": "nz", "type": "simple"})
    server.root("POST", "/cluster/sdn/zones", data={"zone": "nz2", "type": "simple", "nodes": "other"})
    server.root("POST", "/cluster/sdn/vnets", data={"vnet": "nv", "zone": "nz"})
    version = int(server.root("PUT", "/cluster/sdn").split(":")[6])

    zones = {z["zone"]: z for z in server.root("GET", "/nodes/nodea/sdn/zones")}
    assert set(zones) == {"nz"}  # nz2 is deployed on node "other" only
    assert zones["nz"]["status"] == "pending" and "not yet generated" in zones["nz"]["statusmsg"]

    _record(server, "nodea", version, version - 1)
    assert "too old" in server.root("GET", "/nodes/nodea/sdn/zones")[0]["statusmsg"]

    _record(server, "nodea", version, version, vnet_error="missing vxlan_nv")
    assert server.root("GET", "/nodes/nodea/sdn/zones") == [
        {"zone": "nz", "status": "error", "type": "simple"}
    ]
    content = server.root("GET", "/nodes/nodea/sdn/zones/nz/content")
    assert content == [{"vnet": "nv", "status": "error", "statusmsg": "missing vxlan_nv"}]
    assert {n["node"] for n in server.root("GET", "/nodes")} >= {"nodea"}

    _record(server, "nodea", version, version)
    assert server.root("GET", "/nodes/nodea/sdn/vnets") == [
        {"vnet": "nv", "status": "available", "zone": "nz"}
    ]
    resp = server.call("GET", "/nodes/nodea/sdn/zones/nz2", server.root_token)
    assert resp.status_code == 404 and "not running on node" in resp.reason
