"""How a document is laid out in etcd values: a small head, and content-defined chunks when big.

etcd refuses requests over 1.5 MiB and every write sends a value whole, so a document that grows
with the cluster (``vnets.cfg``, ``.running-config``, a node's status) must not be one value:

* a document of at most ``INLINE_MAX`` bytes is stored in its head;
* a bigger one is cut into chunks stored once each under their SHA-256 (immutable,
  content-addressed); the head lists them. Cut points are content-defined: a candidate is the
  position after a newline or after ``},`` (between JSON objects of one-line JSON), and it cuts
  when a hash of the ``WINDOW`` bytes before it falls below the gap to the previous candidate
  modulo ``DIVISOR`` (about one cut per ``DIVISOR`` bytes), between ``MIN_CHUNK`` and
  ``MAX_CHUNK`` bytes. An edit therefore changes the chunk it falls in (rarely a neighbour), and
  every other chunk keeps its hash: a one-vnet change of a 1,000-vnet config writes one small
  chunk and the head.

Head format (text, readable with ``etcdctl get``)::

    sdnkit1 I <nonce>\\n<the document's bytes>
    sdnkit1 C <nonce> <size> <sha256 of the document>\\n<sha256 of chunk 1>\\n<sha256 of chunk 2>...

The nonce is the writer's, per commit: after a lost answer, the writer finds out whether its
commit landed by looking for it.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass

from sdnkit.errors import InternalError

__all__ = ["INLINE_MAX", "MAX_CHUNK", "Head", "decode_head", "encode_head", "split"]

INLINE_MAX = 16 << 10
MIN_CHUNK = 2 << 10
MAX_CHUNK = 64 << 10
DIVISOR = 6 << 10  # about 8 KiB per chunk on average with MIN_CHUNK skipped
WINDOW = 48

_CANDIDATE = re.compile(rb"\n|\},")
_MAGIC = b"sdnkit1 "


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def split(data: bytes) -> list[bytes]:
    """Content-defined chunks of ``data`` (joined, they give ``data`` back)."""
    chunks: list[bytes] = []
    start = 0
    while start < len(data):
        cut = _cut(data, start)
        chunks.append(data[start:cut])
        start = cut
    return chunks


def _cut(data: bytes, start: int) -> int:
    """The end of the chunk that starts at ``start`` (its length at most MAX_CHUNK)."""
    limit = min(start + MAX_CHUNK, len(data))
    previous = start + MIN_CHUNK
    for match in _CANDIDATE.finditer(data, previous, limit):
        end = match.end()
        # a candidate after a gap of g bytes cuts with probability g/DIVISOR: about one cut per
        # DIVISOR bytes, whether lines are short or long
        if zlib.crc32(data[end - WINDOW : end]) % DIVISOR < end - previous:
            return end
        previous = end
    return limit  # the end, or no content-defined cut (long lines): a fixed one


@dataclass(frozen=True, slots=True)
class Head:
    nonce: str
    data: bytes | None = None  # inline content
    size: int = 0
    digest: str = ""  # sha256 of the whole document (chunked)
    chunks: tuple[str, ...] = ()

    @property
    def inline(self) -> bool:
        return self.data is not None


def encode_head(head: Head) -> bytes:
    if head.data is not None:
        return b"%sI %s\n%s" % (_MAGIC, head.nonce.encode(), head.data)
    lines = [f"C {head.nonce} {head.size} {head.digest}", *head.chunks]
    return _MAGIC + "\n".join(lines).encode()


def decode_head(name: str, value: bytes) -> Head:
    first, sep, rest = value.partition(b"\n")
    if not first.startswith(_MAGIC) or (not sep and not first.endswith(b"C")):
        raise InternalError(
            f'store document "{name}": not an sdnkit head in etcd (written by something else?)'
        )
    fields = first[len(_MAGIC) :].decode("ascii", "replace").split()
    if fields[0] == "I" and len(fields) == 2:
        return Head(nonce=fields[1], data=rest)
    if fields[0] == "C" and len(fields) == 4:
        chunks = tuple(rest.decode("ascii").split("\n")) if rest else ()
        return Head(nonce=fields[1], size=int(fields[2]), digest=fields[3], chunks=chunks)
    raise InternalError(f'store document "{name}": unknown head format {first[:40]!r}')
