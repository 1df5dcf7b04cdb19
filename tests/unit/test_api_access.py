"""Users, tokens, ACLs, tickets and secrets at rest (no server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdnkit.api.access import AccessStore, check_tokenid, check_userid, format_user_cfg, parse_user_cfg
from sdnkit.api.auth import Authenticator, AuthError
from sdnkit.api.credentials import check_password, check_token_secret, hash_password, hash_token_secret
from sdnkit.api.params import ParamSpec, create_spec, update_spec
from sdnkit.api.tickets import TICKET_LIFETIME, TicketError, Tickets
from sdnkit.config.schema import Kind
from sdnkit.errors import ConfigError, NotFoundError


def test_password_hashes_are_salted_and_checked() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second and "correct horse" not in first
    assert check_password("correct horse", first)
    assert not check_password("wrong horse", first)
    assert not check_password("correct horse", None)
    assert not check_password("x", "$scrypt$ln=40,r=8,p=1$AA$AA")  # absurd cost is refused, not computed


def test_token_secret_hashes() -> None:
    stored = hash_token_secret("1234-abcd")
    assert check_token_secret("1234-abcd", stored) and not check_token_secret("1234-abcd ", stored)
    assert not check_token_secret("1234-abcd", None)


@pytest.mark.parametrize("userid", ["alice@pve", "root@pam", "a.b-c_d@pve"])
def test_valid_user_ids(userid: str) -> None:
    assert check_userid(userid) == userid


@pytest.mark.parametrize("userid", ["alice", "alice@ldap", "a:b@pve", "a b@pve", "a!b@pve", "@pve"])
def test_invalid_user_ids(userid: str) -> None:
    with pytest.raises(ConfigError):
        check_userid(userid)


def test_token_ids() -> None:
    assert check_tokenid("alice@pve!ci-1") == ("alice@pve", "ci-1")
    for bad in ("alice@pve", "alice@pve!1x", "alice@pve!a=b", "alice@pve!x"):
        with pytest.raises(ConfigError):
            check_tokenid(bad)


def test_store_lifecycle(store_spec: str) -> None:
    store = AccessStore(store_spec)
    store.add_user("alice@pve", "alice-password", comment="ops: a:b")
    secret = store.add_token("alice@pve", "ci", privsep=True)
    store.set_acl("/sdn/zones/z1/", "PVESDNAdmin", "alice@pve!ci", propagate=False)
    db = AccessStore(store_spec).load()  # a fresh reader sees it all
    assert db.users["alice@pve"].comment == "ops: a:b"
    assert db.tokens["alice@pve!ci"].privsep
    assert [(e.path, e.role, e.propagate) for e in db.acl] == [("/sdn/zones/z1", "PVESDNAdmin", False)]
    assert check_token_secret(secret, store.token_hash("alice@pve!ci"))
    assert "root@pam" in db.users
    with pytest.raises(ConfigError, match="already exists"):
        store.add_user("alice@pve")
    store.delete_user("alice@pve")
    db = store.load()
    assert "alice@pve" not in db.users and not db.tokens and not db.acl
    assert store.token_hash("alice@pve!ci") is None and store.password_hash("alice@pve") is None
    assert sorted(store.store.names("access/")) == [
        "access/priv/shadow.cfg",
        "access/priv/token.cfg",
        "access/user.cfg",
    ]


def test_secrets_are_private_files_in_a_directory_store(tmp_path: Path) -> None:
    store = AccessStore(tmp_path)
    store.add_user("alice@pve", "alice-password")
    store.signing_key()
    assert (tmp_path / "access" / "priv").stat().st_mode & 0o777 == 0o700
    for name in ("shadow.cfg", "authkey.key"):
        assert (tmp_path / "access" / "priv" / name).stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "access" / "user.cfg").stat().st_mode & 0o777 == 0o640  # no secret in it


def test_every_api_server_of_a_cluster_accepts_the_same_credentials(
    store_spec: str, request: pytest.FixtureRequest
) -> None:
    from sdnkit.store.local import LocalStore

    def node() -> Authenticator:  # its own store object, as another node's API server has
        if store_spec.startswith("etcd"):
            return Authenticator(AccessStore(request.getfixturevalue("make_etcd_store")(store_spec)))
        return Authenticator(AccessStore(LocalStore(store_spec)))

    one, two = node(), node()
    one.store.add_user("alice@pve", "alice-password")
    secret = one.store.add_token("alice@pve", "ci", privsep=False)
    header = {"authorization": f"PVEAPIToken=alice@pve!ci={secret}"}
    assert two.authenticate("GET", header, {}).userid == "alice@pve"  # added on one, valid on two
    login = one.login("alice", "alice-password", realm="pve")
    assert two.authenticate("GET", {}, {"PVEAuthCookie": login["ticket"]}).userid == "alice@pve"
    two.store.delete_token("alice@pve", "ci")
    with pytest.raises(AuthError, match="invalid token value"):
        one.authenticate("GET", header, {})  # deleted on two: refused on one at once


def test_store_refusals(store_spec: str) -> None:
    store = AccessStore(store_spec)
    with pytest.raises(ConfigError, match="superuser"):
        store.delete_user("root@pam")
    with pytest.raises(NotFoundError):
        store.add_token("nobody@pve", "ci")
    with pytest.raises(NotFoundError):
        store.set_acl("/sdn", "PVEAuditor", "nobody@pve")
    with pytest.raises(ConfigError, match="unknown role"):
        store.set_acl("/sdn", "Superhero", "root@pam")
    with pytest.raises(ConfigError, match="at least 8"):
        store.add_user("bob@pve", "short")
    assert "bob@pve" not in store.load().users  # a refused add leaves nothing behind


def test_user_cfg_round_trip_and_injection() -> None:
    text = (
        "user:root@pam:1:0:::::\nuser:a@pve:1:0::::x%0Aacl%3A1::\ntoken:a@pve!t1:0:0::\n"
        "acl:1:/sdn:a@pve,a@pve!t1:PVEAuditor,PVESDNUser:\n"
    )
    db = parse_user_cfg(text)
    assert db.users["a@pve"].comment == "x\nacl:1"
    assert len(db.acl) == 4
    again = parse_user_cfg(format_user_cfg(db))
    assert again == db
    assert "\nacl:1\n" not in format_user_cfg(db)  # a comment cannot add a line
    with pytest.raises(ConfigError, match="line 1"):
        parse_user_cfg("group:admins:a@pve::\n")


def test_tickets_expire_and_cannot_be_forged() -> None:
    tickets = Tickets(b"k" * 32)
    ticket = tickets.issue("alice@pve", now=1_000_000)
    assert tickets.verify(ticket, now=1_000_000 + TICKET_LIFETIME) == "alice@pve"
    with pytest.raises(TicketError, match="expired"):
        tickets.verify(ticket, now=1_000_001 + TICKET_LIFETIME)
    with pytest.raises(TicketError, match="signature"):
        tickets.verify(ticket.replace("alice@pve", "root@pam"), now=1_000_000)
    with pytest.raises(TicketError):
        Tickets(b"x" * 32).verify(ticket, now=1_000_000)
    csrf = tickets.csrf_token("alice@pve", now=1_000_000)
    tickets.verify_csrf(csrf, "alice@pve", now=1_000_100)
    with pytest.raises(TicketError):
        tickets.verify_csrf(csrf, "bob@pve", now=1_000_100)
    with pytest.raises(TicketError):
        tickets.verify(csrf)  # a CSRF token is not a ticket


def test_authenticator(store_spec: str) -> None:
    store = AccessStore(store_spec)
    store.add_user("alice@pve", "alice-password")
    auth = Authenticator(store)
    login = auth.login("alice", "alice-password", realm="pve")
    cookies = {"PVEAuthCookie": login["ticket"]}
    assert auth.authenticate("GET", {}, cookies).userid == "alice@pve"
    with pytest.raises(AuthError, match="csrf"):
        auth.authenticate("POST", {}, cookies)
    headers = {"csrfpreventiontoken": login["CSRFPreventionToken"]}
    assert auth.authenticate("PUT", headers, cookies).userid == "alice@pve"
    with pytest.raises(AuthError, match="No ticket"):
        auth.authenticate("GET", {}, {})
    with pytest.raises(AuthError, match="authentication failure"):
        auth.login("alice@pve", "wrong")


def test_param_specs_come_from_the_schema() -> None:
    spec = create_spec(Kind.ZONES)
    assert {"zone", "type", "mtu", "vrf-vxlan", "lock-token"} <= set(spec.by_name)
    parsed = spec.parse({"zone": ["z1"], "type": ["evpn"], "mtu": ["1400"]})
    assert parsed == {"zone": "z1", "type": "evpn", "mtu": "1400"}  # option values: the service checks them
    with pytest.raises(ConfigError) as err:
        spec.parse({"zone": ["z1", "z2"], "bogus": ["1"]})
    assert set(err.value.errors) == {"zone", "bogus", "type"}
    sub = update_spec(Kind.SUBNETS)
    assert sub.by_name["dhcp-range"].array
    assert sub.parse({"dhcp-range": ["start-address=a,end-address=b", "x"]})["dhcp-range"] == [
        "start-address=a,end-address=b",
        "x",
    ]
    body = sub.openapi_body()["content"]["application/x-www-form-urlencoded"]["schema"]
    assert body["additionalProperties"] is False and body["properties"]["dhcp-range"]["type"] == "array"
    assert ParamSpec().parse({}) == {}
