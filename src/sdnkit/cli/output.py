"""Printing results: tables for people, JSON for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO


def emit_json(data: Any, out: TextIO | None = None) -> None:
    out = out or sys.stdout  # looked up per call, so that redirect_stdout works
    json.dump(data, out, indent=2, sort_keys=True, default=str)
    out.write("\n")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list | tuple):
        return ",".join(_cell(v) for v in value)
    if isinstance(value, Mapping):
        return ",".join(f"{k}={_cell(v)}" for k, v in value.items())
    return str(value)


def emit_table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], out: TextIO | None = None) -> None:
    """A plain aligned table; columns not present in a row stay empty."""
    out = out or sys.stdout
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    out.write("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip() + "\n")
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
            out.write(f"{key}: {_cell(data[key])}\n")
    elif data is not None:
        out.write(f"{_cell(data)}\n")
