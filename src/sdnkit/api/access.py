"""Users, API tokens and ACLs, kept in the config directory as Proxmox VE keeps them.

Layout (``<config dir>/access/``), after PVE's ``/etc/pve``::

    user.cfg          user:, token: and acl: lines in PVE's user.cfg format (no secrets)
    priv/shadow.cfg   <userid>:<scrypt hash>:            (mode 0600)
    priv/token.cfg    <userid>!<tokenid> <sha256 hash>   (mode 0600; PVE keeps clear text here)
    priv/authkey.key  HMAC key that signs tickets and CSRF tokens (mode 0600)

``root@pam`` always exists and is the superuser. Every change runs under an exclusive ``flock``
and replaces files atomically. Secrets are written before the entries that refer to them and
removed after, so a crash leaves at worst an unused hash behind, never an entry without its
secret check.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote, unquote

from sdnkit.api.atomic_file import write_atomic
from sdnkit.api.credentials import hash_password, hash_token_secret, new_token_secret
from sdnkit.api.roles import check_acl_path, check_role
from sdnkit.errors import ConfigError, NotFoundError

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


# files ------------------------------------------------------------------------------------


class _CachedFile:
    """A file parsed once per change (keyed on inode, size and mtime)."""

    def __init__(self, path: Path, parse: Callable[[str], object]) -> None:
        self.path, self.parse = path, parse
        self._key: tuple[int, int, int] | None = None
        self._value: object = None

    def get(self) -> object:
        try:
            st = self.path.stat()
            key = (st.st_ino, st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            key = (0, 0, 0)
        if key != self._key:
            text = self.path.read_text("utf-8") if key != (0, 0, 0) else ""
            self._value, self._key = self.parse(text), key
        return self._value


class AccessStore:
    """Reads and changes users, tokens and ACLs under ``<config_dir>/access``."""

    def __init__(self, config_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(config_dir) / "access"
        self.priv = self.dir / "priv"
        self._db = _CachedFile(self.dir / "user.cfg", parse_user_cfg)
        self._shadow = _CachedFile(self.priv / "shadow.cfg", lambda t: _parse_secrets(t, ":"))
        self._tokens = _CachedFile(self.priv / "token.cfg", lambda t: _parse_secrets(t, " "))

    # reading

    def load(self) -> AccessDb:
        db = self._db.get()
        assert isinstance(db, AccessDb)
        return db

    def password_hash(self, userid: str) -> str | None:
        return self._secrets(self._shadow).get(userid)

    def token_hash(self, full_tokenid: str) -> str | None:
        return self._secrets(self._tokens).get(full_tokenid)

    @staticmethod
    def _secrets(cache: _CachedFile) -> dict[str, str]:
        value = cache.get()
        assert isinstance(value, dict)
        return value

    def signing_key(self) -> bytes:
        """The ticket signing key, created on first use."""
        path = self.priv / "authkey.key"
        if not path.exists():
            with self._locked():
                if not path.exists():
                    write_atomic(path, secrets.token_hex(32) + "\n", 0o600)
        return bytes.fromhex(path.read_text("ascii").strip())

    # changing

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.priv.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.priv, 0o700)
        with open(self.dir / ".lock", "a") as lockfile:
            fcntl.flock(lockfile, fcntl.LOCK_EX)
            yield

    def _write_db(self, db: AccessDb) -> None:
        write_atomic(self.dir / "user.cfg", format_user_cfg(db), 0o640)

    def _write_secrets(self, name: str, values: Mapping[str, str], sep: str, tail: str) -> None:
        text = "".join(f"{k}{sep}{values[k]}{tail}\n" for k in sorted(values))
        write_atomic(self.priv / name, text, 0o600)

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
        with self._locked():
            db = self.load()
            if userid in db.users:
                raise ConfigError(f"user {userid!r} already exists", key="userid", value=userid)
            if password is not None:
                self._store_password(userid, password)
            self._write_db(replace(db, users={**db.users, userid: user}))

    def update_user(
        self,
        userid: str,
        *,
        enable: bool | None = None,
        expire: int | None = None,
        comment: str | None = None,
    ) -> None:
        """Change the given attributes of a user (None: keep)."""
        with self._locked():
            db = self.load()
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
            self._write_db(replace(db, users={**db.users, userid: changed}))

    def set_password(self, userid: str, password: str) -> None:
        with self._locked():
            if userid not in self.load().users:
                raise NotFoundError(f"user {userid!r} does not exist")
            self._store_password(userid, password)

    def _store_password(self, userid: str, password: str) -> None:
        if len(password) < 8:
            raise ConfigError("password: must be at least 8 characters long", key="password")
        shadow = {**self._secrets(self._shadow), userid: hash_password(password)}
        self._write_secrets("shadow.cfg", shadow, ":", ":")

    def delete_user(self, userid: str) -> None:
        if userid == ROOT:
            raise ConfigError(f"user {ROOT!r} is the superuser and cannot be deleted", key="userid")
        with self._locked():
            db = self.load()
            if userid not in db.users:
                raise NotFoundError(f"user {userid!r} does not exist")
            owned = {k for k, t in db.tokens.items() if t.userid == userid}
            users = {k: u for k, u in db.users.items() if k != userid}
            tokens = {k: t for k, t in db.tokens.items() if k not in owned}
            acl = tuple(e for e in db.acl if e.ugid != userid and e.ugid not in owned)
            self._write_db(AccessDb(users, tokens, acl))
            shadow = {k: v for k, v in self._secrets(self._shadow).items() if k != userid}
            self._write_secrets("shadow.cfg", shadow, ":", ":")
            hashes = {k: v for k, v in self._secrets(self._tokens).items() if k not in owned}
            self._write_secrets("token.cfg", hashes, " ", "")

    def add_token(self, userid: str, name: str, *, privsep: bool = True, comment: str = "") -> str:
        """Create a token; returns its secret, which is shown once and stored only hashed."""
        full = f"{userid}!{name}"
        check_tokenid(full)
        with self._locked():
            db = self.load()
            if userid not in db.users:
                raise NotFoundError(f"user {userid!r} does not exist")
            if full in db.tokens:
                raise ConfigError(f"token {full!r} already exists", key="tokenid", value=full)
            secret = new_token_secret()
            hashes = {**self._secrets(self._tokens), full: hash_token_secret(secret)}
            self._write_secrets("token.cfg", hashes, " ", "")
            token = Token(userid=userid, name=name, privsep=privsep, comment=comment)
            self._write_db(replace(db, tokens={**db.tokens, full: token}))
            return secret

    def delete_token(self, userid: str, name: str) -> None:
        full = f"{userid}!{name}"
        with self._locked():
            db = self.load()
            if full not in db.tokens:
                raise NotFoundError(f"token {full!r} does not exist")
            tokens = {k: t for k, t in db.tokens.items() if k != full}
            self._write_db(replace(db, tokens=tokens, acl=tuple(e for e in db.acl if e.ugid != full)))
            hashes = {k: v for k, v in self._secrets(self._tokens).items() if k != full}
            self._write_secrets("token.cfg", hashes, " ", "")

    def set_acl(self, path: str, role: str, ugid: str, *, propagate: bool = True) -> AclEntry:
        entry = AclEntry(path=check_acl_path(path), ugid=ugid, role=check_role(role), propagate=propagate)
        with self._locked():
            db = self.load()
            self._check_ugid(db, ugid)
            same = (entry.path, entry.ugid, entry.role)
            acl = (*(e for e in db.acl if (e.path, e.ugid, e.role) != same), entry)
            self._write_db(replace(db, acl=acl))
        return entry

    def delete_acl(self, path: str, role: str, ugid: str) -> None:
        norm = check_acl_path(path)
        with self._locked():
            db = self.load()
            acl = tuple(e for e in db.acl if (e.path, e.ugid, e.role) != (norm, ugid, role))
            if len(acl) == len(db.acl):
                raise NotFoundError(f"no ACL entry {norm} {ugid} {role}")
            self._write_db(replace(db, acl=acl))

    @staticmethod
    def _check_ugid(db: AccessDb, ugid: str) -> None:
        if "!" in ugid:
            if ugid not in db.tokens:
                raise NotFoundError(f"token {ugid!r} does not exist")
        elif ugid not in db.users:
            raise NotFoundError(f"user {ugid!r} does not exist")
