"""``SdnService``: the one entry point of every SDN operation (see the package docstring)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from sdnkit.service import changes, objects
from sdnkit.service.kinds import Collection
from sdnkit.service.transaction import ChangeHook, Context, default_hooks
from sdnkit.store import Store, open_store

__all__ = ["SdnService"]


def _params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """A private copy without ``None`` values (an absent optional parameter, as web frameworks pass it)."""
    return {k: v for k, v in (params or {}).items() if v is not None}


class SdnService:
    """Operations on one store; every method takes PVE's parameters as one mapping."""

    def __init__(
        self,
        store: Store | str | os.PathLike[str] | None = None,
        *,
        hooks: Sequence[ChangeHook] | None = None,
        lock_timeout: float = 10.0,
    ) -> None:
        if store is None or isinstance(store, str | os.PathLike):
            store = open_store(store)
        self.ctx = Context(store, list(default_hooks() if hooks is None else hooks), lock_timeout)

    @property
    def store(self) -> Store:
        return self.ctx.store

    # objects ---------------------------------------------------------------------------------

    def list(
        self, collection: Collection | str, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        return objects.list_objects(self.ctx, collection, _params(params))

    def get(self, collection: Collection | str, params: Mapping[str, Any]) -> dict[str, Any]:
        return objects.get(self.ctx, collection, _params(params))

    def create(self, collection: Collection | str, params: Mapping[str, Any]) -> None:
        objects.create(self.ctx, collection, _params(params))

    def update(self, collection: Collection | str, params: Mapping[str, Any]) -> None:
        objects.update(self.ctx, collection, _params(params))

    def delete(self, collection: Collection | str, params: Mapping[str, Any]) -> None:
        objects.delete(self.ctx, collection, _params(params))

    # the whole configuration -----------------------------------------------------------------

    def index(self) -> list[dict[str, str]]:
        return changes.index()

    def pending(self, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return changes.pending(self.ctx, _params(params))

    def check(self) -> list[str]:
        return changes.check(self.ctx)

    def apply(self, params: Mapping[str, Any] | None = None) -> int:
        return changes.apply(self.ctx, _params(params))

    def apply_config(
        self, params: Mapping[str, Any] | None = None, *, by: str = "sdn apply"
    ) -> changes.Applied:
        """``apply``, answering with the old and new running configs (and the confirm record)."""
        return changes.apply_config(self.ctx, _params(params), by=by)

    def rollback(self, params: Mapping[str, Any] | None = None) -> None:
        changes.rollback(self.ctx, _params(params))

    def dry_run(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return changes.dry_run(self.ctx, _params(params))

    def lock(self, params: Mapping[str, Any] | None = None) -> str:
        return changes.lock(self.ctx, _params(params))

    def unlock(self, params: Mapping[str, Any] | None = None) -> None:
        changes.unlock(self.ctx, _params(params))

    def import_pve(self, source: str | os.PathLike[str], *, force: bool = False) -> list[str]:
        return changes.import_pve(self.ctx, source, force=force)
