"""IP address management: one plugin per IPAM type, and the built-in IPAM's state.

* ``base.py``: the ``IpamPlugin`` protocol, ``IpEntry``/``Allocation`` values, the type registry
  (``IPAM_TYPES``: ``pve``, ``netbox``, ``phpipam``) and the ``Undo`` helper.
* ``ranges.py``: pure address arithmetic (usable bounds, pools, allocated intervals).
* ``pve.py``: the built-in IPAM; its state (``state.py``, upstream's ``pve-ipam-state.json``)
  lives behind ``storage.py`` (the interface, in-memory and whole-document backends) and
  ``journal.py`` (the durable journal backend of the local store).
* ``netbox.py``, ``phpipam.py``: external IPAMs over ``http.py`` (also used for PowerDNS).

Operations on vnets, guests and the API shapes are in ``sdnkit.service.ipam``.
"""
