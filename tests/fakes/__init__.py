"""Test doubles for servers that cannot run on this machine (NetBox, phpIPAM).

Each is a real HTTP(S) server on 127.0.0.1 that answers as the real server does according to
``/work/shared/research/external-ipam-apis.md`` (observed against NetBox v4.6.8 and phpIPAM
v1.8.2) and the projects' API documentation; see each module's docstring. ``ipam_inputs`` holds
what the plugin tests send them (subnets, guests).
"""
