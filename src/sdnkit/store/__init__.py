"""Stores: where configuration and state live (see ``store/base.py`` for the interface).

``open_store(spec)`` picks the backend: an ``etcd://`` or ``etcds://`` URL is the etcd store
(``store/etcd.py``, one shared instance per URL and process), anything else a local directory.
Without a spec: ``$SDN_STORE``, else ``$SDN_CONFIG_DIR``, else ``/etc/sdnkit``.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from sdnkit.store.base import ABSENT, Document, Lease, Store, Watch
from sdnkit.store.etcd_client import is_etcd_url, parse_url
from sdnkit.store.local import LocalStore

if TYPE_CHECKING:
    from sdnkit.store.etcd import EtcdStore

__all__ = [
    "ABSENT",
    "DEFAULT_CONFIG_DIR",
    "DEFAULT_STATE_DIR",
    "Document",
    "Lease",
    "LocalStore",
    "Store",
    "Watch",
    "config_dir",
    "is_etcd_url",
    "local_dir",
    "open_store",
    "store_spec",
]

DEFAULT_CONFIG_DIR = "/etc/sdnkit"
DEFAULT_STATE_DIR = "/var/lib/sdnkit"  # node-local state when the store is etcd

_etcd_stores: dict[object, EtcdStore] = {}
_etcd_guard = threading.Lock()


def config_dir(explicit: str | os.PathLike[str] | None = None) -> str:
    """The store directory: ``explicit``, else ``$SDN_CONFIG_DIR``, else ``/etc/sdnkit``."""
    if explicit:
        return os.fspath(explicit)
    return os.environ.get("SDN_CONFIG_DIR") or DEFAULT_CONFIG_DIR


def store_spec(explicit: str | os.PathLike[str] | None = None) -> str:
    """The store to use: ``explicit``, else ``$SDN_STORE``, else ``$SDN_CONFIG_DIR``, else ``/etc/sdnkit``."""
    if explicit:
        return os.fspath(explicit)
    return os.environ.get("SDN_STORE") or config_dir()


def local_dir(spec: str | os.PathLike[str] | None) -> str | None:
    """The directory of a directory store; None for etcd (node-local state goes elsewhere then)."""
    resolved = store_spec(spec)
    return None if is_etcd_url(resolved) else resolved


def open_store(spec: str | os.PathLike[str] | None = None) -> Store:
    """The store named by ``spec`` (a directory or an etcd URL; see the module docstring)."""
    resolved = store_spec(spec)
    if not is_etcd_url(resolved):
        return LocalStore(resolved)
    from sdnkit.store.etcd import EtcdStore

    settings = parse_url(resolved)
    with _etcd_guard:
        store = _etcd_stores.get(settings)
        if store is None or store.closed:  # a closed store is not used again
            store = _etcd_stores[settings] = EtcdStore(settings)
        return store
