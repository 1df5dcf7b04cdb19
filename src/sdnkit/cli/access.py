"""``sdn user``, ``sdn token``, ``sdn acl``: who may use the REST API, and for what.

These edit ``<config dir>/access`` directly (the server picks changes up on its next request),
so the first administrator can be set up before the server runs::

    sdn user passwd root@pam --password ...          # enable ticket login for the superuser
    sdn user add alice@pve --password ...
    sdn token add alice@pve ci --privsep 1           # prints the secret once
    sdn acl set /sdn/zones/z1 --role PVESDNAdmin --token 'alice@pve!ci'
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from sdnkit.api.access import AccessStore, check_tokenid, check_userid
from sdnkit.api.roles import ROLES
from sdnkit.cli.output import emit, say
from sdnkit.errors import ConfigError


def _store(args: argparse.Namespace) -> AccessStore:
    return AccessStore(args.config_dir)


def _bool01(text: str) -> bool:
    if text not in ("0", "1"):
        raise argparse.ArgumentTypeError("expected 0 or 1")
    return text == "1"


def _password(args: argparse.Namespace) -> str:
    """From --password, from standard input (``--password -`` or not a terminal), or a prompt."""
    if args.password not in (None, "-"):
        return str(args.password)
    if args.password == "-" or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Retype password: "):
        raise ConfigError("passwords do not match", key="password")
    return first


# users ------------------------------------------------------------------------------------


def user_add(args: argparse.Namespace) -> int:
    password = _password(args) if args.password is not None or sys.stdin.isatty() else None
    _store(args).add_user(check_userid(args.userid), password, args.comment or "")
    return 0


def user_passwd(args: argparse.Namespace) -> int:
    _store(args).set_password(check_userid(args.userid), _password(args))
    return 0


def user_list(args: argparse.Namespace) -> int:
    store = _store(args)
    db = store.load()
    rows = [
        {
            "userid": u.userid,
            "enable": int(u.enable),
            "expire": u.expire,
            "comment": u.comment,
            "password": int(store.password_hash(u.userid) is not None),
            "tokens": sorted(t.name for t in db.tokens.values() if t.userid == u.userid),
        }
        for u in sorted(db.users.values(), key=lambda u: u.userid)
    ]
    emit(rows, args.output, ["userid", "enable", "password", "tokens", "comment"])
    return 0


def user_del(args: argparse.Namespace) -> int:
    _store(args).delete_user(args.userid)
    return 0


# tokens -----------------------------------------------------------------------------------


def token_add(args: argparse.Namespace) -> int:
    secret = _store(args).add_token(
        check_userid(args.userid), args.tokenid, privsep=args.privsep, comment=args.comment or ""
    )
    full = f"{args.userid}!{args.tokenid}"
    result: dict[str, Any] = {
        "full-tokenid": full,
        "info": {"privsep": int(args.privsep), "expire": 0},
        "value": secret,
    }
    if args.output == "json":
        emit(result, "json")
    else:
        say(f"full-tokenid: {full}")
        say(f"privsep: {int(args.privsep)}")
        say(f"value: {secret}")
        say("The secret is shown only now; store it safely.", sys.stderr)
    return 0


def token_del(args: argparse.Namespace) -> int:
    _store(args).delete_token(args.userid, args.tokenid)
    return 0


def token_list(args: argparse.Namespace) -> int:
    db = _store(args).load()
    rows = [
        {
            "full-tokenid": t.full_id,
            "userid": t.userid,
            "tokenid": t.name,
            "privsep": int(t.privsep),
            "expire": t.expire,
            "comment": t.comment,
        }
        for t in sorted(db.tokens.values(), key=lambda t: t.full_id)
        if args.userid in (None, t.userid)
    ]
    emit(rows, args.output, ["full-tokenid", "privsep", "expire", "comment"])
    return 0


# ACLs -------------------------------------------------------------------------------------


def _ugid(args: argparse.Namespace) -> str:
    if args.token:
        check_tokenid(args.token)
        return str(args.token)
    return check_userid(args.user)


def acl_set(args: argparse.Namespace) -> int:
    store = _store(args)
    for role in filter(None, args.role.split(",")):
        store.set_acl(args.path, role, _ugid(args), propagate=args.propagate)
    return 0


def acl_del(args: argparse.Namespace) -> int:
    store = _store(args)
    for role in filter(None, args.role.split(",")):
        store.delete_acl(args.path, role, _ugid(args))
    return 0


def acl_list(args: argparse.Namespace) -> int:
    rows = [
        {
            "path": e.path,
            "type": "token" if "!" in e.ugid else "user",
            "ugid": e.ugid,
            "roleid": e.role,
            "propagate": int(e.propagate),
        }
        for e in sorted(_store(args).load().acl, key=lambda e: (e.path, e.ugid, e.role))
    ]
    emit(rows, args.output, ["path", "type", "ugid", "roleid", "propagate"])
    return 0


def role_list(args: argparse.Namespace) -> int:
    rows = [{"roleid": name, "privs": ",".join(sorted(privs))} for name, privs in ROLES.items()]
    emit(rows, args.output, ["roleid", "privs"])
    return 0


# parsers ----------------------------------------------------------------------------------


def _register_user(subparsers: Any) -> None:
    user = subparsers.add_parser("user", help="API users (user@pam, user@pve)")
    sub = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="create a user")
    add.add_argument("userid", help="user@realm (realm pam or pve)")
    add.add_argument("--password", help="password for ticket login ('-': read from standard input)")
    add.add_argument("--comment")
    add.set_defaults(func=user_add)
    passwd = sub.add_parser("passwd", help="set a user's password")
    passwd.add_argument("userid")
    passwd.add_argument("--password", help="new password ('-' or absent: read it)")
    passwd.set_defaults(func=user_passwd)
    sub.add_parser("list", help="list users").set_defaults(func=user_list)
    delete = sub.add_parser("del", help="delete a user with its tokens and ACL entries")
    delete.add_argument("userid")
    delete.set_defaults(func=user_del)


def _register_token(subparsers: Any) -> None:
    token = subparsers.add_parser("token", help="API tokens")
    sub = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="create a token and print its secret (once)")
    add.add_argument("userid")
    add.add_argument("tokenid")
    add.add_argument(
        "--privsep", type=_bool01, default=True, help="1 (default): only the token's own ACLs; 0: the user's"
    )
    add.add_argument("--comment")
    add.set_defaults(func=token_add)
    delete = sub.add_parser("del", help="delete a token")
    delete.add_argument("userid")
    delete.add_argument("tokenid")
    delete.set_defaults(func=token_del)
    listing = sub.add_parser("list", help="list tokens")
    listing.add_argument("userid", nargs="?")
    listing.set_defaults(func=token_list)


def _acl_target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="/sdn, /sdn/zones/<zone>[/<vnet>[/<vlan>]], /sdn/controllers, ...")
    parser.add_argument(
        "--role", "--roles", required=True, help=f"role(s), comma separated: {', '.join(ROLES)}"
    )
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="user@realm")
    who.add_argument("--token", help="full token ID user@realm!name")


def _register_acl(subparsers: Any) -> None:
    acl = subparsers.add_parser("acl", help="access control lists")
    sub = acl.add_subparsers(dest="acl_command", metavar="ACTION", required=True)
    set_ = sub.add_parser("set", help="grant a role on a path")
    _acl_target(set_)
    set_.add_argument("--propagate", type=_bool01, default=True, help="1 (default): also below the path")
    set_.set_defaults(func=acl_set)
    delete = sub.add_parser("del", help="remove a role from a path")
    _acl_target(delete)
    delete.set_defaults(func=acl_del)
    sub.add_parser("list", help="list ACL entries").set_defaults(func=acl_list)
    sub.add_parser("roles", help="list roles and their privileges").set_defaults(func=role_list)


def register(subparsers: Any) -> None:
    _register_user(subparsers)
    _register_token(subparsers)
    _register_acl(subparsers)
