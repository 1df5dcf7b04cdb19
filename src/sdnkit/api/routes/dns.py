"""`/cluster/sdn/dns`: SDN DNS servers (ACL paths `/sdn/dns[/<id>]`)."""

from __future__ import annotations

from fastapi import APIRouter

from sdnkit.api.routes.crud import register_collection
from sdnkit.api.routes.flat import flat_collection
from sdnkit.config.schema import Kind

COLLECTION = flat_collection(Kind.DNS)


def register(router: APIRouter) -> None:
    register_collection(router, COLLECTION, "SDN DNS servers")
