"""The REST API: Proxmox VE's ``/api2/json`` SDN paths over the service layer, with PVE auth.

Start it with ``sdn serve`` (``cli/serve.py``) or build the ASGI app with
``sdnkit.api.app.create_app(config_dir)``. Layout::

    app.py          the FastAPI app: routes, error handlers, OpenAPI at /api2/json/openapi.json
    server.py       uvicorn over TLS, PVE's reason phrases
    tls.py          the self-signed certificate made on first start (or the one given)
    endpoint.py     one endpoint: authenticate, parse parameters, run the handler, envelope
    params.py       request parameters generated from config/schema.py (also the OpenAPI parameters)
    envelope.py     {"data": ...} answers and PVE-style errors; exception -> HTTP status
    auth.py         API tokens, tickets and CSRF tokens; login
    tickets.py      ticket and CSRF token signing
    access.py       users, tokens, ACLs in <config dir>/access (user.cfg, priv/)
    credentials.py  salted password and token hashes
    roles.py        privileges, roles, ACL paths
    permissions.py  ACL evaluation (propagation, privilege separation), 403 messages
    nodestatus.py   per-node zone/vnet status from the agents' records
    routes/         one module per collection (zones, vnets, subnets, ips, controllers, ipams,
                    dns, fabrics, cluster, nodes, access)

Differences from PVE: ``docs/api.md``.
"""
