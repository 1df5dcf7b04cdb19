"""Durable built-in IPAM state: the JSON document in the store plus an append-only journal.

Rewriting the whole ``pve-ipam-state.json`` for every allocation (upstream) costs a full JSON
dump and an fsync of a file that grows with the state. Here an allocation appends one small
record to a preallocated journal file and calls ``fdatasync`` once; the state document is
rewritten from time to time (compaction), and it stays upstream's interchange format: a real
one copied into the store loads, and the status API reads the same state.

Journal file layout (little endian)::

    0     header   magic "SDNIPAMJ", format u32, generation u64, crc32 u32
    4096  records  length u32, crc32 u32, generation u64, sequence u64, payload (JSON list of ops)
                   ... followed by zeros (the file is preallocated with real zero blocks, so an
                   overwrite changes no file metadata and fdatasync is a pure data flush)

A record is valid when its generation is the header's, its sequence follows the previous one
and its crc matches; the first invalid record ends the journal (a torn write from a killed
process is ignored and overwritten by the next writer).

The state document carries ``"sdnkit-journal": {"generation": G, "sequence": S}``: it holds
every record of generation G up to S. Compaction writes the document with the current
(G, S), then starts generation G+1 in the header. Loading therefore replays the records of
generation H (the header's) with sequence > S when H == G, all of them when H == G+1, and
nothing when the document does not fit (it was replaced by hand: the document wins and a new
generation starts). A kill at any point leaves one of these states, so every acknowledged
record is found exactly once.

Locking: ``flock`` on the journal file between processes, plus a thread lock; the lock is
held only while the state is read, changed and the record is written (no network I/O).

Group commit: the ``fdatasync`` runs after the locks are released, and one call covers every
record written before it (by any thread or process: the page cache is the file's). Callers that
run concurrently therefore share flushes, while each one still returns only once its own record
is on disk. A caller that reads records another process has not flushed yet flushes them too
before it answers, so nothing it acts on can vanish in a power cut.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sdnkit.errors import ConfigError, IpamError, LockError, SdnError
from sdnkit.ipam.state import IpamState, Op, op_from_json
from sdnkit.ipam.storage import DOCUMENT, Txn
from sdnkit.store.base import Store

__all__ = ["DOCUMENT", "MARK_KEY", "JournalStorage"]

log = logging.getLogger(__name__)

T = TypeVar("T")

MARK_KEY = "sdnkit-journal"

_MAGIC = b"SDNIPAMJ"
_FORMAT = 1
_HEADER = struct.Struct("<8sIQI")
_RECORD = struct.Struct("<IIQQ")
_SEQ = struct.Struct("<QQ")
_DATA = 4096
_ZEROS = bytes(_RECORD.size)
_CHUNK = 1 << 20


class JournalStorage:
    """``IpamStorage`` over a ``Store`` (the state document) and a local journal file."""

    def __init__(
        self,
        store: Store,
        journal: str | Path,
        *,
        capacity: int = 1 << 20,
        lock_timeout: float = 10.0,
        compact_min: int = 4 << 20,
    ) -> None:
        self._store = store
        self._compact_min = compact_min
        self._path = Path(journal)
        self._capacity = max(capacity, _DATA + (64 << 10))  # grows (doubling) when needed
        self._lock_timeout = lock_timeout
        self._tlock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._written = 0  # records written or read in this process (a ticket counter)
        self._synced = 0  # tickets known to be on disk
        self._fd = -1
        self._pid = -1
        self._state: IpamState | None = None
        self._gen = 0
        self._seq = 0
        self._end = _DATA  # offset after the last valid record
        self._doc_size = 0

    # -- public -------------------------------------------------------------------------------

    def run(self, fn: Callable[[Txn], T]) -> T:
        with self._tlock, self._locked():
            state = self._catch_up()
            if self._should_compact():
                self._try_compact(state)
            txn = Txn(state)
            try:
                result = fn(txn)
                if txn.ops:
                    self._append(txn.ops)
            except BaseException:
                txn.rollback()
                raise
            ticket = self._written
        # group commit: flush outside the locks, so that the records other callers write
        # meanwhile share the next fdatasync; nothing returns before its record is durable
        self._sync(ticket)
        return result

    def _sync(self, ticket: int) -> None:
        """Make every record up to ``ticket`` durable (also those read from other processes)."""
        if self._synced >= ticket:
            return
        with self._sync_lock:
            if self._synced >= ticket:
                return
            target, fd = self._written, self._fd
            try:
                os.fdatasync(fd)
            except OSError as err:
                with self._tlock:
                    self._state = None  # the page cache may not match the disk any more
                raise IpamError(
                    f"IPAM journal {self._path}: flushing failed, the change may be lost: {err}"
                ) from err
            self._synced = max(self._synced, target)

    def compact(self) -> None:
        """Write the state document now and start a new journal generation."""
        with self._tlock, self._locked():
            self._compact(self._catch_up())

    def close(self) -> None:
        with self._tlock:
            if self._fd >= 0 and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = -1
            self._state = None

    # -- locking ------------------------------------------------------------------------------

    def _open(self) -> int:
        if self._fd < 0 or self._pid != os.getpid():
            # a forked child must not share the parent's open file (flock is per open file)
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
            self._state = None
        return self._fd

    @contextmanager
    def _locked(self) -> Iterator[None]:
        fd = self._open()
        deadline = time.monotonic() + self._lock_timeout
        pause = 0.00005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockError(
                        f"IPAM state is locked by another process (waited {self._lock_timeout:g}s "
                        f"for {self._path})"
                    ) from None
                time.sleep(pause)
                pause = min(pause * 2, 0.001)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    # -- loading ------------------------------------------------------------------------------

    def _catch_up(self) -> IpamState:
        gen = self._read_header()
        if self._state is None or gen != self._gen:
            return self._load(gen)
        self._replay(apply_after=self._seq)
        return self._state

    def _read_header(self) -> int | None:
        raw = os.pread(self._fd, _HEADER.size, 0)
        if len(raw) < _HEADER.size:
            return None
        magic, fmt, gen, crc = _HEADER.unpack(raw)
        if magic != _MAGIC or crc != zlib.crc32(raw[:-4]):
            return None
        if fmt != _FORMAT:
            raise ConfigError(f"IPAM journal {self._path}: unknown format {fmt}")
        return int(gen)

    def _load(self, gen: int | None) -> IpamState:
        data = self._read_document()
        state = IpamState.from_json(data)
        mark = _mark(data)
        self._state = state
        self._ensure_size()
        if gen is None:  # new journal (or a torn header): start on top of the document
            self._gen, self._seq = mark or (0, 0)
            self._compact(state)
            return state
        self._gen, self._seq, self._end = gen, 0, _DATA
        doc_gen, doc_seq = mark or (-1, 0)
        if gen == doc_gen:
            self._replay(apply_after=doc_seq)
        elif gen == doc_gen + 1:
            self._replay(apply_after=0)
        else:  # written without us (copied in by hand): the document is the truth
            log.warning("IPAM state %s was replaced: journal %s is not replayed", DOCUMENT, self._path)
            self._replay(apply_after=None)
            self._compact(state)
        return state

    def _read_document(self) -> dict[str, Any]:
        doc = self._store.read(DOCUMENT)
        self._doc_size = len(doc.data) if doc else 0
        if doc is None or not doc.data.strip():
            return {}
        try:
            data = json.loads(doc.data)
        except ValueError as err:
            raise ConfigError(f"IPAM state {DOCUMENT} is not valid JSON: {err}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"IPAM state {DOCUMENT}: expected a JSON object")
        return data

    def _ensure_size(self) -> None:
        size = os.fstat(self._fd).st_size
        if size < self._capacity:
            self._fill_zeros(size, self._capacity)
        self._capacity = max(self._capacity, size)

    def _fill_zeros(self, start: int, end: int) -> None:
        block = bytes(min(_CHUNK, end - start))
        pos = start
        while pos < end:
            pos += os.pwrite(self._fd, block[: end - pos], pos)
        os.fsync(self._fd)
        _fsync_dir(self._path.parent)

    def _write_header(self, gen: int) -> None:
        head = struct.pack("<8sIQ", _MAGIC, _FORMAT, gen)
        os.pwrite(self._fd, head + struct.pack("<I", zlib.crc32(head)) + _ZEROS, 0)
        os.pwrite(self._fd, _ZEROS, _DATA)
        os.fdatasync(self._fd)

    def _replay(self, *, apply_after: int | None) -> None:
        """Read the valid records after ``self._end``; apply those with sequence > apply_after."""
        for seq, payload, end in self._records():
            if apply_after is not None and seq > apply_after:
                assert self._state is not None
                for raw in json.loads(payload):
                    self._state.apply(op_from_json(raw))
                self._written += 1  # seen by us: flushed before we answer (its writer may not have yet)
            self._seq, self._end = seq, end

    def _records(self) -> Iterator[tuple[int, bytes, int]]:
        offset, seq = self._end, self._seq + 1
        while True:
            head = os.pread(self._fd, _RECORD.size, offset)
            if len(head) < _RECORD.size:
                return
            length, crc, gen, rseq = _RECORD.unpack(head)
            if length == 0 or gen != self._gen or rseq != seq:
                return
            payload = os.pread(self._fd, length, offset + _RECORD.size)
            if len(payload) < length or zlib.crc32(payload, zlib.crc32(head[8:])) != crc:
                return
            offset += _RECORD.size + length
            yield seq, payload, offset
            seq += 1

    # -- writing ------------------------------------------------------------------------------

    def _append(self, ops: list[Op]) -> None:
        payload = json.dumps([op.to_json() for op in ops], separators=(",", ":")).encode()
        seq = self._seq + 1
        tail = _SEQ.pack(self._gen, seq)
        head = struct.pack("<II", len(payload), zlib.crc32(payload, zlib.crc32(tail))) + tail
        size = len(head) + len(payload)
        if self._end + size + len(_ZEROS) > self._capacity:
            self._grow(self._end + size + len(_ZEROS))
        try:
            os.pwrite(self._fd, head + payload + _ZEROS, self._end)
        except OSError as err:
            self._invalidate_record()
            raise IpamError(f"IPAM journal {self._path}: write failed, nothing was changed: {err}") from err
        self._seq, self._end = seq, self._end + size
        self._written += 1

    def _invalidate_record(self) -> None:
        # the record may sit in the page cache where other processes would read it: erase it
        try:
            os.pwrite(self._fd, _ZEROS, self._end)
        except OSError:
            log.exception("IPAM journal %s: could not erase a failed record", self._path)
        self._state = None

    def _grow(self, needed: int) -> None:
        capacity = max(self._capacity * 2, needed + (1 << 20))
        self._fill_zeros(max(os.fstat(self._fd).st_size, self._end), capacity)
        self._capacity = capacity

    def _should_compact(self) -> bool:
        # replaying the journal stays cheaper than reading the document twice
        return self._end - _DATA > max(self._compact_min, 2 * self._doc_size)

    def _try_compact(self, state: IpamState) -> None:
        # the journal still has room: a failing store must not stop allocations
        try:
            self._compact(state)
        except (SdnError, OSError) as err:
            log.warning("IPAM state compaction failed, journal %s keeps growing: %s", self._path, err)

    def _compact(self, state: IpamState) -> None:
        data = state.to_json()
        data[MARK_KEY] = {"generation": self._gen, "sequence": self._seq}
        text = json.dumps(data, separators=(",", ":")).encode()
        self._store.commit({DOCUMENT: text})
        self._doc_size = len(text)
        self._write_header(self._gen + 1)
        self._gen, self._seq, self._end = self._gen + 1, 0, _DATA


def _mark(data: dict[str, Any]) -> tuple[int, int] | None:
    """(generation, sequence) of the journal records the document holds; None if not ours."""
    mark = data.get(MARK_KEY)
    if not isinstance(mark, dict):
        return None
    try:
        return int(mark["generation"]), int(mark["sequence"])
    except (KeyError, TypeError, ValueError):
        return None


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as err:  # pragma: no cover - directory vanished
        if err.errno != errno.ENOENT:
            raise
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
