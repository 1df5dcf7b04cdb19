"""The API's routes, one module per collection; each has ``register(router)``.

``ROUTE_MODULES`` lists them in the order they appear in the OpenAPI document.
"""

from __future__ import annotations

ROUTE_MODULES: tuple[str, ...] = (
    "access",
    "users",
    "cluster",
    "resources",
    "zones",
    "vnets",
    "subnets",
    "ips",
    "vnet_firewall",
    "ports",
    "controllers",
    "ipams",
    "dns",
    "fabrics",
    "nodes",
    "schema",
)
