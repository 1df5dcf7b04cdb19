"""PVE section-config text: parse and write ``zones.cfg``, ``vnets.cfg``, ... byte for byte (spec §1.2).

Format (pve-common ``SectionConfig.pm``)::

    <type>: <id>
    <TAB><key> <value>
    <TAB><key> <value>
    <empty line>

* A header matches ``^(\\S+):\\s*(\\S+)\\s*$``; the type is lower-cased. A property line is indented and
  matches ``^\\s+(\\S+)(\\s+(.*\\S))?\\s*$``; a boolean key without a value means 1.
* An empty line ends a section; lines starting with ``#`` (after optional blanks) are skipped anywhere.
* Array options (``dhcp-range``, fabric ``interfaces``) repeat their key, one element per line; any other
  key given twice is an error.
* The writer emits sections in their stored order, required options sorted, then optional ones sorted
  (fabrics: their Rust field order), booleans as ``1``/``0``, and an empty line after every section.
* The digest of a file is ``sha1_hex`` of its raw bytes, and of the empty string when the file does not
  exist (PVE hands ``undef`` content to the parser, which hashes ``''``).

Decisions where PVE only warns (the operator's view: a config that silently loses a key is worse than
one that does not load):

* ``parse_config`` (strict, the default, used when loading a store) refuses a file with an unknown
  section type, an invalid ID, an unknown or invalid key, a duplicate key or section, or a stray line,
  with one ``ConfigError`` that names the file, the line, the object and the key of every problem.
* ``parse_config(..., lenient=True)`` (used to import a copy of ``/etc/pve/sdn``) does what PVE does:
  it drops the bad key (or the section, when it cannot stand without it) and returns the problems as
  warnings in ``ParsedFile.issues``.
* A line holding only blanks ends a section, like an empty line. PVE would instead warn about it and
  read the next header's options into the previous section, which is never what the author meant.
* ``ipams.cfg`` always contains the built-in ``pve: pve`` IPAM; it is added at the end when missing,
  as ``PVE::Network::SDN::Ipams::config`` does. Another type under the ID ``pve`` is refused.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sdnkit.config.formats import ArrayOf, Boolean, clean_text
from sdnkit.config.schema import TYPES, Kind, option_format
from sdnkit.config.section import Section, parse_section, section_type, validate_id
from sdnkit.errors import ConfigError

__all__ = [
    "FILENAMES",
    "ParseIssue",
    "ParsedFile",
    "digest",
    "format_config",
    "parse_config",
]

FILENAMES: dict[Kind, str] = {kind: f"{kind.value}.cfg" for kind in Kind}

_HEADER = re.compile(r"^(\S+):\s*(\S+)\s*$")
_PROPERTY = re.compile(r"^\s+(\S+)(\s+(.*\S))?\s*$")
_COMMENT = re.compile(r"^\s*#")

BUILTIN_IPAM = "pve"


def digest(data: bytes | str | None) -> str:
    """The config digest as PVE computes it: sha1 of the raw file, of ``''`` when there is none."""
    if data is None:
        data = b""
    if isinstance(data, str):
        data = data.encode()
    return hashlib.sha1(data).hexdigest()  # PVE's digest format, not a security use


@dataclass(frozen=True, slots=True)
class ParseIssue:
    """One problem found while parsing: where it is and what is wrong."""

    filename: str
    line: int
    message: str
    obj: str | None = None
    key: str | None = None

    def __str__(self) -> str:
        where = f"{self.filename} line {self.line}" if self.line else self.filename
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class ParsedFile:
    kind: Kind
    sections: dict[str, Section]  # in file order
    digest: str
    issues: tuple[ParseIssue, ...] = ()


@dataclass(slots=True)
class _RawSection:
    type: str
    id: str
    line: int
    values: dict[str, object] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Reader:
    kind: Kind
    filename: str
    lenient: bool
    issues: list[ParseIssue] = field(default_factory=list)

    def issue(self, line: int, message: str, obj: str | None = None, key: str | None = None) -> None:
        self.issues.append(ParseIssue(self.filename, line, message, obj, key))

    def read(self, text: str) -> list[_RawSection]:
        raws: list[_RawSection] = []
        current: _RawSection | None = None
        skipping = False
        for lineno, line in enumerate(text.split("\n"), start=1):
            if _COMMENT.match(line):
                continue
            if not line.strip():
                current, skipping = None, False
                continue
            if current is not None or skipping:
                if current is not None:
                    self._property(current, lineno, line)
                continue
            current = self._header(lineno, line)
            skipping = current is None
            if current is not None:
                raws.append(current)
        return raws

    def _header(self, lineno: int, line: str) -> _RawSection | None:
        match = _HEADER.match(line)
        if not match:
            self.issue(lineno, f"not a section header {line.strip()!r} (expected '<type>: <id>')")
            return None
        type_, id_ = match[1].lower(), match[2]
        label = f'{self.kind.singular} "{id_}"'
        try:
            type_ = section_type(self.kind, type_)
            validate_id(self.kind, id_)
        except ConfigError as err:
            skipped = "; section skipped" if self.lenient else ""
            self.issue(lineno, f"{err}{skipped}", label, err.key)
            return None
        return _RawSection(type_, id_, lineno)

    def _property(self, raw: _RawSection, lineno: int, line: str) -> None:
        label = f'{self.kind.singular} "{raw.id}"'
        match = _PROPERTY.match(line)
        if not match:
            self.issue(lineno, f"{label}: not an option line {line.strip()!r}", label)
            return
        key, value = match[1], match[3]
        known = key in TYPES[self.kind][raw.type].options
        fmt = option_format(self.kind, raw.type, key) if known else None
        if value is None:
            value = "1" if isinstance(fmt, Boolean) else ""
        if isinstance(fmt, ArrayOf):
            existing = raw.values.setdefault(key, [])
            assert isinstance(existing, list)
            existing.append(value)
            raw.lines.setdefault(key, lineno)
        elif key in raw.values:
            self.issue(lineno, f"{label}: option {key!r} given twice (only array options repeat)", label, key)
        else:
            raw.values[key] = value
            raw.lines[key] = lineno


def _build(reader: _Reader, raw: _RawSection, lenient: bool) -> Section | None:
    """Validate one section; lenient mode drops the bad keys and keeps the rest when it can."""
    label = f'{reader.kind.singular} "{raw.id}"'
    try:
        return parse_section(reader.kind, raw.type, raw.id, raw.values)
    except ConfigError as err:
        for key, message in err.errors.items():
            reader.issue(raw.lines.get(key, raw.line), message, label, key)
        if not lenient:
            return None
        values = {k: v for k, v in raw.values.items() if k not in err.errors}
    try:
        return parse_section(reader.kind, raw.type, raw.id, values)
    except ConfigError:
        reader.issue(raw.line, f"{label}: section skipped", label)
        return None


def parse_config(
    kind: Kind, data: bytes | str | None, *, filename: str | None = None, lenient: bool = False
) -> ParsedFile:
    """Parse one section-config file of ``kind``; ``None`` is a file that does not exist."""
    filename = filename or FILENAMES[kind]
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else (data or "")
    reader = _Reader(kind, filename, lenient)
    sections: dict[str, Section] = {}
    for raw in reader.read(text):
        section = _build(reader, raw, lenient)
        if section is None:
            continue
        if section.id in sections:
            label = f'{kind.singular} "{section.id}"'
            wins = "; the later definition wins" if lenient else ""
            reader.issue(raw.line, f"{label}: defined twice{wins}", label)
            del sections[section.id]
        sections[section.id] = section
    if kind is Kind.IPAMS:
        _builtin_ipam(reader, sections)
    issues = sorted(reader.issues, key=lambda i: i.line)
    if issues and not lenient:
        raise _error(issues)
    return ParsedFile(kind, sections, digest(data), tuple(issues))


def _builtin_ipam(reader: _Reader, sections: dict[str, Section]) -> None:
    pve = sections.get(BUILTIN_IPAM)
    if pve is None:
        sections[BUILTIN_IPAM] = Section(Kind.IPAMS, "pve", BUILTIN_IPAM, ())
    elif pve.type != "pve":
        label = f'ipam "{BUILTIN_IPAM}"'
        reader.issue(0, f"{label}: reserved for the built-in IPAM (type pve, not {pve.type})", label)
        sections[BUILTIN_IPAM] = Section(Kind.IPAMS, "pve", BUILTIN_IPAM, ())


def _error(issues: list[ParseIssue]) -> ConfigError:
    errors: dict[str, str] = {}
    for issue in issues:
        key = issue.key or "config"
        errors[key] = f"{errors[key]}; {issue}" if key in errors else str(issue)
    first = issues[0]
    text = "; ".join(str(i) for i in issues)
    return ConfigError(text, obj=first.obj, key=first.key, errors=errors)


def format_section(section: Section) -> str:
    """One section as PVE writes it, with its trailing empty line."""
    lines = [f"{section.type}: {section.id}\n"]
    values = section.options
    for key in TYPES[section.kind][section.type].write_order(set(values)):
        fmt = option_format(section.kind, section.type, key)
        value = values[key]
        items = [v.text() for v in value] if isinstance(fmt, ArrayOf) else [fmt.text(value)]  # type: ignore[union-attr]
        for item in items:
            # values were validated on parse; re-check so no caller can inject a line
            clean_text(item)
            if item != "":
                lines.append(f"\t{key} {item}\n")
    lines.append("\n")
    return "".join(lines)


def format_config(sections: Iterable[Section]) -> str:
    """A whole file: sections in the given order (keep file order, append new IDs)."""
    return "".join(format_section(s) for s in sections)


def ordered(previous: Mapping[str, Section], current: Mapping[str, Section]) -> list[Section]:
    """``current``'s sections in ``previous``'s order, new IDs appended in the order they came."""
    out = [current[i] for i in previous if i in current]
    out.extend(s for i, s in current.items() if i not in previous)
    return out
