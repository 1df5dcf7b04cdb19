"""Printing results: tables for people, JSON for scripts.

Text output shows every value as it is: control characters (C0, DEL, C1), line and paragraph
separators, bidirectional overrides and other invisible characters are printed as escapes
(``\\u202e``), so that no value can start a line, move the cursor or reverse what follows it
(``config/characters.py``). JSON output stays JSON (``json.dump`` escapes them itself).
Everything the CLI prints for people goes through ``emit`` or ``say``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from sdnkit.config.characters import show

__all__ = ["emit", "emit_json", "emit_table", "say", "shown_lines"]


def emit_json(data: Any, out: TextIO | None = None) -> None:
    out = out or sys.stdout  # looked up per call, so that redirect_stdout works
    json.dump(data, out, indent=2, sort_keys=True, default=str)
    out.write("\n")


def shown_lines(text: str) -> str:
    """``text`` with its line breaks kept and every other invisible character escaped."""
    return "\n".join(show(line) for line in text.split("\n"))


def say(text: object, out: TextIO | None = None, *, multiline: bool = False) -> None:
    """Print a message for people: one line, every control escaped (a value cannot start a new
    line); with ``multiline`` the message's own line breaks are kept."""
    out = out or sys.stdout
    out.write((shown_lines(str(text)) if multiline else show(str(text))) + "\n")
    out.flush()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list | tuple):
        return ",".join(_cell(v) for v in value)
    if isinstance(value, Mapping):
        return ",".join(f"{show(str(k))}={_cell(v)}" for k, v in value.items())
    return show(str(value))


def emit_table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], out: TextIO | None = None) -> None:
    """A plain aligned table; columns not present in a row stay empty."""
    out = out or sys.stdout
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    heads = [show(c).upper() for c in columns]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(heads)]
    out.write("  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)).rstrip() + "\n")
    for row in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n")


def emit(data: Any, output: str, columns: Sequence[str] | None = None, out: TextIO | None = None) -> None:
    """JSON when asked, otherwise a table for lists of objects or ``key: value`` lines."""
    out = out or sys.stdout
    if output == "json":
        emit_json(data, out)
    elif isinstance(data, list) and columns:
        emit_table(data, columns, out)
    elif isinstance(data, Mapping):
        for key in sorted(data):
            out.write(f"{show(str(key))}: {_cell(data[key])}\n")
    elif data is not None:
        out.write(f"{_cell(data)}\n")
