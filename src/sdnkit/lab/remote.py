"""Run commands inside a long-running UML kernel through a shared directory.

UML has no network device to the host (by design: nothing inside can leak out), so host and
guest talk through a hostfs directory both see, ``IO``:

* the host writes ``IO/requests/<id>.json`` (``{"argv": [...], "env": {...}, "cwd": "/"}``, or
  ``{"sdn": [...]}`` for the arguments of an ``sdn`` command), atomically (temporary name, then
  rename);
* the server inside UML (``python -m sdnkit.lab.remote serve``, started as the UML's command)
  polls ``IO/requests`` every 20 ms, claims a request by renaming it and runs it in a forked child
  (an argv is exec'd: a list, never a shell line; ``sdn`` arguments go to ``sdnkit.cli.main``,
  already imported), with stdout/stderr in ``IO/calls/<id>/out`` and ``err``; it finally writes
  ``IO/calls/<id>/rc``;
* the host tails ``out``/``err`` while it waits for ``rc``, so output streams; it then removes
  the call's folder.

A request whose argv is ``["__poweroff__"]`` ends the server, and the UML powers off. stdin is
not forwarded: commands run non-interactively. The server writes ``IO/ready`` once it polls.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from sdnkit.errors import SdnError

POWEROFF = "__poweroff__"
POLL = 0.02


def _write_atomic(path: Path, data: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(data)
    tmp.replace(path)


# --- server (inside UML) ----------------------------------------------------------------------


def _child(call: Path, request: Mapping[str, Any]) -> None:
    """In the forked child: wire stdio to the call's files, then run the request. Never returns."""
    rc = 127
    try:
        out = os.open(call / "out", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        err = os.open(call / "err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        for fd, target in ((null, 0), (out, 1), (err, 2)):
            os.dup2(fd, target)
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - the server's own may be buffered
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        os.environ.update(request.get("env") or {})
        os.chdir(str(request.get("cwd") or "/"))
        if "sdn" in request:
            from sdnkit.cli.main import main as sdn_main

            rc = sdn_main(list(request["sdn"]))
        else:
            argv = list(request["argv"])
            os.execvpe(argv[0], argv, os.environ)
    except SystemExit as exc:  # argparse errors
        rc = exc.code if isinstance(exc.code, int) else 2
    except BaseException as exc:  # report anything, the parent only sees the exit code
        print(f"remote: {exc!r}", file=sys.stderr)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)


def _start(io: Path, req_id: str, request: Mapping[str, Any]) -> int:
    call = io / "calls" / req_id
    call.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _child(call, request)
    return pid


def _reap(io: Path, running: dict[int, str]) -> None:
    while running:
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            return
        req_id = running.pop(pid, None)
        if req_id is not None:
            _write_atomic(io / "calls" / req_id / "rc", str(os.waitstatus_to_exitcode(status)))


def serve(io: Path) -> None:
    """Serve requests until a poweroff request arrives.

    Single-threaded: each request runs in a forked child, so ``sdn`` requests reuse this
    process's imports (a fork costs ~20 ms in UML, a fresh Python with sdnkit's imports ~1 s).
    """
    from sdnkit.cli.main import build_parser

    build_parser()  # import every command module once, before the first fork
    requests = io / "requests"
    requests.mkdir(parents=True, exist_ok=True)
    (io / "ready").write_text(str(os.getpid()))
    running: dict[int, str] = {}
    while True:
        for entry in sorted(requests.glob("*.json")):
            claimed = entry.with_suffix(".taken")
            try:
                entry.rename(claimed)
                request = json.loads(claimed.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            claimed.unlink(missing_ok=True)
            if request.get("argv") == [POWEROFF]:
                _write_atomic(io / "poweroff", "1")
                return
            running[_start(io, entry.stem, request)] = entry.stem
        _reap(io, running)
        time.sleep(POLL)


# --- client (on the host) ---------------------------------------------------------------------


class RemoteError(SdnError):
    """The UML kernel behind a lab is not running or does not answer."""


def _tail(path: Path, offset: int, sink: TextIO) -> int:
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except FileNotFoundError:
        return offset
    if data:
        sink.write(data.decode(errors="replace"))
        sink.flush()
    return offset + len(data)


def submit(
    io: Path, argv: Sequence[str], env: Mapping[str, str] | None = None, cwd: str = "/", *, sdn: bool = False
) -> str:
    """Queue a request: ``argv`` is a command, or with ``sdn`` the arguments of an ``sdn`` call."""
    req_id = uuid.uuid4().hex
    body = json.dumps({"sdn" if sdn else "argv": list(argv), "env": dict(env or {}), "cwd": cwd})
    _write_atomic(io / "requests" / f"{req_id}.json", body)
    return req_id


def call(
    io: Path,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    alive: Callable[[], bool] = lambda: True,
    out: TextIO | None = None,
    err: TextIO | None = None,
    sdn: bool = False,
) -> int:
    """Run ``argv`` inside UML, stream its output to ``out``/``err``, return its exit code."""
    out, err = out or sys.stdout, err or sys.stderr
    req_id = submit(io, argv, env, sdn=sdn)
    call_dir = io / "calls" / req_id
    offsets = [0, 0]
    while True:
        offsets[0] = _tail(call_dir / "out", offsets[0], out)
        offsets[1] = _tail(call_dir / "err", offsets[1], err)
        rc_path = call_dir / "rc"
        if rc_path.exists():
            offsets[0] = _tail(call_dir / "out", offsets[0], out)
            offsets[1] = _tail(call_dir / "err", offsets[1], err)
            rc = int(rc_path.read_text())
            for name in ("out", "err", "rc"):
                (call_dir / name).unlink(missing_ok=True)
            call_dir.rmdir()
            return rc
        if not alive():
            raise RemoteError(f"the UML kernel stopped while running {argv[0]!r}")
        time.sleep(POLL)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] != ["serve"]:
        print("usage: python -m sdnkit.lab.remote serve [IO_DIR]  (default: $SDN_UML_IO)", file=sys.stderr)
        return 2
    io = Path(args[1] if len(args) > 1 else os.environ["SDN_UML_IO"])
    serve(io)
    return 0


if __name__ == "__main__":
    sys.exit(main())
