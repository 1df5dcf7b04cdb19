"""Stores: where configuration and state live (see ``store/base.py`` for the interface)."""

from __future__ import annotations

import os

from sdnkit.store.base import ABSENT, Document, Store
from sdnkit.store.local import LocalStore

__all__ = ["ABSENT", "DEFAULT_CONFIG_DIR", "Document", "LocalStore", "Store", "config_dir", "open_store"]

DEFAULT_CONFIG_DIR = "/etc/sdnkit"


def config_dir(explicit: str | os.PathLike[str] | None = None) -> str:
    """The store directory: ``explicit``, else ``$SDN_CONFIG_DIR``, else ``/etc/sdnkit``."""
    if explicit:
        return os.fspath(explicit)
    return os.environ.get("SDN_CONFIG_DIR") or DEFAULT_CONFIG_DIR


def open_store(config_dir_: str | os.PathLike[str] | None = None) -> Store:
    """The store for a configuration directory (a local directory; etcd will be chosen here too)."""
    return LocalStore(config_dir(config_dir_))
