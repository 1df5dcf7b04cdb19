"""`/cluster/sdn/controllers`: SDN controllers (ACL paths `/sdn/controllers[/<id>]`)."""

from __future__ import annotations

from fastapi import APIRouter

from sdnkit.api.routes.crud import register_collection
from sdnkit.api.routes.flat import flat_collection
from sdnkit.config.schema import Kind

COLLECTION = flat_collection(Kind.CONTROLLERS)


def register(router: APIRouter) -> None:
    register_collection(router, COLLECTION, "SDN controllers")
