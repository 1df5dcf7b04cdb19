"""Semantic equivalence of generated ifupdown2 / FRR files with upstream's expected files.

Independent of sdnkit's own parsers on purpose: it reads both texts the way ifupdown2 and FRR
read them, and compares what they configure.

ifupdown2: the ``#version`` line, the set of ``auto`` interfaces, each interface's address
families/methods, and each interface's options as a multiset of (key, value), with the order of
options and stanzas free, ``_`` and ``-`` in keys equivalent (``bridge_ports`` ≡ ``bridge-ports``)
and runs of blanks in values equivalent. Several stanzas of one interface count together.

FRR: the set of block headers (``router bgp 65000``, ``interface eth0``, ``route-map X permit 1``,
``line vty``), and the multiset of statements keyed by (block, address family, text); order is
free within and across blocks, blocks with the same header count together (FRR merges them),
``!``, ``exit``, ``exit-vrf`` and ``exit-address-family`` only structure. Everything else is
strict: one missing or extra line is a difference.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

CONTEXT_KEYWORDS = ("router", "vrf", "interface", "route-map", "line")
CLOSERS = ("exit", "exit-vrf", "end")
# single-line statements upstream's frr.conf.local merge keeps (spec §3.8); it drops other ones (§10.21)
KEPT_LOCAL_PREFIXES = ("bgp community-list ",)
KEPT_LOCAL_SEQ_LISTS = ("ip prefix-list ", "ipv6 prefix-list ", "access-list ")


# ---------------------------------------------------------------------------------- ifupdown2


@dataclass
class Interfaces:
    versions: list[str] = field(default_factory=list)  # "#version:N" lines
    auto: set[str] = field(default_factory=set)
    methods: dict[str, set[str]] = field(default_factory=dict)
    options: dict[str, Counter[tuple[str, str]]] = field(default_factory=dict)


def _key(option: str) -> str:
    return option.lower().replace("_", "-")


def parse_interfaces(text: str) -> Interfaces:
    out = Interfaces()
    current: str | None = None
    for raw in text.splitlines():
        words = raw.split()
        if not words:
            continue
        if words[0].startswith("#"):
            if words[0].startswith("#version:"):
                out.versions.append(raw.strip())
            continue
        if raw[0] not in " \t":
            current = None
            if words[0] == "auto":
                out.auto.update(words[1:])
            elif words[0] == "iface":
                current = words[1]
                out.options.setdefault(current, Counter())
                methods = out.methods.setdefault(current, set())
                if len(words) > 2:
                    methods.add(" ".join(words[2:]))
            else:
                raise ValueError(f"unexpected line {raw!r}")
            continue
        if current is None:
            raise ValueError(f"option outside a stanza: {raw!r}")
        out.options[current][(_key(words[0]), " ".join(words[1:]))] += 1
    return out


def diff_interfaces(expected: str, actual: str) -> list[str]:
    """Differences between two interfaces texts (empty: equivalent)."""
    exp, act = parse_interfaces(expected), parse_interfaces(actual)
    out: list[str] = []
    if exp.versions != act.versions:
        out.append(f"version lines: expected {exp.versions!r}, got {act.versions!r}")
    out += [f"missing auto {i}" for i in sorted(exp.auto - act.auto)]
    out += [f"extra auto {i}" for i in sorted(act.auto - exp.auto)]
    for name in sorted(set(exp.options) | set(act.options)):
        if name not in act.options:
            out.append(f"missing interface {name}")
            continue
        if name not in exp.options:
            out.append(f"extra interface {name}")
            continue
        if exp.methods.get(name) != act.methods.get(name):
            out.append(f"{name}: address families {sorted(exp.methods[name])} != {sorted(act.methods[name])}")
        missing = exp.options[name] - act.options[name]
        extra = act.options[name] - exp.options[name]
        out += [f"{name}: missing option {k} {v}" for (k, v) in sorted(missing.elements())]
        out += [f"{name}: extra option {k} {v}" for (k, v) in sorted(extra.elements())]
    return out


# ---------------------------------------------------------------------------------------- FRR

Statement = tuple[str | None, str | None, str]  # (block header, address family, text)


@dataclass
class FrrText:
    blocks: set[str] = field(default_factory=set)
    statements: Counter[Statement] = field(default_factory=Counter)


def _content(text: str) -> list[str]:
    lines = [raw.rstrip() for raw in text.splitlines()]
    return [line for line in lines if line.strip() and not line.strip().startswith("!")]


def _norm(line: str) -> str:
    return " ".join(line.split())


def parse_frr(text: str) -> FrrText:
    out = FrrText()
    lines = _content(text)
    block: str | None = None
    family: str | None = None
    for index, line in enumerate(lines):
        stripped = _norm(line)
        indented = line[0] in " \t"
        if stripped in CLOSERS:
            block = family = None
        elif stripped == "exit-address-family":
            family = None
        elif stripped.startswith("address-family ") and block is not None:
            family = stripped
        elif indented:
            out.statements[(block, family, stripped)] += 1
        else:
            following = lines[index + 1] if index + 1 < len(lines) else ""
            family = None
            if stripped.split()[0] in CONTEXT_KEYWORDS or following[:1] in (" ", "\t"):
                block = stripped
                out.blocks.add(block)
            else:
                block = None
                out.statements[(None, None, stripped)] += 1
    return out


def diff_frr(expected: str, actual: str, allowed_extra: Iterable[str] = ()) -> list[str]:
    """Differences between two frr.conf texts (empty: equivalent).

    ``allowed_extra``: top-level statements the actual text may have in addition (each once).
    """
    exp, act = parse_frr(expected), parse_frr(actual)
    out = [f"missing block {b!r}" for b in sorted(exp.blocks - act.blocks)]
    out += [f"extra block {b!r}" for b in sorted(act.blocks - exp.blocks)]
    extra = act.statements - exp.statements
    extra -= Counter({(None, None, _norm(s)): 1 for s in allowed_extra})
    missing = exp.statements - act.statements
    fmt = "{what} in {block!r}{family}: {text!r}"
    for what, counter in (("missing", missing), ("extra", extra)):
        for block, family, text in sorted(counter.elements(), key=lambda s: (s[0] or "", s[1] or "", s[2])):
            out.append(fmt.format(what=what, block=block, family=f" / {family}" if family else "", text=text))
    return out


def dropped_local_statements(local: str) -> list[str]:
    """Top-level statements of a frr.conf.local that upstream's merge drops (spec §10.21).

    sdnkit keeps them (the §10.21 fix), so they may appear in its output and not upstream's.
    """
    parsed = parse_frr(local)
    dropped = []
    for block, _, text in parsed.statements.elements():
        if block is not None or text.startswith(KEPT_LOCAL_PREFIXES):
            continue
        if text.startswith(KEPT_LOCAL_SEQ_LISTS) and " seq " in text:
            continue
        dropped.append(text)
    return dropped
