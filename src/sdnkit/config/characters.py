"""Characters no value may hold, how to name one in a message, and how to show one on a terminal.

Refused in every value (input from files, the CLI and the API; the renderers check again; the
CLI's text output escapes them), by Unicode general category:

* ``Cc``: the C0 controls (newline, tab, ...), DEL and the C1 controls (NEL U+0085, ...);
* ``Cf``: format characters, among them the bidirectional embeddings, overrides and isolates
  (U+202A-U+202E, U+2066-U+2069), the direction marks (U+200E, U+200F, U+061C), the zero-width
  characters and the byte order mark: they make a value read differently from what it is;
* ``Zl``/``Zp``: U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR, which some readers
  treat as line breaks;
* ``Cs``: lone surrogates (a JSON body can carry ``"\\ud800"``), which no file can hold as UTF-8.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["REFUSED_CATEGORIES", "describe", "first_refused", "show"]

REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_ASCII_REFUSED = re.compile(r"[\x00-\x1f\x7f]")
# the C0 controls people meet, by name (unicodedata has no names for controls)
_CONTROL_NAMES = {
    "\x00": "NUL",
    "\t": "TAB",
    "\n": "LINE FEED",
    "\x0b": "VERTICAL TAB",
    "\x0c": "FORM FEED",
    "\r": "CARRIAGE RETURN",
    "\x1b": "ESCAPE",
    "\x7f": "DELETE",
    "\x85": "NEXT LINE",
}


def first_refused(text: str) -> int | None:
    """The index of the first refused character of ``text``, None when there is none."""
    if text.isascii():  # the common case: one regex scan
        match = _ASCII_REFUSED.search(text)
        return None if match is None else match.start()
    category = unicodedata.category
    for index, char in enumerate(text):
        if category(char) in REFUSED_CATEGORIES:
            return index
    return None


def describe(char: str) -> str:
    """``U+202E RIGHT-TO-LEFT OVERRIDE``: the code point and its name, for messages."""
    name = _CONTROL_NAMES.get(char) or unicodedata.name(char, "") or "control character"
    return f"U+{ord(char):04X} {name}"


def show(text: str) -> str:
    """``text`` with every character a terminal would not show as itself escaped (``\\u202e``).

    Printable characters (``str.isprintable``, and the space) stay; everything else, refused
    or merely invisible, becomes a Python-style escape, so that what is printed is what is
    there and no value can move the cursor, start a line or flip the text direction.
    """
    if text.isascii() and text.isprintable():
        return text
    return "".join(char if char.isprintable() or char == " " else _escape(char) for char in text)


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
