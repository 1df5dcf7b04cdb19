"""A namespace's network state as iproute2 and /proc report it: the tests' own reader.

Rollback and convergence tests compare the kernel before and after with this, never with
sdnkit's ``read_state``, so that a blind spot of the product's reader cannot hide a change.
Values that move by themselves (timers, counters, ifindexes, peer indexes) are left out, and so
is what the kernel derives on its own: bridge port numbers (the order ports joined), STP
identifiers (STP is off, as PVE has it), link-local addresses and the multicast FDB entries that
follow from them (a link re-created by an undo gets them anew). A link re-created by an undo is
equal when everything a user configures on it is.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

SYSCTLS = ("ipv4/conf/{}/forwarding", "ipv6/conf/{}/forwarding", "ipv4/conf/{}/arp_accept")
# linkinfo keys that change on their own, name other links by index, or that the kernel derives
VOLATILE = ("_timer", "ifindex", "netnsid")
DERIVED = {"id", "no", "designated_port", "designated_cost", "designated_root", "designated_bridge",
           "bridge_id", "root_id", "root_port", "root_path_cost"}  # fmt: skip


def _json(netns: str, *argv: str) -> Any:
    out = subprocess.run([*argv[:1], "-n", netns, *argv[1:]], check=True, capture_output=True, text=True)
    return json.loads(out.stdout or "[]")


def _stable(data: dict[str, Any] | None) -> list[tuple[str, str]]:
    return sorted(
        (k, json.dumps(v)) for k, v in (data or {}).items() if not k.endswith(VOLATILE) and k not in DERIVED
    )


def _sysctls(netns: str, names: list[str]) -> dict[str, dict[str, str]]:
    paths = " ".join(f"/proc/sys/net/{p.format(n)}" for n in names for p in SYSCTLS)
    out = subprocess.run(
        ["ip", "netns", "exec", netns, "sh", "-c", f"grep -H . {paths} 2>/dev/null; true"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    values: dict[str, dict[str, str]] = {}
    for line in out.splitlines():
        path, value = line.rsplit(":", 1)
        parts = path.split("/")  # /proc/sys/net/<family>/conf/<link>/<key>
        values.setdefault(parts[6], {})[f"{parts[4]}.{parts[7]}"] = value
    return values


def links(netns: str) -> dict[str, dict[str, Any]]:
    """Per link: kind, kind data, port data, MTU, MAC, master, up, alias, addresses, VLANs, FDB
    entries (configured ones: static, permanent, flood) and sysctls (forwarding, arp_accept)."""
    vlans = {v["ifname"]: v.get("vlans", []) for v in _json(netns, "bridge", "-j", "-c", "vlan", "show")}
    entries = fdb(netns)
    out: dict[str, dict[str, Any]] = {}
    for link in _json(netns, "ip", "-j", "-d", "addr", "show"):
        info = link.get("linkinfo") or {}
        kind = info.get("info_kind", "")
        out[link["ifname"]] = {
            "kind": kind,
            "data": _stable(info.get("info_data")),
            "port": _stable(info.get("info_slave_data")),
            "link": link.get("link") if kind == "vlan" else None,
            "mtu": link["mtu"],
            "mac": link.get("address"),
            "master": link.get("master"),
            "up": "UP" in link["flags"],
            "alias": link.get("ifalias"),
            "addresses": sorted(
                f"{a['local']}/{a['prefixlen']}"
                for a in link.get("addr_info", ())
                if a.get("scope") != "link"
            ),
            "vlans": sorted(json.dumps(v, sort_keys=True) for v in vlans.get(link["ifname"], [])),
            "fdb": sorted(json.dumps(e, sort_keys=True) for e in entries if e["on"] == link["ifname"]),
        }
    knobs = _sysctls(netns, list(out))
    for name, link in out.items():
        link["sysctls"] = knobs.get(name, {})
    return out


def fdb(netns: str) -> list[dict[str, Any]]:
    """Configured forwarding entries (static, permanent, flood), not the learned ones; ``on`` is
    the link an entry belongs to.

    A bridge's local addresses (permanent, no destination) belong to the bridge: which of its own
    links the kernel files one under depends on the order MACs were set, and frames to it are
    delivered locally either way.
    """
    entries = _json(netns, "bridge", "-j", "fdb", "show")
    kept = [
        e
        for e in entries
        if ("dst" in e or e.get("state") in ("permanent", "static")) and not _multicast(e["mac"])
    ]
    fields = ("mac", "ifname", "dst", "vlan", "master", "state", "flags")
    out = []
    for e in kept:
        entry = {k: e.get(k) for k in fields}
        local = e.get("state") == "permanent" and "dst" not in e and e.get("master")
        entry["on"] = e["master"] if local else e["ifname"]
        if local:
            entry["ifname"] = None
        out.append(entry)
    return out


def _multicast(mac: str) -> bool:
    return bool(int(mac.split(":")[0], 16) & 1) and mac != "00:00:00:00:00:00"


def routes(netns: str) -> list[str]:
    """Every route of every table, both families, but those of link-local addresses (the kernel's
    own, and a re-created link's come back only once its duplicate address detection is done)."""
    fields = ("dst", "gateway", "dev", "table", "protocol", "scope", "type", "metric", "prefsrc")
    found = []
    for family in ("-4", "-6"):
        for r in _json(netns, "ip", "-j", family, "route", "show", "table", "all"):
            if str(r.get("dst", "")).startswith("fe80:"):
                continue
            found.append(json.dumps({k: r.get(k) for k in fields}, sort_keys=True))
    return sorted(found)


def snapshot(netns: str) -> dict[str, Any]:
    """Every link (by name) and ``"routes"``: the namespace's state, comparable with ``==``."""
    return {**links(netns), "routes": routes(netns)}


def differences(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What changed between two snapshots, per link and field: ``{link: {field: (before, after)}}``."""
    out: dict[str, Any] = {}
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if not isinstance(old, dict) or not isinstance(new, dict):
            out[name] = (old, new) if name != "routes" else _list_change(old or [], new or [])
            continue
        fields = {}
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                a, b = old.get(key), new.get(key)
                fields[key] = _list_change(a, b) if isinstance(a, list) and isinstance(b, list) else (a, b)
        out[name] = fields
    return out


def _list_change(old: list[Any], new: list[Any]) -> dict[str, list[Any]]:
    return {"gone": [x for x in old if x not in new], "new": [x for x in new if x not in old]}
