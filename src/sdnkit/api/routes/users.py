"""``/access/users``: user management through the API (PVE ``API2/User.pm``), over ``AccessStore``.

* ``GET /access/users`` (``enabled``, ``full``): ``[{userid, enable, expire, comment?, realm-type,
  tokens?}]``, the users the caller may see: all of them with ``User.Modify`` or ``Sys.Audit`` on
  ``/access/groups``, else only the caller's own entry (PVE always lists the caller).
* ``POST /access/users`` (``userid``, ``password``, ``comment``, ``enable``, ``expire``),
  ``GET/PUT/DELETE /access/users/{userid}``: ``User.Modify`` on ``/access/groups`` (sdnkit has no
  groups, so PVE's group-scoped check is that path); ``root@pam`` can only be changed by itself
  and never deleted or disabled.

PVE's ``email``, ``firstname``, ``lastname``, ``groups`` and ``keys`` are accepted on create and
update only when empty (sdnkit keeps no such data); a value is refused rather than dropped.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sdnkit.api.access import ROOT, AccessStore, Token, User, check_userid
from sdnkit.api.endpoint import Call, add
from sdnkit.api.params import BOOL, DELETE, DIGEST, Param, ParamSpec
from sdnkit.api.roles import Privilege
from sdnkit.config.formats import Integer, Text
from sdnkit.errors import ConfigError, NotFoundError, PermissionDeniedError

__all__ = ["register"]

GROUPS = "/access/groups"
# ASCII only, as every value that reaches a file of the store (user.cfg, shadow.cfg)
USERID_FORMAT = Text(r"[^\s:/!,=@%]{1,60}@[A-Za-z][A-Za-z0-9._-]+", 64, "user ID (<name>@<realm>)")
PRINTABLE = r"[ -~]+"
USERID = Param("userid", "Full user ID, <name>@<realm>.", USERID_FORMAT, required=True)
ATTRIBUTES = (
    Param("comment", "A comment.", Text(PRINTABLE, 2048, "comment (printable ASCII)")),
    Param("enable", "Enable the account (default 1).", BOOL),
    Param("expire", "Account expiration date (seconds since epoch); 0: never.", Integer(0, None)),
    *(
        Param(name, f"Not kept by sdnkit; only an empty value is accepted ({name}).", Text(PRINTABLE, 256))
        for name in ("email", "firstname", "lastname", "groups", "keys")
    ),
)
LIST_SPEC = ParamSpec(
    (
        Param("enabled", "Only enabled (1) or disabled (0) users.", BOOL),
        Param("full", "Include the users' API tokens.", BOOL),
    )
)
PASSWORD = Param("password", "Initial password.", Text(PRINTABLE, 4096, "password (printable ASCII)"))
CREATE_SPEC = ParamSpec((USERID, PASSWORD, *ATTRIBUTES))
UPDATE_SPEC = ParamSpec(
    (*ATTRIBUTES, Param("append", "Accepted for compatibility (sdnkit has no groups).", BOOL), DELETE, DIGEST)
)


def _store(call: Call) -> AccessStore:
    return call.state.auth.store


def _token(token: Token) -> dict[str, Any]:
    out: dict[str, Any] = {"tokenid": token.name, "expire": token.expire, "privsep": int(token.privsep)}
    if token.comment:
        out["comment"] = token.comment
    return out


def _user(user: User, tokens: list[Token] | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "userid": user.userid,
        "enable": int(user.enable),
        "expire": user.expire,
        "realm-type": user.userid.rsplit("@", 1)[1],
    }
    if user.comment:
        out["comment"] = user.comment
    if tokens is not None:
        out["tokens"] = [_token(t) for t in tokens]
    return out


def _may_manage(call: Call) -> bool:
    return call.perms.has(GROUPS, Privilege.USER_MODIFY)


def _list(call: Call) -> Any:
    db = _store(call).load()
    everyone = _may_manage(call) or call.perms.has(GROUPS, Privilege.SYS_AUDIT)
    wanted = call.params.get("enabled")
    out = []
    for userid, user in sorted(db.users.items()):
        if not everyone and userid != call.caller.userid:
            continue
        if wanted is not None and user.enable != wanted:
            continue
        tokens = [t for t in db.tokens.values() if t.userid == userid] if call.params.get("full") else None
        out.append(_user(user, sorted(tokens, key=lambda t: t.name) if tokens is not None else None))
    return out


def _check_empty(call: Call) -> None:
    for name in ("email", "firstname", "lastname", "groups", "keys"):
        if call.params.get(name):
            raise ConfigError(
                f"user: {name} is not supported by sdnkit ({name}={call.params[name]})", key=name
            )


def _manage(call: Call, userid: str) -> None:
    call.perms.check(GROUPS, Privilege.USER_MODIFY)
    if userid == ROOT and call.caller.userid != ROOT:
        raise PermissionDeniedError(f"only {ROOT} can change {ROOT}", obj=userid, key="userid")


def _create(call: Call) -> Any:
    userid = check_userid(call.params["userid"])
    _manage(call, userid)
    _check_empty(call)
    _store(call).add_user(
        userid,
        call.params.get("password"),
        call.params.get("comment", ""),
        enable=call.params.get("enable", True),
        expire=call.params.get("expire", 0),
    )


def _read(call: Call) -> Any:
    userid = call.path["userid"]
    if userid != call.caller.userid:
        call.perms.check(GROUPS, Privilege.USER_MODIFY, Privilege.SYS_AUDIT, any_of=True)
    db = _store(call).load()
    if userid not in db.users:
        raise NotFoundError(f"user {userid!r} does not exist", key="userid")
    out = _user(db.users[userid], None)
    out["tokens"] = {t.name: _token(t) for t in db.tokens.values() if t.userid == userid}
    out["groups"] = []
    del out["userid"]
    return out


def _update(call: Call) -> Any:
    userid = call.path["userid"]
    _manage(call, userid)
    _check_empty(call)
    deleted = set(str(call.params.get("delete") or "").replace(";", ",").split(",")) - {""}
    unknown = deleted - {"comment", "expire", "email", "firstname", "lastname", "groups", "keys"}
    if unknown:
        raise ConfigError(f"user {userid!r}: cannot delete {', '.join(sorted(unknown))}", key="delete")
    _store(call).update_user(
        userid,
        enable=call.params.get("enable"),
        expire=0 if "expire" in deleted else call.params.get("expire"),
        comment="" if "comment" in deleted else call.params.get("comment"),
    )


def _delete(call: Call) -> Any:
    userid = call.path["userid"]
    _manage(call, userid)
    _store(call).delete_user(userid)


def register(router: APIRouter) -> None:
    one = {"userid": Param("userid", "Full user ID, <name>@<realm>.", USERID_FORMAT)}
    add(router, "GET", "/access/users", _list, spec=LIST_SPEC, summary="List users.")
    add(router, "POST", "/access/users", _create, spec=CREATE_SPEC, summary="Create a user.")
    add(router, "GET", "/access/users/{userid}", _read, path_params=one, summary="Read a user.")
    add(
        router,
        "PUT",
        "/access/users/{userid}",
        _update,
        spec=UPDATE_SPEC,
        path_params=one,
        summary="Update a user.",
    )
    add(router, "DELETE", "/access/users/{userid}", _delete, path_params=one, summary="Delete a user.")
