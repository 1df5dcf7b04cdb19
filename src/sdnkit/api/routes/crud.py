"""The five endpoints of an object collection, declared from data.

``<base>``: GET (list, filtered to what the caller may see) and POST (create);
``<base>/{id}``: GET, PUT (update with ``delete`` and ``digest``), DELETE.
A ``Collection`` says where the objects are, which parameters they take (generated from the
schema) and which ACL path guards each operation; the service layer does the work.

Permissions follow PVE (spec §4.4) with the fix of §10.17: reading one object needs
``SDN.Audit`` or ``SDN.Allocate``, like listing it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter

from sdnkit.api.endpoint import Call, add
from sdnkit.api.params import Param, ParamSpec
from sdnkit.api.roles import Privilege

__all__ = ["READ", "Acl", "Collection", "audit_visible", "register_collection"]

READ = (Privilege.SDN_AUDIT, Privilege.SDN_ALLOCATE)
ALLOCATE = Privilege.SDN_ALLOCATE

Visible = Callable[[Call, Mapping[str, Any]], bool]  # may the caller see this listed object?
PathOf = Callable[[Call, str], str]  # (call, object ID) -> ACL path
Extra = Callable[[Call, str], None]  # (call, HTTP method) -> raises PermissionDeniedError


def audit_visible(path: Callable[[Mapping[str, Any]], str]) -> Visible:
    """Visible with Audit or Allocate on the object's path."""
    return lambda call, obj: call.perms.has(path(obj), *READ, any_of=True)


@dataclass(frozen=True)
class Acl:
    """The ACL paths of one collection's operations."""

    visible: Visible | None  # filter of list answers; None: the list guard decides alone
    read: PathOf  # GET one: Audit or Allocate
    create: Callable[[Call], str]  # POST: Allocate
    write: PathOf  # PUT and DELETE: Allocate
    list_guard: Callable[[Call], str] | None = None  # Audit or Allocate before listing at all
    extra: Extra | None = None  # further checks of GET one, POST, PUT and DELETE (fabric nodes)


@dataclass(frozen=True)
class Collection:
    name: str  # the service collection
    base: str  # path of the list, below /api2/json
    id_name: str  # path parameter of one object (also the service's ID parameter)
    id_param: Param
    acl: Acl
    list_spec: ParamSpec
    get_spec: ParamSpec
    create_spec: ParamSpec
    update_spec: ParamSpec
    delete_spec: ParamSpec
    parent: Mapping[str, Param] = field(default_factory=dict)  # path parameters of the list path

    @property
    def item(self) -> str:
        return f"{self.base}/{{{self.id_name}}}"

    def service_params(self, call: Call, *, with_id: bool) -> dict[str, Any]:
        params: dict[str, Any] = {**call.params, **{k: call.path[k] for k in self.parent}}
        if with_id:
            params[self.id_name] = call.path[self.id_name]
        return params

    def check_extra(self, call: Call, method: str) -> None:
        if self.acl.extra is not None:
            self.acl.extra(call, method)


def _list(coll: Collection) -> Callable[[Call], Any]:
    def handler(call: Call) -> Any:
        if coll.acl.list_guard is not None:
            call.perms.check_any(coll.acl.list_guard(call), READ)
        objs = call.service.list(coll.name, coll.service_params(call, with_id=False))
        visible = coll.acl.visible
        return objs if visible is None else [o for o in objs if visible(call, o)]

    return handler


def _get(coll: Collection) -> Callable[[Call], Any]:
    def handler(call: Call) -> Any:
        call.perms.check_any(coll.acl.read(call, call.path[coll.id_name]), READ)
        coll.check_extra(call, "GET")
        return call.service.get(coll.name, coll.service_params(call, with_id=True))

    return handler


def _create(coll: Collection) -> Callable[[Call], Any]:
    def handler(call: Call) -> Any:
        call.perms.check(coll.acl.create(call), ALLOCATE)
        coll.check_extra(call, "POST")
        call.service.create(coll.name, coll.service_params(call, with_id=False))

    return handler


def _update(coll: Collection) -> Callable[[Call], Any]:
    def handler(call: Call) -> Any:
        call.perms.check(coll.acl.write(call, call.path[coll.id_name]), ALLOCATE)
        coll.check_extra(call, "PUT")
        call.service.update(coll.name, coll.service_params(call, with_id=True))

    return handler


def _delete(coll: Collection) -> Callable[[Call], Any]:
    def handler(call: Call) -> Any:
        call.perms.check(coll.acl.write(call, call.path[coll.id_name]), ALLOCATE)
        coll.check_extra(call, "DELETE")
        call.service.delete(coll.name, coll.service_params(call, with_id=True))

    return handler


def register_collection(router: APIRouter, coll: Collection, what: str) -> None:
    one = coll.id_name
    item_params = {**coll.parent, one: coll.id_param}
    parent = coll.parent
    add(
        router,
        "GET",
        coll.base,
        _list(coll),
        spec=coll.list_spec,
        path_params=parent,
        summary=f"List {what}.",
    )
    add(
        router,
        "POST",
        coll.base,
        _create(coll),
        spec=coll.create_spec,
        path_params=parent,
        summary=f"Create a {one}.",
    )
    add(
        router,
        "GET",
        coll.item,
        _get(coll),
        spec=coll.get_spec,
        path_params=item_params,
        summary=f"Read a {one}.",
    )
    add(
        router,
        "PUT",
        coll.item,
        _update(coll),
        spec=coll.update_spec,
        path_params=item_params,
        summary=f"Update a {one} (options, delete, digest).",
    )
    add(
        router,
        "DELETE",
        coll.item,
        _delete(coll),
        spec=coll.delete_spec,
        path_params=item_params,
        summary=f"Delete a {one}.",
    )
