"""``sdn pending|apply|rollback|dry-run|lock|unlock|check|import``: the configuration as a whole.

``sdn apply --wait [--timeout S]`` follows the new version until every node of the changed zones
applied it (or failed, or did not answer); ``--confirm S`` keeps it only if they all did within S
seconds, and otherwise puts the previous content back (``service/rollout.py``). Exit code 1 when
a node failed or did not answer.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from typing import Any

from sdnkit.cli.output import emit, say, shown_lines
from sdnkit.service import SdnService

__all__ = ["register"]


def _service(args: argparse.Namespace) -> SdnService:
    return SdnService(args.config_dir)


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ";".join(_value(v) for v in value)
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def _change_rows(changes: list[dict[str, Any]]) -> list[dict[str, str]]:
    rows = []
    for change in changes:
        parts = [f"{k}: {_value(v['old'])} -> {_value(v['new'])}" for k, v in change["changes"].items()]
        row = {k: change[k] for k in ("kind", "id", "state")}
        rows.append({**row, "changes": "; ".join(parts)})
    return rows


def _say(args: argparse.Namespace, data: Any, text: str) -> None:
    """JSON for scripts, one line for people."""
    if args.output == "json":
        emit(data, "json")
    else:
        say(text)


def _pending(args: argparse.Namespace) -> int:
    changes = _service(args).pending()
    if args.output == "json":
        emit(changes, "json")
    elif not changes:
        say("no pending changes")
    else:
        emit(_change_rows(changes), "text", ["kind", "id", "state", "changes"])
    return 0


def _lock_token(args: argparse.Namespace) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if args.lock_token:
        params["lock-token"] = args.lock_token
    if getattr(args, "keep_lock", False):
        params["release-lock"] = 0
    return params


def _apply(args: argparse.Namespace) -> int:
    params = _lock_token(args)
    if args.confirm is not None:
        params["confirm"] = args.confirm
    if not (args.wait or args.confirm is not None):
        version = _service(args).apply(params)
        _say(args, {"version": version}, f"applied: running version {version}")
        return 0
    return _apply_and_follow(args, params)


def _apply_and_follow(args: argparse.Namespace, params: dict[str, Any]) -> int:
    from sdnkit.service import rollout

    svc = _service(args)
    by = f"sdn apply on {socket.gethostname()} (pid {os.getpid()})"
    applied = svc.apply_config(params, by=by)
    text = args.output != "json"

    def emit_line(line: str) -> None:
        if text:
            print(line, flush=True)

    outcome = rollout.follow(svc.store, applied, timeout=args.timeout, emit=emit_line, by=by)
    if not text:
        nodes = [{"node": r.node, "state": r.state.value, "message": r.message} for r in outcome.nodes]
        summary = outcome.summary()
        emit({"version": applied.version, "ok": outcome.ok, "nodes": nodes, "summary": summary}, "json")
    if not outcome.ok:
        print(f"apply failed: {outcome.summary()}", file=sys.stderr)
        return 1
    return 0


def _seconds(name: str, high: int) -> Any:
    def parse(text: str) -> int:
        if not text.isdigit() or not 1 <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"{name}: {text!r} is not a number of seconds in 1-{high}")
        return int(text)

    return parse


def _rollback(args: argparse.Namespace) -> int:
    _service(args).rollback(_lock_token(args))
    _say(args, {"result": "rolled back"}, "pending changes dropped")
    return 0


def _dry_run(args: argparse.Namespace) -> int:
    result = _service(args).dry_run({"node": args.node} if args.node else {})
    if args.output == "json":
        emit(result, "json")
        return 0
    say(f"running version {result['version']}; apply would make version {result['next-version']}")
    if result["changes"]:
        emit(_change_rows(result["changes"]), "text", ["kind", "id", "state", "changes"])
    else:
        say("no object changes")
    for key in sorted(k for k in result if k.endswith("-diff")):
        say(f"--- {key}")
        sys.stdout.write(shown_lines(result[key] or "(no difference)\n"))
    return 0


def _lock(args: argparse.Namespace) -> int:
    token = _service(args).lock({"allow-pending": 1 if args.allow_pending else 0})
    _say(args, {"lock-token": token}, token)
    return 0


def _unlock(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"force": 1 if args.force else 0}
    if args.lock_token:
        params["lock-token"] = args.lock_token
    _service(args).unlock(params)
    _say(args, {"result": "unlocked"}, "unlocked")
    return 0


def _check(args: argparse.Namespace) -> int:
    problems = _service(args).check()
    if args.output == "json":
        emit(problems, "json")
    else:
        for line in problems or ["configuration is valid"]:
            say(line)
    return 1 if problems else 0


def _import(args: argparse.Namespace) -> int:
    warnings = _service(args).import_pve(args.source, force=args.force)
    if args.output == "json":
        emit({"warnings": warnings}, "json")
    else:
        for warning in warnings:
            say(f"warning: {warning}", sys.stderr)
        say(f"imported {args.source} into {args.config_dir}")
    return 0


def _with_token(parser: argparse.ArgumentParser, release: bool = False) -> None:
    parser.add_argument("--lock-token", help="token of the global SDN lock, when it is held")
    if release:
        parser.add_argument("--keep-lock", action="store_true", help="keep the global lock after success")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("pending", help="what apply would change")
    p.set_defaults(func=_pending)
    p = subparsers.add_parser("apply", help="make the pending config the next running version")
    _with_token(p, release=True)
    p.add_argument(
        "--wait", action="store_true", help="wait until each node of the changed zones applied it (or failed)"
    )
    p.add_argument(
        "--timeout", type=_seconds("--timeout", 86400), default=120,
        help="with --wait: seconds to wait for the nodes (default 120)",
    )  # fmt: skip
    p.add_argument(
        "--confirm", type=_seconds("--confirm", 3600), metavar="SECONDS",
        help="keep the new version only if every node applied it within SECONDS; otherwise the "
        "previous one comes back by itself (also if this command dies); implies --wait",
    )  # fmt: skip
    p.set_defaults(func=_apply)
    p = subparsers.add_parser("rollback", help="drop pending changes (back to the running config)")
    _with_token(p, release=True)
    p.set_defaults(func=_rollback)
    p = subparsers.add_parser("dry-run", help="show what apply would change")
    p.add_argument("--node", help="also show this node's rendered diffs")
    p.set_defaults(func=_dry_run)
    p = subparsers.add_parser("lock", help="take the global SDN lock; prints its token")
    p.add_argument("--allow-pending", action="store_true", help="lock even with pending changes")
    p.set_defaults(func=_lock)
    p = subparsers.add_parser("unlock", help="release the global SDN lock")
    p.add_argument("--lock-token", help="the token printed by sdn lock")
    p.add_argument("--force", action="store_true", help="release it without the token")
    p.set_defaults(func=_unlock)
    p = subparsers.add_parser("check", help="list every broken rule of the pending config")
    p.set_defaults(func=_check)
    p = subparsers.add_parser("import", help="copy a PVE /etc/pve/sdn directory into the store")
    p.add_argument("source", help="directory with zones.cfg, vnets.cfg, ... (a copy of /etc/pve/sdn)")
    p.add_argument("--force", action="store_true", help="replace the configuration already in the store")
    p.set_defaults(func=_import)
