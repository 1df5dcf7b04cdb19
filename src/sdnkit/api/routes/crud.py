"""The five endpoints of an object collection, declared from data.

``<base>``: GET (list, filtered to what the caller may see) and POST (create);
``<base>/{id}``: GET, PUT (update with ``delete`` and ``digest``), DELETE.
A ``Collection`` says where the objects are, which parameters they take (generated from the
schema by ``kind_collection``) and which ACL path guards each operation; the service layer does
the work.

Permissions follow PVE (spec §4.4) with the fix of §10.17: reading one object needs
``SDN.Audit`` or ``SDN.Allocate``, like listing it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter

from sdnkit.api.endpoint import Call, add
from sdnkit.api.params import (
    Param,
    ParamSpec,
    create_spec,
    delete_spec,
    get_spec,
    id_param,
    list_spec,
    update_spec,
)
from sdnkit.api.roles import Privilege
from sdnkit.config.schema import Kind

__all__ = ["READ", "Acl", "Collection", "audit_visible", "kind_collection", "register_collection"]

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


def kind_collection(
    kind: Kind, acl: Acl, *, base: str | None = None, parent: Mapping[str, Param] | None = None
) -> Collection:
    """The collection of a schema kind: its ID and parameters come from the kind's option table.

    ``base`` defaults to ``/cluster/sdn/<kind>``; ``parent`` holds the path parameters of a
    nested collection (subnets below their vnet).
    """
    return Collection(
        name=kind.value,
        base=base or f"/cluster/sdn/{kind.value}",
        id_name=kind.singular,
        id_param=id_param(kind),
        acl=acl,
        list_spec=list_spec(kind),
        get_spec=get_spec(kind),
        create_spec=create_spec(kind),
        update_spec=update_spec(kind),
        delete_spec=delete_spec(),
        parent=dict(parent or {}),
    )


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
    parent, item = coll.parent, {**coll.parent, one: coll.id_param}  # path parameters
    endpoints = (  # (method, path, handler factory, spec, path parameters, summary), in OpenAPI order
        ("GET", coll.base, _list, coll.list_spec, parent, f"List {what}."),
        ("POST", coll.base, _create, coll.create_spec, parent, f"Create a {one}."),
        ("GET", coll.item, _get, coll.get_spec, item, f"Read a {one}."),
        ("PUT", coll.item, _update, coll.update_spec, item, f"Update a {one} (options, delete, digest)."),
        ("DELETE", coll.item, _delete, coll.delete_spec, item, f"Delete a {one}."),
    )
    for method, path, factory, spec, path_params, summary in endpoints:
        add(router, method, path, factory(coll), spec=spec, path_params=path_params, summary=summary)
