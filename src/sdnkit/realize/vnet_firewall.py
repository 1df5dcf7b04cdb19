"""Load the VNet firewall table into nftables: one atomic transaction, only when it changed.

The table ``inet sdnkit-vnetfw`` is ours as a whole (``render/nftables_firewall.py``). A change
is one ``nft -f`` file that creates the table if missing, deletes it and creates it with the new
content, so a failed load leaves the old table in place and there is no moment without filter.
No enabled vnet firewall on the node: the table is deleted.

"Changed" means: the rendered text differs from the one loaded last (kept in
``<state dir>/vnet-firewall.json`` with the kernel's listing of the table then), or the kernel's
listing differs from the one recorded (someone edited or flushed the table by hand). Then the
table is reloaded; otherwise nothing runs but one ``nft list``.

Bridged packets reach the ``inet`` forward hook only through the kernel's bridge netfilter: before
loading a table, ``net/bridge/bridge-nf-call-iptables`` and ``-ip6tables`` are set to 1 in the
node's namespace (``modprobe br_netfilter`` first if they do not exist). Without them the rules
would load and filter nothing, so that is an error, not a warning.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sdnkit.errors import RealizeError, VerifyError
from sdnkit.realize.netns import entered
from sdnkit.render.nftables_firewall import TABLE

__all__ = ["BRIDGE_SYSCTLS", "FirewallResult", "apply_vnet_firewall", "read_table"]

BRIDGE_SYSCTLS = ("net/bridge/bridge-nf-call-iptables", "net/bridge/bridge-nf-call-ip6tables")
PROC_SYS = Path("/proc/sys")
STATE_FILE = "vnet-firewall.json"


@dataclass(frozen=True, slots=True)
class FirewallResult:
    changed: bool
    loaded: bool  # a table is in place (False: none, as no vnet firewall is enabled)


def _nft(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["nft", *args], input=stdin, capture_output=True, text=True, check=False, timeout=60
        )
    except FileNotFoundError:
        raise RealizeError("vnet firewall: the nft command is missing (install nftables)") from None


def read_table(netns: str | None = None) -> str | None:
    """The kernel's listing of our table (None: it does not exist)."""
    with entered(netns):
        proc = _nft(["list", "table", "inet", TABLE])
    if proc.returncode != 0:
        if "No such file or directory" in proc.stderr:
            return None
        raise RealizeError(f"vnet firewall: cannot list table inet {TABLE}: {proc.stderr.strip()}")
    return proc.stdout


def _bridge_netfilter() -> None:
    """Turn on bridge netfilter in the current namespace (the caller entered it)."""
    if not (PROC_SYS / BRIDGE_SYSCTLS[0]).exists():
        subprocess.run(["modprobe", "br_netfilter"], capture_output=True, check=False)
    for path in BRIDGE_SYSCTLS:
        target = PROC_SYS / path
        try:
            if target.read_text().strip() != "1":
                target.write_text("1\n")
        except OSError as err:
            raise RealizeError(
                f"vnet firewall: bridged traffic cannot be filtered: {path}: {err.strerror} "
                "(the kernel needs br_netfilter)"
            ) from err


def _state(state_dir: Path) -> dict[str, str]:
    try:
        data = json.loads((state_dir / STATE_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save_state(state_dir: Path, rendered: str, listing: str | None) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / f".{STATE_FILE}.tmp"
    digest = hashlib.sha256(rendered.encode()).hexdigest()
    tmp.write_text(json.dumps({"rendered": digest, "listing": listing or ""}))
    tmp.replace(state_dir / STATE_FILE)


def _script(text: str) -> str:
    out = f"table inet {TABLE} {{}}\ndelete table inet {TABLE}\n"
    return out + text


def apply_vnet_firewall(text: str, *, netns: str | None, state_dir: Path) -> FirewallResult:
    """Make the kernel's table ``text`` (``""``: no table); atomic, verified, idempotent."""
    state = _state(state_dir)
    if not text and not state.get("listing"):
        return FirewallResult(changed=False, loaded=False)  # never loaded one: nothing to ask nft
    current = read_table(netns)
    digest = hashlib.sha256(text.encode()).hexdigest()
    if not text:
        if current is None:
            return FirewallResult(changed=False, loaded=False)
        script = f"delete table inet {TABLE}\n"
    elif current is not None and state.get("rendered") == digest and state.get("listing") == current:
        return FirewallResult(changed=False, loaded=True)
    else:
        script = _script(text)
    with entered(netns):
        if text:
            _bridge_netfilter()
        proc = _nft(["-f", "-"], script)
    if proc.returncode != 0:
        raise RealizeError(
            f"vnet firewall: nftables refused the table, nothing changed: {proc.stderr.strip()}"
        )
    after = read_table(netns)
    if (after is None) != (not text):
        raise VerifyError(
            f"vnet firewall: table inet {TABLE} is {'missing' if text else 'still there'} after apply"
        )
    _save_state(state_dir, text, after)
    return FirewallResult(changed=True, loaded=after is not None)
