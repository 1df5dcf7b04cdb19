"""Replace a file atomically with the mode it must have from its first byte.

The access database and the TLS key hold secrets: the data goes to a temporary file in the same
directory, created 0600 by ``mkstemp`` and given its final mode before any byte is written, then
synced and renamed over the old file. Readers see the old file or the new one, never a part.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: Path, data: str | bytes, mode: int) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` with ``mode``, all or nothing."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:  # a file object writes all of it (os.write may write less)
            os.fchmod(fh.fileno(), mode)
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
