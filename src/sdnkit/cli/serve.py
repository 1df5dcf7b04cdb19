"""``sdn serve``: the Proxmox VE compatible REST API over HTTPS.

::

    sdn serve                                   # https://127.0.0.1:8006, self-signed certificate
    sdn serve --listen 0.0.0.0:8006 --cert /etc/ssl/sdn.pem --key /etc/ssl/sdn.key
    sdn serve --listen 127.0.0.1:8080 --insecure-http   # plain HTTP, for local development only

On first start without ``--cert``, a self-signed certificate is created in ``<state dir>/tls/``
and reused afterwards; its SHA-256 fingerprint is printed. The state directory is node-local:
the store directory for a directory store, ``/var/lib/sdnkit`` for an etcd store
(``--state-dir``). Users, tokens and the ticket key are in the store, shared by every node. The
first line on standard output is ``listening on <url>`` once the socket is bound (port 0 picks a
free one), the second ``web UI at <url>``: the web UI is served at ``/`` (log in as a user with a
password, ``sdn user passwd root@pam``).
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys
from typing import TYPE_CHECKING, Any

from sdnkit.errors import ConfigError

if TYPE_CHECKING:
    from sdnkit.api.server import Listen

DEFAULT_LISTEN = "127.0.0.1:8006"


def _bind(listen: Listen) -> socket.socket:
    family = socket.AF_INET6 if ":" in listen.host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and without it
    # every response waits 40 ms for the client's delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((listen.host, listen.port))
    except OSError as err:
        sock.close()
        raise ConfigError(f"--listen {listen.host}:{listen.port}: {err.strerror}", key="listen") from None
    sock.listen(128)
    return sock


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def state_dir(args: argparse.Namespace) -> str:
    """Node-local state (the TLS certificate): --state-dir, else the store directory, else /var/lib/sdnkit."""
    from sdnkit.store import DEFAULT_STATE_DIR, local_dir

    return getattr(args, "state_dir", None) or local_dir(args.config_dir) or DEFAULT_STATE_DIR


def serve(args: argparse.Namespace) -> int:
    # the web stack and cryptography load only for this command: other commands stay quick
    from sdnkit.api.access import ROOT, AccessStore
    from sdnkit.api.app import create_app
    from sdnkit.api.server import parse_listen, run
    from sdnkit.api.tls import ensure_certificate, fingerprint, load_certificate

    listen = parse_listen(args.listen)
    if bool(args.cert) != bool(args.key):
        raise ConfigError("--cert and --key go together", key="cert")
    certfile = keyfile = None
    if not args.insecure_http:
        pair = load_certificate(args.cert, args.key) if args.cert else ensure_certificate(state_dir(args))
        certfile, keyfile = str(pair.cert), str(pair.key)
        print(f"certificate {certfile} (SHA-256 fingerprint {fingerprint(certfile)})", file=sys.stderr)
    elif not _is_loopback(listen.host):
        print(
            "sdn serve: WARNING: plain HTTP on a non-loopback address sends secrets in clear", file=sys.stderr
        )
    app = create_app(args.config_dir)
    sock = _bind(listen)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    root = f"{'http' if args.insecure_http else 'https'}://{shown}:{port}"
    print(f"listening on {root}/api2/json", flush=True)
    print(f"web UI at {root}/", flush=True)
    if AccessStore(args.config_dir).password_hash(ROOT) is None:
        print(
            f"sdn serve: {ROOT} has no password yet: `sdn user passwd {ROOT}` sets the web UI's login",
            file=sys.stderr,
        )
    run(app, sock, certfile=certfile, keyfile=keyfile)
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("serve", help="run the REST API (Proxmox VE compatible, HTTPS)")
    parser.add_argument(
        "--listen", default=DEFAULT_LISTEN, metavar="ADDR:PORT", help=f"default {DEFAULT_LISTEN}"
    )
    parser.add_argument(
        "--cert", metavar="FILE", help="TLS certificate (PEM; default: self-signed in the state dir)"
    )
    parser.add_argument("--key", metavar="FILE", help="TLS private key (PEM)")
    parser.add_argument(
        "--state-dir",
        metavar="DIR",
        help="node-local state: the self-signed certificate in DIR/tls (default: the store directory; "
        "/var/lib/sdnkit when the store is etcd)",
    )
    parser.add_argument(
        "--insecure-http", action="store_true", help="serve plain HTTP (local development only)"
    )
    parser.set_defaults(func=serve)
