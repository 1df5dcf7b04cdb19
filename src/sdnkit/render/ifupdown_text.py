r"""What ifupdown2 reads specially in an interfaces file, and the checks that no value holds it.

ifupdown2 (``ifupdown/networkinterfaces.py``, 3.x) gives characters of the file a meaning before
it sees a single option:

* a file that holds a ``%`` anywhere is first rendered as a Mako template (``template_enable=1``
  is Debian's default): ``${...}`` is evaluated, ``<% ... %>`` runs Python, a line starting with
  ``%`` is a control line, ``##`` starts a comment and a backslash at the end of a line joins it
  with the next one;
* then every backslash joins the text around it into one line (``' '.join(d.strip() for d in
  filedata.split('\\'))``): an alias ending in ``\`` swallows the option line after it;
* ``$IFACE`` in a value becomes the interface name;
* ``post-up``/``up`` lines are run by ``/bin/sh``.

The renderer's output therefore holds printable ASCII only (no line break but its own "\n", no
control, format or separator character, nothing outside ASCII), and no ``\``, ``$`` or ``%``;
every word of a shell line is a plain token. ``check_interfaces_text`` checks a whole rendered
file in one scan and, on a hit, names the interface and the option; ``shell_word`` checks one
value before it goes into a shell line.
"""

from __future__ import annotations

import re

from sdnkit.config.characters import describe
from sdnkit.errors import ConfigError

__all__ = ["check_interfaces_text", "shell_word"]

# anything but printable ASCII and the renderer's own line breaks and indentation, and the
# characters ifupdown2 (or Mako before it) reads specially
_UNSAFE = re.compile(r"[^\x20-\x7e\n\t]|[\\$%]")
# the same set as bytes, for the fast check of a whole file (a bytes translate runs in C: a
# node's file of 2 MB takes milliseconds, a regex search several times longer)
_SAFE_BYTES = bytes(sorted({*range(0x20, 0x7F), 0x09, 0x0A} - {ord("\\"), ord("$"), ord("%")}))
_SHELL_WORD = re.compile(r"[A-Za-z0-9_.:/+@=,][A-Za-z0-9_.:/+@=,-]*")
_WHY = {
    "\\": "ifupdown2 joins the lines around a backslash",
    "$": "ifupdown2 substitutes $IFACE and Mako evaluates ${...}",
    "%": "a file with % is rendered as a Mako template",
}


def check_interfaces_text(text: str) -> None:
    """Refuse a rendered file in which ifupdown2 would read a value as more than a value."""
    if text.isascii() and not text.encode("ascii").translate(None, _SAFE_BYTES):
        return
    match = _UNSAFE.search(text)  # there is one: find it, to name the interface and the option
    if match is None:
        return
    char = match[0]
    start = text.rfind("\n", 0, match.start()) + 1
    end = text.find("\n", match.start())
    line = text[start : len(text) if end < 0 else end]
    iface = _stanza_of(text, start)
    key = line.strip().split(" ", 1)[0] or "?"
    why = _WHY.get(char, "only printable ASCII can be written")
    raise ConfigError(
        f'interface "{iface}": option "{key}": {describe(char)} cannot be written to the interfaces file '
        f"({why})",
        obj=f'interface "{iface}"',
        key=key,
        value=line,
    )


def _stanza_of(text: str, offset: int) -> str:
    """The name of the stanza the line at ``offset`` belongs to ("?" before the first one)."""
    head = text.rfind("\niface ", 0, offset + 1)
    if head < 0:
        return "?"
    return text[head + 7 :].split(None, 1)[0]


def shell_word(value: object, iface: str, key: str) -> str:
    """``value`` as one word of a shell line (``post-up iptables ... -o <word>``), or refused."""
    text = str(value)
    if not _SHELL_WORD.fullmatch(text):
        raise ConfigError(
            f'interface "{iface}": option "{key}": {text!r} cannot be one word of a shell command '
            "(letters, digits and _.:/+@=,- only, not starting with -)",
            obj=f'interface "{iface}"',
            key=key,
            value=text,
        )
    return text
