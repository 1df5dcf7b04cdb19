"""The API's routes, one module per collection; each has ``register(router)``.

``ROUTE_MODULES`` lists them in the order they appear in the OpenAPI document.
"""

from __future__ import annotations

ROUTE_MODULES: tuple[str, ...] = (
    "access",
    "cluster",
    "zones",
    "vnets",
    "subnets",
    "ips",
    "controllers",
    "ipams",
    "dns",
    "fabrics",
    "ports",
    "nodes",
    "schema",
)
