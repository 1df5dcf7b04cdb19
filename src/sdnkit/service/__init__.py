"""The service layer: every SDN operation, shared by the ``sdn`` CLI and the REST API.

Usage::

    from sdnkit.service import SdnService
    svc = SdnService("/etc/sdnkit")             # or SdnService(store), SdnService() for $SDN_CONFIG_DIR
    svc.create("zones", {"zone": "z1", "type": "simple", "ipam": "pve"})
    svc.list("zones", {"pending": 1})
    version = svc.apply({})

Parameters are one mapping per call, exactly as PVE's handlers get them (path parameters and body
merged): PVE names (``zone``, ``vnet``, ``subnet``, ``type``, option keys such as ``vrf-vxlan``),
values as strings (pvesh, forms) or JSON values (numbers, booleans, lists for repeated keys such as
``dhcp-range``; a list of ``{start-address, end-address}`` objects works too). A parameter whose
value is ``None`` counts as absent. Answers are PVE's JSON shapes.

Objects (``collection`` is a ``Collection`` or its value)::

    list(collection, params)   GET    /cluster/sdn/<collection>
        params: pending=1 | running=1 (versioned kinds only); type=<type> (zones, controllers,
        ipams, dns); vnet=<vnet> (subnets, as in /vnets/{vnet}/subnets); fabric_id (fabric-nodes)
        -> [object]; current objects carry "digest"; pending objects carry "state" and "pending"
    get(collection, params)    GET    .../{id}          -> object (same shapes and modes)
    create(collection, params) POST   -> None   (<id param>, type, options, lock-token)
    update(collection, params) PUT    -> None   (<id param>, options, delete="a,b", digest, lock-token)
    delete(collection, params) DELETE -> None   (<id param>, lock-token, digest)

    collection    id parameter(s)                     notes
    zones         zone                                type required on create
    vnets         vnet                                type "vnet" (optional)
    subnets       subnet (CIDR on create; ID or CIDR   vnet required on create; answers add id,
                  otherwise), vnet                     cidr, zone, network, mask; dhcp-range is
                                                       [{start-address, end-address}]
    controllers   controller                          type required on create
    ipams         ipam                                no pending/running; "pve" always exists
    dns           dns                                 no pending/running
    fabrics       id, protocol (openfabric|ospf)      /cluster/sdn/fabrics/fabric; delete takes
                                                      the fabric's nodes along
    fabric-nodes  fabric_id, node_id, protocol        /cluster/sdn/fabrics/node/{fabric_id}

Whole configuration::

    index()                  GET    /cluster/sdn            -> [{id}]
    pending(params)          (sdnkit)                       -> [{kind, id, state, changes{key:{old,new}}}]
    check()                  (sdnkit)                       -> [message] of every broken rule
    apply(params)            PUT    /cluster/sdn            -> new running version (int); lock-token,
                                                               release-lock (default 1), confirm=S
                                                               (service/confirm.py). Map to a UPID.
    apply_config(params, by=) (sdnkit)                      -> Applied(running, previous, confirm);
                                                               follow it with service/rollout.py
    rollback(params)         POST   /cluster/sdn/rollback   -> None; lock-token, release-lock
    dry_run(params)          GET    /cluster/sdn/dry-run    -> {version, next-version, changes[],
                                                               node?, interfaces-diff?, frr-diff?}
    lock(params)             POST   /cluster/sdn/lock       -> token; allow-pending (default 0)
    unlock(params)           DELETE /cluster/sdn/lock       -> None; lock-token or force=1
    import_pve(dir, force=)  (sdnkit) copy a PVE /etc/pve/sdn leniently -> [warning]

Errors (``sdnkit.errors``), all with ``.message``; map them to HTTP as noted:

    ConfigError      400; ``.errors`` maps parameter names to messages (PVE's ``errors`` object)
    ConflictError    400 in PVE (stale ``digest``, or the store changed under the write); a
                     ConfigError subclass, so check it first if you want 409
    NotFoundError    404 (PVE answers 500 "... does not exist"); ``.key`` is the id parameter
    LockError        the SDN lock or the global lock token: wrong/missing ``lock-token``, already
                     locked, pending changes on lock; PVE answers 500

Every write holds the store's ``sdn`` lock for read-validate-write, validates the whole resulting
configuration (``config/validate.py``), runs the change hooks (``service/transaction.py``: the
IPAM registers subnets and gateways there: ``sdnkit.service.ipam_hooks`` is in ``HOOK_MODULES``)
and commits atomically; a refused write changes nothing.
Permissions are the API's business: the service trusts its caller.
"""

from __future__ import annotations

from sdnkit.service.kinds import Collection
from sdnkit.service.sdn import SdnService
from sdnkit.service.transaction import (
    HOOK_MODULES,
    Action,
    ChangeHook,
    ObjectChange,
    Transaction,
)

__all__ = [
    "HOOK_MODULES",
    "Action",
    "ChangeHook",
    "Collection",
    "ObjectChange",
    "SdnService",
    "Transaction",
]
