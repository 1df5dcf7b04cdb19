"""What FRR reads specially in ``frr.conf``, and the check that no generated value holds it.

FRR's configuration reader (``vtysh -f``, ``frr-reload.py``, the daemons) splits the file into
lines and each line into words at blanks; a line whose first word starts with ``!`` or ``#`` is a
comment, and a ``!`` later on a line is an unknown command (measured with ``vtysh -C``). A value
with a line break would add a command, one with a blank an argument, one with ``!`` or ``#``
turn the rest of an injected line into a comment.

Generated lines therefore hold printable ASCII only and no ``!`` or ``#``, apart from the ``!``
separator lines themselves. Lines merged from the operator's own ``frr.conf.local`` (the
``custom`` lines of the tree) are the operator's text and are taken as they are, but no line may
hold a line break or a control, format or separator character.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator, Set

from sdnkit.config.characters import describe, first_refused
from sdnkit.errors import ConfigError

__all__ = ["check_frr_lines", "custom_lines"]

_GENERATED_UNSAFE = re.compile(r"[^\x20-\x7e]|[!#]")
# printable ASCII and the line break, without "#" ("!" is counted: it may only be a separator line)
_SAFE_BYTES = bytes(sorted({*range(0x20, 0x7F), 0x0A} - {ord("#")}))
SEPARATORS = frozenset({"!", " !"})


def custom_lines(tree: object) -> set[str]:
    """Every line of the tree's ``custom`` fields (merged from ``frr.conf.local``)."""
    return set(_custom(tree))


def _custom(node: object) -> Iterator[str]:
    if isinstance(node, tuple | list):
        for item in node:
            yield from _custom(item)
    elif dataclasses.is_dataclass(node) and not isinstance(node, type):
        for fld in dataclasses.fields(node):
            value = getattr(node, fld.name)
            if fld.name == "custom":
                yield from value
            elif isinstance(value, tuple | list) or dataclasses.is_dataclass(value):
                yield from _custom(value)


def check_frr_lines(lines: Iterable[str], custom: Callable[[], Set[str]] = frozenset) -> list[str]:
    """``lines`` as a list, once none of them could be read as more than one command.

    ``custom`` gives the lines merged from ``frr.conf.local``; it is only asked for when the
    whole text is not plainly safe (the fast check runs in C over the joined text).
    """
    out = list(lines)
    text = "\n".join(out)
    separators = sum(1 for line in out if line in SEPARATORS)
    plain = (
        text.isascii()
        and not text.encode("ascii").translate(None, _SAFE_BYTES)
        and text.count("\n") == len(out) - 1
        and text.count("!") == separators
    )
    if plain:
        return out
    merged = custom()
    for line in out:
        problem = _problem(line, line in merged)
        if problem is not None:
            raise ConfigError(f"FRR configuration: {problem} in line {line!r}", key="frr", value=line)
    return out


def _problem(line: str, custom: bool) -> str | None:
    index = first_refused(line)
    if index is not None:
        return f"{describe(line[index])} cannot be written (it would start a new line or hide text)"
    if custom or line in SEPARATORS:
        return None
    match = _GENERATED_UNSAFE.search(line)
    if match is None:
        return None
    if match[0] in "!#":
        return f"a value holds {match[0]!r}, which FRR reads as the start of a comment"
    return f"{describe(match[0])} cannot be written (only printable ASCII)"
