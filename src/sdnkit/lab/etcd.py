"""Private etcd members and clusters, started by hand (never as a system service).

Debian's ``etcd`` binary (package ``etcd-server``), one process per member with its own data
directory, log file and listen addresses (``research/real-components.md`` §7). Used by the tests
and by the lab (members on the lab nodes' underlay addresses, inside their network namespaces)::

    cluster = EtcdCluster.local(Path("/tmp/st-etcd"), names=("e1", "e2", "e3"))  # free loopback ports
    cluster.start()                  # returns once every member answers GET /health
    cluster.url()                    # "etcd://127.0.0.1:41001,127.0.0.1:41003,127.0.0.1:41005"
    cluster.kill(cluster.leader())   # SIGKILL, as a crash; cluster.start_member(name) restarts it
    cluster.stop()                   # SIGTERM every member (SIGKILL after a grace period)

``EtcdMember`` describes one member (name, data dir, client and peer URLs, optional netns);
``EtcdCluster(members, token=...)`` starts several as one cluster. Short election timings make a
leader failover take about a second (the defaults are 100 ms / 1 s).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from sdnkit.errors import NotSupportedError, RealizeError

__all__ = ["EtcdCluster", "EtcdMember", "EtcdTls", "etcd_binary", "free_port", "log_tail"]

READY_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


def etcd_binary() -> str:
    """The etcd binary, or ``NotSupportedError`` naming the package to install."""
    found = shutil.which("etcd") or ("/usr/bin/etcd" if os.access("/usr/bin/etcd", os.X_OK) else None)
    if found is None:
        raise NotSupportedError("etcd is not installed (Debian package etcd-server; `make install`)")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True, slots=True, kw_only=True)
class EtcdTls:
    """Server TLS of every member: its certificate and key, and the CA that signs client certificates."""

    cert: Path
    key: Path
    ca: Path
    client_cert_auth: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class EtcdMember:
    name: str
    data_dir: Path
    client_url: str  # http(s)://host:port
    peer_url: str  # http://host:port
    netns: str | None = None
    also_listen: tuple[str, ...] = ()  # more client URLs it serves (a lab member: its host-facing address)
    election_ms: int = 500  # the heartbeat is a tenth of it; etcd's default is 1000
    extra_args: tuple[str, ...] = ()

    def argv(self, binary: str, initial_cluster: str, token: str, tls: EtcdTls | None) -> list[str]:
        listen = ",".join((self.client_url, *self.also_listen))
        argv = [
            binary, "--name", self.name, "--data-dir", str(self.data_dir / "data"),
            "--listen-client-urls", listen, "--advertise-client-urls", self.client_url,
            "--listen-peer-urls", self.peer_url, "--initial-advertise-peer-urls", self.peer_url,
            "--initial-cluster", initial_cluster, "--initial-cluster-state", "new",
            "--initial-cluster-token", token,
            "--heartbeat-interval", str(self.election_ms // 10), "--election-timeout", str(self.election_ms),
            "--logger", "zap", "--log-outputs", str(self.data_dir / "etcd.log"),
            *self.extra_args,
        ]  # fmt: skip
        if tls is not None:
            argv += [
                "--cert-file",
                str(tls.cert),
                "--key-file",
                str(tls.key),
                "--trusted-ca-file",
                str(tls.ca),
            ]
            if tls.client_cert_auth:
                argv.append("--client-cert-auth")
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns, *argv]
        return argv


@dataclass
class EtcdCluster:
    """Members started together as one cluster; stop() ends every process it started."""

    members: Sequence[EtcdMember]
    token: str = "sdnkit"
    tls: EtcdTls | None = None
    client_cert: tuple[Path, Path] | None = None  # for health checks when members require one
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, repr=False)

    @classmethod
    def local(
        cls, base: Path, names: Sequence[str] = ("e1",), *, host: str = "127.0.0.1", token: str = "sdnkit",
        tls: EtcdTls | None = None, client_cert: tuple[Path, Path] | None = None,
    ) -> EtcdCluster:  # fmt: skip
        """Members ``names`` on free ports of ``host``, data below ``base/<name>``."""
        scheme = "https" if tls is not None else "http"
        members = [
            EtcdMember(
                name=name,
                data_dir=base / name,
                client_url=f"{scheme}://{host}:{free_port(host)}",
                peer_url=f"http://{host}:{free_port(host)}",
            )
            for name in names
        ]
        return cls(members, token=token, tls=tls, client_cert=client_cert)

    # -- addresses -----------------------------------------------------------------------------

    def member(self, name: str) -> EtcdMember:
        for member in self.members:
            if member.name == name:
                return member
        raise KeyError(name)

    @property
    def endpoints(self) -> list[str]:
        return [m.client_url for m in self.members]

    def url(self, prefix: str = "") -> str:
        """The ``--store`` URL of this cluster (``etcd://`` or ``etcds://`` with TLS)."""
        scheme = "etcds" if self.tls is not None else "etcd"
        hosts = ",".join(m.client_url.split("://", 1)[1] for m in self.members)
        return f"{scheme}://{hosts}{prefix}"

    def _initial_cluster(self) -> str:
        return ",".join(f"{m.name}={m.peer_url}" for m in self.members)

    # -- processes -----------------------------------------------------------------------------

    def start(self, timeout: float = READY_TIMEOUT) -> None:
        """Start every member that is not running, and wait until all are healthy."""
        try:
            for member in self.members:
                if not self.running(member.name):
                    self._spawn(member)
            self.wait_healthy([m.name for m in self.members], timeout)
        except BaseException:
            self.stop()
            raise

    def start_member(self, name: str, timeout: float = READY_TIMEOUT) -> None:
        """(Re)start one member from its data directory and wait until it is healthy."""
        if not self.running(name):
            self._spawn(self.member(name))
        self.wait_healthy([name], timeout)

    def _spawn(self, member: EtcdMember) -> None:
        member.data_dir.mkdir(parents=True, exist_ok=True)
        argv = member.argv(etcd_binary(), self._initial_cluster(), self.token, self.tls)
        self._procs[member.name] = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C of the caller is the caller's to handle
        )  # fmt: skip

    def running(self, name: str) -> bool:
        proc = self._procs.get(name)
        return proc is not None and proc.poll() is None

    def pid(self, name: str) -> int:
        return self._procs[name].pid

    def kill(self, name: str) -> None:
        """SIGKILL one member (a crash); its data stays for ``start_member``."""
        self._signal(name, signal.SIGKILL, STOP_TIMEOUT)

    def stop_member(self, name: str) -> None:
        self._signal(name, signal.SIGTERM, STOP_TIMEOUT)

    def _signal(self, name: str, sig: int, timeout: float) -> None:
        proc = self._procs.get(name)
        if proc is None or proc.poll() is not None:
            return
        with suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()  # a member whose peers are gone can take long to exit on SIGTERM
            proc.wait(timeout)

    def stop(self) -> None:
        for name in list(self._procs):
            self.stop_member(name)
        self._procs.clear()

    def __enter__(self) -> EtcdCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- health --------------------------------------------------------------------------------

    @contextmanager
    def _http(self) -> Iterator[httpx.Client]:
        ctx = ssl.create_default_context(cafile=str(self.tls.ca) if self.tls is not None else None)
        if self.client_cert:
            ctx.load_cert_chain(str(self.client_cert[0]), str(self.client_cert[1]))
        with httpx.Client(verify=ctx, timeout=1.0, trust_env=False) as client:
            yield client

    def healthy(self, name: str) -> bool:
        member = self.member(name)
        if member.netns:  # the member's address is only reachable inside its namespace
            return self._healthy_in_netns(member)
        with self._http() as client:
            try:
                resp = client.get(f"{member.client_url}/health")
            except httpx.HTTPError:
                return False
        return resp.status_code == 200 and resp.json().get("health") == "true"

    def _healthy_in_netns(self, member: EtcdMember) -> bool:
        argv = ["ip", "netns", "exec", member.netns or "", "curl", "-sf", "-m", "1"]
        if self.tls is not None:
            argv += ["--cacert", str(self.tls.ca)]
            if self.client_cert:
                argv += ["--cert", str(self.client_cert[0]), "--key", str(self.client_cert[1])]
        done = subprocess.run(
            [*argv, f"{member.client_url}/health"], capture_output=True, text=True, check=False
        )
        return done.returncode == 0 and '"health":"true"' in done.stdout.replace(" ", "")

    def wait_healthy(self, names: Sequence[str], timeout: float = READY_TIMEOUT) -> None:
        """Poll ``GET /health`` of ``names`` until all answer healthy (a member needs a leader for that)."""
        deadline = time.monotonic() + timeout
        pending = list(names)
        while pending:
            for name in list(pending):
                proc = self._procs.get(name)
                if proc is not None and proc.poll() is not None:
                    raise RealizeError(
                        f'etcd member "{name}" exited with {proc.returncode}: {self._log_tail(name)}'
                    )
                if self.healthy(name):
                    pending.remove(name)
            if not pending:
                return
            if time.monotonic() >= deadline:
                tail = self._log_tail(pending[0])
                raise RealizeError(f"etcd members {', '.join(pending)} not healthy in {timeout:g} s: {tail}")
            time.sleep(0.05)

    def leader(self) -> str:
        """The name of the current leader (asked from any running member)."""
        ids: dict[str, str] = {}
        leader = None
        with self._http() as client:
            for member in self.members:
                if not self.running(member.name):
                    continue
                try:
                    data = client.post(f"{member.client_url}/v3/maintenance/status", json={}).json()
                except httpx.HTTPError:
                    continue
                ids[str(data["header"]["member_id"])] = member.name
                leader = str(data["leader"]) if data.get("leader") else leader
        if leader is None or leader not in ids:
            raise RealizeError("etcd: no member reports a leader it knows")
        return ids[leader]

    def _log_tail(self, name: str) -> str:
        return log_tail(self.member(name))


def log_tail(member: EtcdMember) -> str:
    """The member's last error (or last line) from its log, for an error message."""
    path = member.data_dir / "etcd.log"
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    errors = [line for line in lines if '"level":"error"' in line or '"level":"fatal"' in line]
    return (errors or lines or ["(empty log)"])[-1][:400]
