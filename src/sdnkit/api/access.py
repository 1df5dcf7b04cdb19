"""Users, API tokens and ACLs: documents of the store, laid out as Proxmox VE keeps them.

Documents (under ``access/``, after PVE's ``/etc/pve``; in a directory store these are files of
``<config dir>/access/``, the ``priv/`` ones mode 0600)::

    access/user.cfg          user:, token: and acl: lines in PVE's user.cfg format (no secrets)
    access/priv/shadow.cfg   <userid>:<scrypt hash>:
    access/priv/token.cfg    <userid>!<tokenid> <sha256 hash>   (PVE keeps clear text here)
    access/priv/authkey.key  HMAC key that signs tickets and CSRF tokens

Being store documents, they are the same for every API server of a cluster on etcd: a token
added on one node works on all, and a ticket signed by one is valid on the others.
``root@pam`` always exists and is the superuser. Every change runs under the store lock
``access`` and writes the entries and their secrets in one atomic commit.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from urllib.parse import quote, unquote

from sdnkit.api.credentials import hash_password, hash_token_secret, new_token_secret
from sdnkit.api.roles import check_acl_path, check_role
from sdnkit.errors import ConfigError, NotFoundError
from sdnkit.store import ABSENT, Document, Store, open_store

__all__ = ["ROOT", "AccessDb", "AccessStore", "AclEntry", "Token", "User", "check_tokenid", "check_userid"]

ROOT = "root@pam"
REALMS = ("pam", "pve")
USERID = re.compile(r"(?P<name>[^\s:/!,=@%]{1,60})@(?P<realm>[A-Za-z][A-Za-z0-9._-]+)")
TOKEN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9._-]{1,63}")


def check_userid(userid: str) -> str:
    match = USERID.fullmatch(userid)
    if not match or len(userid) > 64:
        raise ConfigError(f"invalid user ID {userid!r} (expected <name>@<realm>)", key="userid", value=userid)
    if match["realm"] not in REALMS:
        raise ConfigError(
            f"user {userid!r}: unknown realm {match['realm']!r} (known: {', '.join(REALMS)})",
            key="userid",
            value=userid,
        )
    return userid


def check_tokenid(full: str) -> tuple[str, str]:
    """``user@realm!name`` → (``user@realm``, ``name``)."""
    userid, sep, name = full.partition("!")
    if not sep or not TOKEN_NAME.fullmatch(name):
        raise ConfigError(
            f"invalid token ID {full!r} (expected <user>@<realm>!<name>, name 2-64 letters, digits, . - _)",
            key="tokenid",
            value=full,
        )
    return check_userid(userid), name


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    userid: str
    enable: bool = True
    expire: int = 0  # epoch seconds, 0: never
    comment: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Token:
    userid: str
    name: str
    privsep: bool = True
    expire: int = 0
    comment: str = ""

    @property
    def full_id(self) -> str:
        return f"{self.userid}!{self.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AclEntry:
    path: str
    ugid: str  # a user ID or a full token ID
    role: str
    propagate: bool = True


@dataclass(frozen=True, slots=True)
class AccessDb:
    users: Mapping[str, User] = field(default_factory=dict)
    tokens: Mapping[str, Token] = field(default_factory=dict)  # by full token ID
    acl: tuple[AclEntry, ...] = ()


# user.cfg codec ---------------------------------------------------------------------------


def _parse_line(line: str, users: dict[str, User], tokens: dict[str, Token], acl: list[AclEntry]) -> None:
    kind, _, rest = line.partition(":")
    fields = rest.split(":")
    if kind == "user" and len(fields) >= 7:
        userid = check_userid(fields[0])
        users[userid] = User(
            userid=userid, enable=fields[1] != "0", expire=int(fields[2] or 0), comment=unquote(fields[6])
        )
    elif kind == "token" and len(fields) >= 4:
        userid, name = check_tokenid(fields[0])
        tokens[fields[0]] = Token(
            userid=userid,
            name=name,
            expire=int(fields[1] or 0),
            privsep=fields[2] != "0",
            comment=unquote(fields[3]),
        )
    elif kind == "acl" and len(fields) >= 4:
        path = check_acl_path(fields[1])
        for ugid in filter(None, fields[2].split(",")):
            for role in filter(None, fields[3].split(",")):
                acl.append(AclEntry(path=path, ugid=ugid, role=check_role(role), propagate=fields[0] != "0"))
    else:
        raise ConfigError(f"unsupported line {line[:60]!r}")


def parse_user_cfg(text: str) -> AccessDb:
    users: dict[str, User] = {ROOT: User(userid=ROOT)}
    tokens: dict[str, Token] = {}
    acl: list[AclEntry] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            _parse_line(line, users, tokens, acl)
        except (ConfigError, ValueError) as err:
            raise ConfigError(f"user.cfg line {number}: {err}") from None
    tokens = {k: t for k, t in tokens.items() if t.userid in users}
    return AccessDb(users, tokens, tuple(acl))


def format_user_cfg(db: AccessDb) -> str:
    lines = []
    for uid in sorted(db.users):
        user = db.users[uid]
        lines.append(f"user:{uid}:{int(user.enable)}:{user.expire}::::{quote(user.comment, safe='')}::")
    for full in sorted(db.tokens):
        tok = db.tokens[full]
        lines.append(f"token:{full}:{tok.expire}:{int(tok.privsep)}:{quote(tok.comment, safe='')}:")
    for entry in sorted(db.acl, key=lambda e: (e.path, e.ugid, e.role)):
        lines.append(f"acl:{int(entry.propagate)}:{entry.path}:{entry.ugid}:{entry.role}:")
    return "\n".join(lines) + "\n"


def _parse_secrets(text: str, sep: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, found, value = line.strip().partition(sep)
        if found and key:
            out[key] = value.rstrip(":")
    return out


def _comment(text: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ConfigError("comment: control characters (newline, tab, ...) are not allowed", key="comment")
    return text


def _expire(value: int) -> int:
    if value < 0:
        raise ConfigError("expire: must be 0 (never) or a time in seconds since the epoch", key="expire")
    return value


# the store ---------------------------------------------------------------------------------

USER_CFG = "access/user.cfg"
SHADOW = "access/priv/shadow.cfg"
TOKENS = "access/priv/token.cfg"
AUTHKEY = "access/priv/authkey.key"
DOCS = (USER_CFG, SHADOW, TOKENS, AUTHKEY)
LOCK = "access"


@dataclass(frozen=True, slots=True)
class _State:
    """The access documents at one moment, parsed."""

    revisions: Mapping[str, str]
    db: AccessDb
    shadow: Mapping[str, str]
    tokens: Mapping[str, str]
    authkey: bytes | None


def _text(doc: Document | None) -> str:
    return doc.data.decode("utf-8") if doc is not None else ""


class AccessStore:
    """Reads and changes users, tokens and ACLs: documents ``access/...`` of a ``Store``.

    Every read sees the store as it is now (one consistent read of the four documents, parsed
    again only when a revision changed), so that an API server on any node accepts a token the
    moment it was added anywhere. Every change runs under the store lock ``access`` and commits
    with compare-and-swap on what it read: all of it or nothing.
    """

    def __init__(self, store: Store | str | os.PathLike[str]) -> None:
        self.store: Store = open_store(store) if isinstance(store, str | os.PathLike) else store
        self._cache: _State | None = None
        self._cache_lock = threading.Lock()

    # reading

    def _state(self) -> _State:
        docs = self.store.read_many(DOCS)
        revisions = {n: d.revision if d else ABSENT for n, d in docs.items()}
        with self._cache_lock:
            if self._cache is not None and self._cache.revisions == revisions:
                return self._cache
        key = _text(docs[AUTHKEY]).strip()
        state = _State(
            revisions=revisions,
            db=parse_user_cfg(_text(docs[USER_CFG])),
            shadow=_parse_secrets(_text(docs[SHADOW]), ":"),
            tokens=_parse_secrets(_text(docs[TOKENS]), " "),
            authkey=bytes.fromhex(key) if key else None,
        )
        with self._cache_lock:
            self._cache = state
        return state

    def load(self) -> AccessDb:
        return self._state().db

    def password_hash(self, userid: str) -> str | None:
        return self._state().shadow.get(userid)

    def token_hash(self, full_tokenid: str) -> str | None:
        return self._state().tokens.get(full_tokenid)

    def signing_key(self) -> bytes:
        """The ticket signing key, created on first use (one for the whole cluster)."""
        key = self._state().authkey
        if key is not None:
            return key
        with self._locked() as state:
            if state.authkey is None:
                self._commit(state, {AUTHKEY: (secrets.token_hex(32) + "\n").encode()})
        key = self._state().authkey
        assert key is not None
        return key

    # changing

    @contextmanager
    def _locked(self) -> Iterator[_State]:
        with self.store.lock(LOCK):
            yield self._state()

    def _commit(self, state: _State, docs: Mapping[str, bytes]) -> None:
        self.store.commit(dict(docs), expect={n: state.revisions[n] for n in docs})

    @staticmethod
    def _db_doc(db: AccessDb) -> dict[str, bytes]:
        return {USER_CFG: format_user_cfg(db).encode()}

    @staticmethod
    def _secrets_doc(name: str, values: Mapping[str, str], sep: str, tail: str) -> dict[str, bytes]:
        return {name: "".join(f"{k}{sep}{values[k]}{tail}\n" for k in sorted(values)).encode()}

    def add_user(
        self,
        userid: str,
        password: str | None = None,
        comment: str = "",
        *,
        enable: bool = True,
        expire: int = 0,
    ) -> None:
        check_userid(userid)
        user = User(userid=userid, comment=_comment(comment), enable=enable, expire=_expire(expire))
        with self._locked() as state:
            db = state.db
            if userid in db.users:
                raise ConfigError(f"user {userid!r} already exists", key="userid", value=userid)
            docs = self._db_doc(replace(db, users={**db.users, userid: user}))
            if password is not None:
                docs.update(self._password_doc(state, userid, password))
            self._commit(state, docs)

    def update_user(
        self,
        userid: str,
        *,
        enable: bool | None = None,
        expire: int | None = None,
        comment: str | None = None,
    ) -> None:
        """Change the given attributes of a user (None: keep)."""
        with self._locked() as state:
            db = state.db
            if userid not in db.users:
                raise NotFoundError(f"user {userid!r} does not exist")
            user = db.users[userid]
            if userid == ROOT and enable is False:
                raise ConfigError(f"user {ROOT!r} is the superuser and cannot be disabled", key="enable")
            changed = replace(
                user,
                enable=user.enable if enable is None else enable,
                expire=user.expire if expire is None else _expire(expire),
                comment=user.comment if comment is None else _comment(comment),
            )
            self._commit(state, self._db_doc(replace(db, users={**db.users, userid: changed})))

    def set_password(self, userid: str, password: str) -> None:
        with self._locked() as state:
            if userid not in state.db.users:
                raise NotFoundError(f"user {userid!r} does not exist")
            self._commit(state, self._password_doc(state, userid, password))

    def _password_doc(self, state: _State, userid: str, password: str) -> dict[str, bytes]:
        if len(password) < 8:
            raise ConfigError("password: must be at least 8 characters long", key="password")
        return self._secrets_doc(SHADOW, {**state.shadow, userid: hash_password(password)}, ":", ":")

    def delete_user(self, userid: str) -> None:
        if userid == ROOT:
            raise ConfigError(f"user {ROOT!r} is the superuser and cannot be deleted", key="userid")
        with self._locked() as state:
            db = state.db
            if userid not in db.users:
                raise NotFoundError(f"user {userid!r} does not exist")
            owned = {k for k, t in db.tokens.items() if t.userid == userid}
            users = {k: u for k, u in db.users.items() if k != userid}
            tokens = {k: t for k, t in db.tokens.items() if k not in owned}
            acl = tuple(e for e in db.acl if e.ugid != userid and e.ugid not in owned)
            docs = self._db_doc(AccessDb(users, tokens, acl))
            shadow = {k: v for k, v in state.shadow.items() if k != userid}
            docs.update(self._secrets_doc(SHADOW, shadow, ":", ":"))
            hashes = {k: v for k, v in state.tokens.items() if k not in owned}
            docs.update(self._secrets_doc(TOKENS, hashes, " ", ""))
            self._commit(state, docs)

    def add_token(self, userid: str, name: str, *, privsep: bool = True, comment: str = "") -> str:
        """Create a token; returns its secret, which is shown once and stored only hashed."""
        full = f"{userid}!{name}"
        check_tokenid(full)
        with self._locked() as state:
            db = state.db
            if userid not in db.users:
                raise NotFoundError(f"user {userid!r} does not exist")
            if full in db.tokens:
                raise ConfigError(f"token {full!r} already exists", key="tokenid", value=full)
            secret = new_token_secret()
            docs = self._secrets_doc(TOKENS, {**state.tokens, full: hash_token_secret(secret)}, " ", "")
            token = Token(userid=userid, name=name, privsep=privsep, comment=comment)
            docs.update(self._db_doc(replace(db, tokens={**db.tokens, full: token})))
            self._commit(state, docs)
            return secret

    def delete_token(self, userid: str, name: str) -> None:
        full = f"{userid}!{name}"
        with self._locked() as state:
            db = state.db
            if full not in db.tokens:
                raise NotFoundError(f"token {full!r} does not exist")
            tokens = {k: t for k, t in db.tokens.items() if k != full}
            docs = self._db_doc(replace(db, tokens=tokens, acl=tuple(e for e in db.acl if e.ugid != full)))
            hashes = {k: v for k, v in state.tokens.items() if k != full}
            docs.update(self._secrets_doc(TOKENS, hashes, " ", ""))
            self._commit(state, docs)

    def set_acl(self, path: str, role: str, ugid: str, *, propagate: bool = True) -> AclEntry:
        entry = AclEntry(path=check_acl_path(path), ugid=ugid, role=check_role(role), propagate=propagate)
        with self._locked() as state:
            db = state.db
            self._check_ugid(db, ugid)
            same = (entry.path, entry.ugid, entry.role)
            acl = (*(e for e in db.acl if (e.path, e.ugid, e.role) != same), entry)
            self._commit(state, self._db_doc(replace(db, acl=acl)))
        return entry

    def delete_acl(self, path: str, role: str, ugid: str) -> None:
        norm = check_acl_path(path)
        with self._locked() as state:
            db = state.db
            acl = tuple(e for e in db.acl if (e.path, e.ugid, e.role) != (norm, ugid, role))
            if len(acl) == len(db.acl):
                raise NotFoundError(f"no ACL entry {norm} {ugid} {role}")
            self._commit(state, self._db_doc(replace(db, acl=acl)))

    @staticmethod
    def _check_ugid(db: AccessDb, ugid: str) -> None:
        if "!" in ugid:
            if ugid not in db.tokens:
                raise NotFoundError(f"token {ugid!r} does not exist")
        elif ugid not in db.users:
            raise NotFoundError(f"user {ugid!r} does not exist")
