"""DHCP servers: where an instance keeps its files, and the small interface a server type implements.

One DHCP server instance runs per zone and node (spec §3.9). A server type (today only
``dnsmasq``, the zone option ``dhcp=dnsmasq``) renders an instance's files and runs its process;
``realize/dhcp.py`` decides which instances to start, reload, restart or stop.

Paths follow PVE (``/etc/dnsmasq.d/<zone>/``, ``/var/lib/misc/dnsmasq.<zone>.leases``) and move
under one root with :meth:`DhcpPaths.under`, so that tests and lab nodes keep everything in their
own folder.

Dynamic leases: by default, as in PVE, a server only answers MACs that IPAM knows (static
mappings; guests get their address by ``sdn port add``, from the subnet's dhcp-range when it has
one). ``DhcpSettings.dynamic`` lets the operator of a node also serve unknown MACs from the
dhcp-ranges. It applies only to zones whose vnets are a node-local segment (simple zones): on a
segment shared by several nodes every node's server would lease the same pool independently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sdnkit.plan.desired import DhcpInstance

__all__ = ["DhcpPaths", "DhcpServer", "DhcpSettings"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DhcpPaths:
    conf_root: Path = Path("/etc/dnsmasq.d")  # one folder per zone
    lease_dir: Path = Path("/var/lib/misc")
    run_dir: Path = Path("/run/sdnkit")  # pid files

    @classmethod
    def under(cls, root: Path | str) -> DhcpPaths:
        """The same layout below ``root`` (tests, lab nodes)."""
        base = Path(root)
        return cls(conf_root=base / "dnsmasq.d", lease_dir=base / "leases", run_dir=base / "run")

    def conf_dir(self, zone: str) -> Path:
        return self.conf_root / zone

    def hosts_file(self, zone: str) -> Path:
        return self.conf_dir(zone) / "ethers"

    def lease_file(self, zone: str) -> Path:
        return self.lease_dir / f"dnsmasq.{zone}.leases"

    def pid_file(self, zone: str) -> Path:
        return self.run_dir / f"dnsmasq.{zone}.pid"

    def log_file(self, zone: str) -> Path:
        return self.run_dir / f"dnsmasq.{zone}.log"


@dataclass(frozen=True, slots=True, kw_only=True)
class DhcpSettings:
    """Node-local settings of the DHCP servers (not part of the cluster config)."""

    paths: DhcpPaths = field(default_factory=DhcpPaths)
    netns: str | None = None  # network namespace the node's vnets live in (lab nodes); None: ours
    dynamic: bool = False  # also lease the dhcp-ranges to unknown MACs (node-local segments only)
    user: str = "root"  # dnsmasq drops privileges to this user after start
    binary: str = "dnsmasq"
    log_dhcp: bool = False  # log every DHCP exchange to the instance's log file


class DhcpServer(Protocol):
    """One DHCP server type. Files are ``name → text`` inside the instance's folder."""

    def render(self, inst: DhcpInstance) -> Mapping[str, str]:
        """Every file of the instance: configuration files and the static mappings."""
        ...

    def reload_only(self, name: str) -> bool:
        """Whether a change of this file alone is taken by a reload (no restart)."""
        ...

    def pid(self, zone: str) -> int | None:
        """The running instance's process ID, or None."""
        ...

    def start(self, zone: str) -> int:
        """Start the instance from its files on disk; returns its pid. Raises RealizeError."""
        ...

    def reload(self, zone: str) -> None:
        """Make the running instance re-read its static mappings."""
        ...

    def blocking_leases(self, zone: str, old_hosts: str, new_hosts: str) -> list[str]:
        """Leases that keep the new mappings (hosts file text) from being served after a reload."""
        ...

    def restart_dropping(self, zone: str, old_hosts: str, new_hosts: str) -> None:
        """Restart the instance without the blocking leases."""
        ...

    def stop(self, zone: str) -> None: ...
