"""``sdn demo`` (``make run``): a 3-node lab with the seed's examples and a ping matrix.

    sdn demo [--name demo] [--etcd | --store /tmp/sdnkit-demo] [--kernel auto|host|uml] [--serve ADDR:PORT]

It goes through the same commands a user would type (``sdn zone/vnet/subnet create`` via the
service, ``sdn apply``, ``sdn lab up/apply/guest add``), prints who reaches whom against what the
seed says, and leaves the lab up. Exit code 1 when a result differs from the expectation.

The store is a directory (``--store``, wiped and made again each run), or with ``--etcd``
(``make run``) the lab's own etcd cluster on node1-3 (``sdn lab up --etcd``): the commands here
and the API server reach it over the lab's host link, the nodes' agents over the underlay.

With ``--serve`` (``make run``) it then runs the controller on the demo's store: long-lived agents
on the lab's nodes, and the REST API and web UI in the foreground with an API token and a fresh
password for ``root@pam`` (both printed), so
that a change made through the API (``PUT /cluster/sdn`` applies) reaches the lab's nodes. Ctrl-C
stops the API and the agents; the lab stays up.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from sdnkit.errors import SdnError


def say(text: str) -> None:
    print(f"==> {text}", flush=True)


def sdn(*argv: str, quiet: bool = False) -> None:
    """Run an ``sdn`` command in this process; raise with its own words if it fails."""
    from sdnkit.cli.main import main

    sink = io.StringIO()
    with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext():
        rc = main(list(argv))
    if rc != 0:
        raise SdnError(f"sdn {' '.join(argv)} failed (exit {rc}) {sink.getvalue()}")


def configure(store: str) -> int:
    from sdnkit.lab.demo import EXAMPLES
    from sdnkit.service import SdnService

    svc = SdnService(store)
    for title, text, steps in EXAMPLES:
        say(f"{title}: {text}")
        for collection, params in steps:
            svc.create(collection, dict(params))
            shown = " ".join(f"{k}={v}" for k, v in params.items())
            print(f"    {collection[:-1] if collection != 'dns' else collection} create {shown}")
    version = svc.apply({})
    say(f"sdn apply: running version {version}")
    return version


def add_guests(store: str, name: str) -> None:
    from sdnkit.lab.demo import GUESTS

    for g in GUESTS:
        argv = ["--config-dir", store, "lab", "guest", "add", g.name, "--name", name,
                "--node", g.node, "--vnet", g.vnet, "--ip", g.ip]  # fmt: skip
        argv += ["--gw", g.gw] if g.gw else []
        argv += ["--mtu", str(g.mtu)] if g.mtu else []
        sdn(*argv, quiet=True)
        print(f"    guest {g.name:<3} on {g.node} in {g.vnet:<8} {g.ip}{'  gw ' + g.gw if g.gw else ''}")


def lab_up(args: argparse.Namespace, kernel: str) -> str:
    """``sdn lab up`` for the demo; the store the lab uses (a directory, or its etcd's URL)."""
    from sdnkit.lab import demo
    from sdnkit.lab.state import LabStore

    up = ["lab", "up", "--nodes", "3", "--name", args.name, "--kernel", kernel]
    if args.etcd:
        say(f"sdn lab up --nodes 3 --name {args.name} --kernel {kernel} --etcd: etcd members on node1-3")
        sdn(*up, "--etcd", quiet=True)
        store = LabStore(args.name).load().config_dir
        say(f'the store: {store} (eval "$(sdn lab env --name {args.name})")')
        return store
    store = str(Path(args.store).resolve())
    demo.prepare_store(Path(store))
    say(f"sdn lab up --nodes 3 --name {args.name} --kernel {kernel} (store {store})")
    sdn("--config-dir", store, *up, quiet=True)
    return store


def reverse_routes(store: str | Path, name: str) -> None:
    """The seed's reverse routes to the EVPN subnets, on the lab's outside host (its gateway)."""
    from sdnkit.lab.demo import OUTSIDE_ROUTES

    for net, via in OUTSIDE_ROUTES:
        say(f"outside: ip route add {net} via {via} (the seed's reverse route to the EVPN zone)")
        sdn("--config-dir", str(store), "lab", "exec", "--name", name, "outside", "--",
            "ip", "route", "replace", net, "via", via)  # fmt: skip


def cmd_demo(args: argparse.Namespace) -> int:
    from sdnkit.lab import demo
    from sdnkit.lab.state import LabStore

    started = time.monotonic()
    lab = LabStore(args.name)
    if lab.exists():
        say(f"taking down the previous lab {args.name}")
        sdn("lab", "down", "--name", args.name)
    kernel = demo.choose_kernel(args.kernel, say)
    store = lab_up(args, kernel)
    configure(store)
    say(f"sdn lab apply --name {args.name}: the agent runs once on every node")
    sdn("--config-dir", store, "lab", "apply", "--name", args.name)
    reverse_routes(store, args.name)
    say("guests, plugged into their vnets as Proxmox VE plugs a NIC")
    add_guests(store, args.name)
    demo.settle(lab.load(), say)
    checks = demo.checks()
    say(f"ping matrix: {len(checks)} pings, in parallel")
    seen = demo.run_probes(lab.load(), [c.probe for c in checks])
    bad = demo.render(list(zip(checks, seen, strict=True)), sys.stdout)
    verdict = "every result as expected" if not bad else f"{bad} results NOT as expected (marked X)"
    say(f"{verdict}; {time.monotonic() - started:.0f} s")
    print(demo.instructions(args.name, store, kernel))
    if args.serve:
        serve_controller(store, args.name, args.serve)
    return 0 if not bad else 1


def serve_controller(store: str, name: str, listen: str) -> None:
    """Agents on every lab node, then the API in the foreground until Ctrl-C (or SIGTERM)."""
    import signal

    from sdnkit.api.access import AccessStore
    from sdnkit.cli.serve import serve
    from sdnkit.lab.state import LabStore
    from sdnkit.store import local_dir

    say(f"sdn lab agents start --name {name}: every node realizes each new running version")
    sdn("--config-dir", store, "lab", "agents", "start", "--name", name, quiet=True)
    value = AccessStore(store).add_token("root@pam", "demo", privsep=False)
    password = secrets.token_urlsafe(12)  # the web UI's login; a fresh one every run
    AccessStore(store).set_password("root@pam", password)
    print(api_instructions(listen, value), flush=True)
    print(ui_instructions(listen, password), flush=True)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a kill stops it as Ctrl-C does
    try:
        # the API's own certificate: in the store directory, or with etcd in the lab's folder
        state_dir = local_dir(store) or str(LabStore(name).dir / "serve")
        options = {"cert": None, "key": None, "insecure_http": False, "state_dir": state_dir}
        serve(argparse.Namespace(config_dir=store, listen=listen, **options))
    except KeyboardInterrupt:
        pass
    finally:
        sdn("--config-dir", store, "lab", "agents", "stop", "--name", name, quiet=True)
        say(f"API and agents stopped; the lab is still up (sdn lab down --name {name})")


def api_instructions(listen: str, secret: str) -> str:
    host, port = listen.rsplit(":", 1)
    auth = f"Authorization: PVEAPIToken=root@pam!demo={secret}"
    url = f"https://{listen}/api2/json"
    python = (
        f"from proxmoxer import ProxmoxAPI; api = ProxmoxAPI('{host}', port={port}, user='root@pam', "
        f"token_name='demo', token_value='{secret}', verify_ssl=False); print(api.cluster.sdn.zones.get())"
    )
    return f"""
The REST API (Proxmox VE compatible) on the demo's store, with an API token for root@pam:
  curl -k -H '{auth}' {url}/cluster/sdn/vnets
  curl -k -X POST -H '{auth}' {url}/cluster/sdn/vnets -d vnet=vnet9 -d zone=myvxzone -d tag=100009
  curl -k -X PUT -H '{auth}' {url}/cluster/sdn     # apply: the agents realize it on the nodes
  .venv/bin/python -c "{python}"
Ctrl-C stops the API and the agents (the lab stays up).
"""


def ui_instructions(listen: str, password: str) -> str:
    return f"""The web UI (accept the self-signed certificate once):
  https://{listen}/
  user root@pam, password {password}
"""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("demo", help="3-node lab with the seed's examples and a ping matrix")
    p.add_argument("--name", default="demo", help="lab name (default: demo)")
    p.add_argument(
        "--store", default="/tmp/sdnkit-demo", help="the demo's own store (default: /tmp/sdnkit-demo)"
    )
    p.add_argument("--etcd", action="store_true",
                   help="store: the lab's own etcd on node1-3 (sdn lab up --etcd), not --store")  # fmt: skip
    p.add_argument("--kernel", choices=("auto", "host", "uml"), default="auto",
                   help="auto: inside UML when this kernel lacks VLAN/QinQ")  # fmt: skip
    p.add_argument("--serve", metavar="ADDR:PORT", nargs="?", const="127.0.0.1:8006",
                   help="then run agents and the REST API (default 127.0.0.1:8006)")  # fmt: skip
    p.set_defaults(func=cmd_demo)
