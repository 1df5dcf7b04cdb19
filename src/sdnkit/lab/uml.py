"""Run a command as root inside a User-Mode-Linux kernel (Debian's ``user-mode-linux``).

This host's kernel lacks 802.1Q VLAN devices, VRF, dummy devices and bridge VLAN filtering; the
UML kernel has all of them (``research/kernel-lab.md``). The guest sees the host's ``/`` as the
read-only lower layer of a tmpfs overlay root, so every host binary and the venv are there, and
writes stay inside the guest, except to the shared directories, which are the host's own, mounted
read-write at the same path (the current directory always is). UML has no network device to the
host: nothing the command does can reach the host's network (an etcd lab adds one, a tap into
the lab's own switch: ``UmlSpec.kernel_args``, lab/umllab.py).

    python -m sdnkit.lab.uml run [--timeout S] [--share DIR]... [--env K=V]... -- CMD...

runs CMD (an argv, not a shell line) in the current directory, streams its output, and exits with
its exit code; ``124`` when the timeout killed it; :data:`EXIT_SKIP` (77, the automake "skipped"
code) with a ``uml: skipped: <reason>`` line when UML cannot start here, so callers (``make
test-uml``) can tell "could not run" from "failed".

The environment inside is ``PATH`` and ``LANG`` from the host, ``HOME=/root``, every ``SDN_*``
variable, the ``--env`` values, and ``SDN_UML_IO`` (a shared folder of this boot, used by
lab/remote.py). Pass absolute paths to the venv's programs: the guest's ``python3`` may not be
the venv's. The guest's console output and its exit code come back through that folder and UML's
stdout; UML's own boot chatter is dropped.

Hosts with Intel AMX: Debian's UML 6.1 saves guest FPU state with a buffer smaller than the host's
XSAVE area, and the host kernel refuses to restore it (UML panics: "ptrace set fp regs failed,
errno = 14"). ``uml_xstate.c``, built once with gcc into ``/var/cache/sdnkit`` and preloaded into
``linux.uml``, pads those ptrace calls; it changes nothing where the sizes already match.

Costs inside (measured): boot about 2.3 s; one vCPU; fork+exec is 6-15x slower than on the host.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from sdnkit.errors import NotSupportedError

EXIT_SKIP = 77
EXIT_TIMEOUT = 124
EXIT_NO_RC = 255

# lines UML itself prints around the guest's output (kernel-lab.md, pitfall 4); some are coloured
NOISE = (
    b"Powering off",
    b"reboot: System halted",
    b"Failed to write wtmp",
    b"epollctl add err",
    b"Failed to initialize ubd",
)
SHIM_SOURCE = Path(__file__).with_name("uml_xstate.c")
SHIM_CACHE = Path(os.environ.get("SDN_CACHE_DIR") or "/var/cache/sdnkit")


class UmlUnavailable(NotSupportedError):
    """UML cannot start on this machine (not installed, modules missing); the reason says why."""


def xstate_shim() -> Path:
    """The compiled ``uml_xstate.c`` preload (see its comment: UML on hosts with AMX), built once.

    The file name carries a hash of the source, so an edited source is rebuilt.
    """
    source = SHIM_SOURCE.read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:12]
    target = SHIM_CACHE / f"uml-xstate-{digest}.so"
    if target.is_file():
        return target
    SHIM_CACHE.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    cmd = ["gcc", "-shared", "-fPIC", "-O2", "-o", str(tmp), str(SHIM_SOURCE), "-ldl"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise UmlUnavailable(
            "gcc is needed to build the UML xstate shim (apt-get install gcc libc6-dev)"
        ) from None
    if done.returncode != 0:
        raise UmlUnavailable(f"building the UML xstate shim failed: {done.stderr.strip()}")
    tmp.replace(target)  # atomic: a concurrent build of the same source writes the same bytes
    return target


@dataclass(frozen=True, slots=True, kw_only=True)
class UmlKernel:
    """Where the UML kernel binary and its modules are."""

    linux: Path
    modules: Path  # the <version> directory: modules/<ver>/kernel/...

    @classmethod
    def find(cls, root: str | None = None) -> UmlKernel:
        """The installed UML (``UML_ROOT`` overrides ``/``, e.g. a ``dpkg -x`` tree)."""
        base = Path(root or os.environ.get("UML_ROOT") or "/")
        linux = base / "usr/bin/linux.uml"
        if not os.access(linux, os.X_OK):
            raise UmlUnavailable(f"{linux} not found (apt-get install user-mode-linux)")
        mods = base / "usr/lib/uml/modules"
        versions = sorted(p for p in mods.glob("*") if (p / "kernel/fs/overlayfs/overlay.ko").is_file())
        if not versions:
            raise UmlUnavailable(f"no UML modules with overlay.ko under {mods}")
        return cls(linux=linux, modules=versions[-1])


@dataclass(frozen=True, slots=True, kw_only=True)
class UmlSpec:
    """One UML boot: the command and what the guest shares with the host."""

    command: tuple[str, ...]
    cwd: str = field(default_factory=os.getcwd)
    shares: tuple[str, ...] = ()  # host directories mounted read-write at the same path
    share_cwd: bool = True  # the working directory is one of the shares
    env: Mapping[str, str] = field(default_factory=dict)
    mem: str = "1G"
    kernel_args: tuple[str, ...] = ()  # more of UML's command line (a network device: vec0:...)


def guest_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "HOME": "/root",
        "LANG": "C.UTF-8",
    }
    env.update({k: v for k, v in os.environ.items() if k.startswith("SDN_")})
    env.update(extra)
    return env


def _stage1(kernel: UmlKernel, run: Path) -> str:
    """PID 1 on the hostfs root: build the overlay root and chroot into it."""
    mods = shlex.quote(str(kernel.modules))
    mnt = shlex.quote(str(run / "mnt"))
    return f"""#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t tmpfs -o mode=755 sdnuml {mnt} && cd {mnt} && mkdir lower up work new
mount -t hostfs -o ro,/ none lower
insmod {mods}/kernel/fs/overlayfs/overlay.ko
mount -t overlay -o lowerdir=lower,upperdir=up,workdir=work overlay new
mkdir -p new/lib/modules && ln -s {mods} new/lib/modules/$(uname -r)
umount /proc
exec chroot new /bin/sh {shlex.quote(str(run / "stage2"))}
"""


def _stage2(spec: UmlSpec, io: Path) -> str:
    """Inside the overlay root: mounts, shares, environment, then the command."""
    # shares are mounted after the tmpfs mounts so that a share under /run stays visible
    shares = "".join(
        f"mkdir -p {shlex.quote(d)} && mount -t hostfs none {shlex.quote(d)} -o {shlex.quote(d)}\n"
        for d in (str(io), *([spec.cwd] if spec.share_cwd else []), *spec.shares)
    )
    env = {**guest_env(spec.env), "SDN_UML_IO": str(io)}
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(env.items()))
    q = shlex.quote
    return f"""#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t tmpfs run /run
mount -t devtmpfs dev /dev; mkdir -p /dev/pts /dev/shm; mount -t devpts devpts /dev/pts
mount -t tmpfs shm /dev/shm
{shares}ip link set lo up
hostname sdnkit-uml  # the kernel's default "(none)" is not a name FRR's vtysh can read back
stty -F /dev/console -onlcr 2>/dev/null
{exports}cd {q(spec.cwd)}
touch {q(str(io / "started"))}
{shlex.join(spec.command)} > /dev/console 2>&1 < /dev/null
echo $? > {q(str(io / "rc.tmp"))} && mv {q(str(io / "rc.tmp"))} {q(str(io / "rc"))}
sync; poweroff -f
"""


@dataclass(slots=True)
class UmlBoot:
    """A prepared boot directory: scripts written, ready to start ``linux.uml``."""

    kernel: UmlKernel
    spec: UmlSpec
    run: Path

    @property
    def io(self) -> Path:
        return self.run / "io"

    @classmethod
    def prepare(cls, spec: UmlSpec, kernel: UmlKernel | None = None, parent: str | None = None) -> UmlBoot:
        kernel = kernel or UmlKernel.find()
        run = Path(tempfile.mkdtemp(prefix="sdnkit-uml.", dir=parent))
        for sub in ("mnt", "io"):
            (run / sub).mkdir()
        for d in spec.shares:
            Path(d).mkdir(parents=True, exist_ok=True)
        boot = cls(kernel, spec, run)
        (run / "init").write_text(_stage1(kernel, run))
        (run / "init").chmod(0o755)
        (run / "stage2").write_text(_stage2(spec, boot.io))
        return boot

    def argv(self) -> list[str]:
        return [
            str(self.kernel.linux),
            f"mem={self.spec.mem}",
            "root=/dev/root",
            "rootfstype=hostfs",
            "rootflags=/",
            "ro",
            f"init={self.run / 'init'}",
            f"uml_dir={self.run}",  # its mconsole socket and pid file live with the boot, not in ~/.uml
            "con=null",
            "con0=fd:0,fd:1",
            "quiet",
            "loglevel=0",
            *self.spec.kernel_args,
        ]

    def popen(self, stdout: int | BinaryIO) -> subprocess.Popen[bytes]:
        """Start UML in its own session (its many host processes share our process group id)."""
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(self.run),
            "TMPDIR": "/dev/shm",  # UML's memory file: tmpfs-backed (kernel-lab.md)
            "LD_PRELOAD": str(xstate_shim()),
        }
        return subprocess.Popen(
            self.argv(),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd="/",
            env=env,
        )

    def started(self) -> bool:
        return (self.io / "started").exists()

    def exit_code(self) -> int | None:
        try:
            return int((self.io / "rc").read_text().strip())
        except (OSError, ValueError):
            return None

    def cleanup(self) -> None:
        remove_tree(self.run)


def remove_tree(path: Path) -> None:
    """Remove a boot directory (never crossing into another filesystem)."""
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=False)


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill the UML we started: its session's process group (it was started with a new session)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _stream(lines: Iterable[bytes], out: BinaryIO) -> bytes:
    """Copy the guest's lines to ``out`` without UML's own noise; return the last lines seen."""
    tail = b""
    for line in lines:
        tail = (tail + line)[-4000:]
        if any(n in line for n in NOISE):
            continue
        out.write(line)
        out.flush()
    return tail


class Watchdog:
    """Kills the UML group at a deadline (the output loop blocks on reads, so a timer thread does)."""

    def __init__(self, proc: subprocess.Popen[bytes], timeout: float | None) -> None:
        self.proc = proc
        self.fired = threading.Event()
        self.timer = threading.Timer(timeout, self._fire) if timeout is not None else None
        if self.timer is not None:
            self.timer.daemon = True
            self.timer.start()

    def _fire(self) -> None:
        if self.proc.poll() is None:
            self.fired.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()


def run(spec: UmlSpec, timeout: float | None = None, out: BinaryIO | None = None) -> int:
    """Boot UML, run ``spec.command`` inside, stream its output to ``out``, return its exit code.

    Raises :class:`UmlUnavailable` when UML is missing or its guest never reached the command.
    """
    out = out or sys.stdout.buffer
    boot = UmlBoot.prepare(spec)
    try:
        proc = boot.popen(subprocess.PIPE)
        assert proc.stdout is not None
        watchdog = Watchdog(proc, timeout)
        try:
            tail = _stream(iter(proc.stdout.readline, b""), out)
            proc.wait()
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                kill_group(proc)
        rc = boot.exit_code()
        if rc is not None:
            return rc
        if watchdog.fired.is_set():
            return EXIT_TIMEOUT
        if not boot.started():
            last = tail.decode(errors="replace").strip().splitlines()[-3:]
            raise UmlUnavailable("the UML guest did not start: " + " | ".join(last))
        return EXIT_NO_RC
    finally:
        boot.cleanup()


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sdnkit.lab.uml", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    p = sub.add_parser("run", help="run CMD inside UML and exit with its exit code")
    p.add_argument("--timeout", type=float, default=None, help="kill UML after S seconds (exit 124)")
    p.add_argument("--share", action="append", default=[], help="host directory shared read-write")
    p.add_argument("--env", action="append", default=[], help="K=V set inside")
    p.add_argument("--mem", default="1G")
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command[:1] == ["--"]:
        args.command = args.command[1:]
    if not args.command:
        parser.error("a command is needed after --")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    env = dict(kv.split("=", 1) for kv in args.env)
    spec = UmlSpec(
        command=tuple(args.command),
        shares=tuple(os.path.abspath(d) for d in args.share),
        env=env,
        mem=args.mem,
    )
    try:
        rc = run(spec, timeout=args.timeout)
    except UmlUnavailable as err:
        print(f"uml: skipped: {err}", file=sys.stderr)
        return EXIT_SKIP
    if rc == EXIT_TIMEOUT:
        print(f"uml: timed out after {args.timeout:g} s, killed", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
