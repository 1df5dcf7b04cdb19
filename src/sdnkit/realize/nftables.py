"""Source NAT with nftables: one table of ours, ``inet sdnkit``, replaced as a whole in one transaction.

The file given to ``nft -f`` creates the table if needed, deletes it and creates it again with the
new content: nft applies a file as one transaction, so there is no moment without NAT and a
refused rule leaves the old table in place. Besides the SNAT rules, the table carries PVE's
conntrack-zone rule for firewall bridges (``iptables -t raw -I PREROUTING -i fwbr+ -j CT --zone 1``
in PVE's post-up lines) as ``iifname "fwbr*" ct zone set 1``, once per zone number the plan's
rules ask for (``SnatRule.conntrack_zone``). Values are checked as they are written
(``render/nft_text.py``): none can add a statement.
"""

from __future__ import annotations

import ipaddress
import re
import subprocess
from collections.abc import Sequence

from sdnkit.errors import RealizeError
from sdnkit.plan.desired import SnatRule
from sdnkit.realize.base import check_ifname
from sdnkit.render.nft_text import address, quoted

FAMILY = "inet"
TABLE = "sdnkit"
_COMMENT_SAFE = re.compile(r"[A-Za-z0-9_.:/-]{1,100}")
_PROBE = f"""table {FAMILY} {TABLE}_probe {{
  chain p {{ type nat hook postrouting priority srcnat; policy accept; }}
}}
"""


def _nft(args: Sequence[str], text: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["nft", *args], input=text, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise RealizeError("nat: the nft command is missing (install nftables)", obj="nat") from None


class NftablesNat:
    name = "nftables"

    @staticmethod
    def available() -> bool:
        """Whether this kernel has nftables NAT in the ``inet`` family (UML's has not)."""
        try:
            return _nft(["-c", "-f", "-"], _PROBE).returncode == 0
        except RealizeError:
            return False

    def render(self, rules: Sequence[SnatRule]) -> str:
        """The table with ``rules`` (empty string when there are none)."""
        if not rules:
            return ""
        zones = sorted({r.conntrack_zone for r in rules if r.conntrack_zone is not None})
        lines = [
            f"table {FAMILY} {TABLE} {{",
            "\tchain postrouting {",
            "\t\ttype nat hook postrouting priority srcnat; policy accept;",
            *(f"\t\t{_rule(rule)}" for rule in sorted(rules, key=_rule)),
            "\t}",
        ]
        if zones:
            lines += [
                "",
                "\tchain prerouting {",
                "\t\ttype filter hook prerouting priority raw; policy accept;",
                *(f'\t\tiifname "fwbr*" ct zone set {zone}' for zone in zones),
                "\t}",
            ]
        lines.append("}")
        return "\n".join(lines) + "\n"

    def read(self) -> str:
        """Our table as the kernel lists it ("" when absent)."""
        done = _nft(["list", "table", FAMILY, TABLE])
        if done.returncode != 0:
            if "No such file or directory" in done.stderr:
                return ""
            raise RealizeError(
                f"nat: reading table {FAMILY} {TABLE} failed: {done.stderr.strip()}", obj="nat"
            )
        return done.stdout

    def replace(self, content: str) -> None:
        """Make ``content`` (a rendering or an earlier listing; "" = none) our table, atomically."""
        text = f"table {FAMILY} {TABLE}\ndelete table {FAMILY} {TABLE}\n{content}"
        done = _nft(["-f", "-"], text)
        if done.returncode != 0:
            raise RealizeError(f"nat: nft refused table {FAMILY} {TABLE}: {done.stderr.strip()}", obj="nat")


def _rule(rule: SnatRule) -> str:
    obj = f'subnet "{rule.subnet}"'
    net = ipaddress.ip_network(rule.source)
    fam = "ip" if net.version == 4 else "ip6"
    to = ipaddress.ip_address(rule.to_source)
    source, target = address(net, obj, "snat"), address(to, obj, "snat")
    if to.version != net.version:
        raise RealizeError(
            f'subnet "{rule.subnet}": snat source {net} and address {to} are not the same IP version',
            obj=rule.subnet,
            key="snat",
        )
    out = f"{fam} saddr {source} oifname {quoted(_ifname(rule), obj, 'snat')} snat {fam} to {target}"
    if _COMMENT_SAFE.fullmatch(rule.subnet):
        out += f' comment "subnet {rule.subnet}"'
    return out


def _ifname(rule: SnatRule) -> str:
    return check_ifname(rule.out_iface, what=f'subnet "{rule.subnet}": snat interface')
