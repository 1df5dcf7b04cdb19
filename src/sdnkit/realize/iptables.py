"""Source NAT with iptables-legacy, for kernels whose nftables lacks the ``inet`` family (UML).

Our rules live in one chain of ours per family, ``SDNKIT-POSTROUTING`` in the ``nat`` table,
jumped to from ``POSTROUTING``. A change rewrites the chain with ``iptables-legacy-restore
--noflush``: declaring the chain flushes it, and the legacy backend commits a table in one
replace, so the new rules take effect atomically (per family). Other chains and rules are left
alone. The conntrack-zone rule of the nftables backend is left out: UML has no conntrack zones.
Every value is checked to be one argument of its rule line (``realize/iptables_words.py``).
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from collections.abc import Sequence

from sdnkit.errors import RealizeError
from sdnkit.plan.desired import SnatRule
from sdnkit.realize.base import check_ifname
from sdnkit.realize.iptables_words import word

CHAIN = "SDNKIT-POSTROUTING"
JUMP = f"-A POSTROUTING -j {CHAIN}"
TOOLS = {4: "iptables-legacy", 6: "ip6tables-legacy"}


def _run(argv: list[str], text: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, input=text, capture_output=True, text=True, check=False)


class IptablesLegacyNat:
    name = "iptables-legacy"

    @staticmethod
    def available() -> bool:
        return all(shutil.which(tool) for tool in TOOLS.values())

    def render(self, rules: Sequence[SnatRule]) -> str:
        """Per family, a ``# ipv4``/``# ipv6`` header, the jump and our chain's rules."""
        by_family: dict[int, list[str]] = {4: [], 6: []}
        for rule in rules:
            obj = f'subnet "{rule.subnet}"'
            net = ipaddress.ip_network(rule.source)
            out = word(check_ifname(rule.out_iface, what=f"{obj}: snat interface"), obj, "snat")
            to = word(ipaddress.ip_address(rule.to_source), obj, "snat")
            line = f"-A {CHAIN} -s {word(net, obj, 'snat')} -o {out} -j SNAT --to-source {to}"
            by_family[net.version].append(line)
        return "".join(_section(v, [JUMP, *sorted(lines)]) for v, lines in by_family.items() if lines)

    def read(self) -> str:
        return "".join(_section(v, lines) for v, lines in ((v, _saved(v)) for v in TOOLS) if lines)

    def replace(self, content: str) -> None:
        wanted = _parse(content)
        for version, tool in TOOLS.items():
            current = _saved(version)
            rules = wanted.get(version, [])
            if not current and not rules:
                continue
            lines = ["*nat", f":{CHAIN} - [0:0]"]  # with --noflush, declaring the chain flushes it
            has_jump = JUMP in current
            if rules and not has_jump:
                lines.append(JUMP)
            if not rules:
                lines += [f"-D POSTROUTING -j {CHAIN}"] if has_jump else []
                lines.append(f"-X {CHAIN}")
            lines += [r for r in rules if r != JUMP]
            done = _run([f"{tool}-restore", "--noflush"], "\n".join([*lines, "COMMIT", ""]))
            if done.returncode != 0:
                raise RealizeError(
                    f"nat: {tool}-restore refused chain {CHAIN}: {done.stderr.strip()}", obj="nat"
                )


def _section(version: int, lines: list[str]) -> str:
    return f"# ipv{version}\n" + "".join(line + "\n" for line in lines)


def _parse(content: str) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    version = 4
    for line in content.splitlines():
        if line.startswith("# ipv"):
            version = int(line[5:])
        elif line.strip():
            out.setdefault(version, []).append(line.strip())
    return out


def _saved(version: int) -> list[str]:
    """The jump (first, when present) and our chain's rules, as iptables-save prints them."""
    try:
        done = _run([f"{TOOLS[version]}-save", "-t", "nat"])
    except FileNotFoundError:
        raise RealizeError(f"nat: {TOOLS[version]} is missing (install iptables)", obj="nat") from None
    if done.returncode != 0:
        raise RealizeError(f"nat: {TOOLS[version]}-save failed: {done.stderr.strip()}", obj="nat")
    lines = done.stdout.splitlines()
    jump = [JUMP] if JUMP in lines else []
    return jump + [line for line in lines if line.startswith(f"-A {CHAIN} ")]
