"""The local directory store: one file per document, PVE's ``/etc/pve/sdn`` layout.

``zones.cfg``, ``vnets.cfg``, ..., ``.running-config`` and ``.lock`` sit directly in the directory,
so a copy of a PVE directory is a store. sdnkit's own bookkeeping lives in ``.sdnkit/``:

* ``commit.lock``: ``flock`` serialising commits (exclusive) against snapshot reads (shared);
* ``journal``: the redo log of a multi-document commit;
* ``locks/<name>``: the named locks of ``Store.lock`` (``sdn`` is PVE's ``domain-sdn``).

``watch`` polls (every ``POLL`` seconds, only while someone waits): a change is a different
(inode, size, mtime) of a file under the watched prefixes, which every commit gives since it
replaces files by rename. ``publish`` writes a plain document: nothing expires it here, so its
readers judge staleness from the timestamp its holder puts in it (``store/base.py``).

Crash safety. A single document is written to a temporary file in the same directory, fsynced,
renamed over the old one, and the directory is fsynced. A commit of several documents first writes
the whole change set to ``.sdnkit/journal`` (temporary file, fsync, rename, fsync): from that moment
it is committed. Then every document is replaced as above and the journal is removed. Whoever takes
the commit lock next (a writer, or a reader that finds a journal) replays a journal left by a killed
process, so ``kill -9`` at any moment leaves every document either all old or all new, and stray
temporary files are removed.

Revisions are the sha1 of the content (for ``*.cfg`` files that is PVE's digest).
"""

from __future__ import annotations

import base64
import errno
import fcntl
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

from sdnkit.errors import ConflictError, InternalError, LockError
from sdnkit.store.base import ABSENT, Document, check_name

__all__ = ["LocalLease", "LocalStore", "LocalWatch"]

META = ".sdnkit"
TMP_SUFFIX = ".sdnkit-tmp"
FILE_MODE = 0o640  # ipams.cfg and dns.cfg hold API tokens
PRIVATE = "priv"  # a directory of this name holds secrets: mode 0700, its files 0600 (PVE's /etc/pve/priv)
COMMIT_LOCK_TIMEOUT = 30.0
POLL = 0.1  # seconds between looks of a waiting watch

# named locks held by this thread, by (store directory, name): re-entrant across store objects
_HELD = threading.local()


def revision(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()  # content address, not a security use


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Replace ``path`` atomically (the caller fsyncs the directory)."""
    tmp = path.with_name(f".{path.name}{TMP_SUFFIX}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _flock(fd: int, op: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.0005  # short polls: a busy writer releases the lock only for moments
    while True:
        try:
            fcntl.flock(fd, op | fcntl.LOCK_NB)
            return
        except OSError as err:
            if err.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        if time.monotonic() >= deadline:
            raise LockError(f"cannot acquire {what} within {timeout:g} s: another change is in progress")
        time.sleep(delay)
        delay = min(delay * 2, 0.01)


class LocalStore:
    """A ``Store`` in a local directory (created on the first write)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._meta = self.root / META

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    # reading ---------------------------------------------------------------------------------

    def read(self, name: str) -> Document | None:
        return self.read_many([name])[name]

    def read_many(self, names: Iterable[str]) -> dict[str, Document | None]:
        wanted = [check_name(n, META) for n in names]
        if not (self._meta / "commit.lock").exists():
            # no commit has started yet; if one starts while we read, read again under the lock
            docs = {n: self._read_file(n) for n in wanted}
            if not (self._meta / "commit.lock").exists():
                return docs
        with self._commit_lock(shared=True):
            return {n: self._read_file(n) for n in wanted}

    def read_prefix(self, prefix: str) -> dict[str, Document]:
        docs = self.read_many(list(self.names(prefix)))
        return {n: d for n, d in docs.items() if d is not None}

    def _read_file(self, name: str) -> Document | None:
        try:
            data = (self.root / name).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except IsADirectoryError:
            return None
        return Document(name, data, revision(data))

    def names(self, prefix: str = "") -> Iterator[str]:
        if not self.root.is_dir():
            return iter(())
        found = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            rel = Path(dirpath).relative_to(self.root)
            if rel == Path("."):
                dirnames[:] = [d for d in dirnames if d != META]
            for fname in filenames:
                name = str(rel / fname) if rel != Path(".") else fname
                if not fname.endswith(TMP_SUFFIX) and name.startswith(prefix):
                    found.append(name)
        return iter(sorted(found))

    # writing ---------------------------------------------------------------------------------

    def commit(
        self, changes: Mapping[str, bytes | None], *, expect: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        changes = {check_name(n, META): d for n, d in changes.items()}
        expect = {check_name(n, META): r for n, r in (expect or {}).items()}
        self._ensure_meta()
        with self._commit_lock(shared=False):
            self._remove_temporaries()  # left by a writer killed during a single-document write
            self._check(expect)
            if len(changes) > 1:
                self._write_journal(changes)
            self._apply(changes)
            if len(changes) > 1:
                self._remove_journal()
        return {n: ABSENT if d is None else revision(d) for n, d in changes.items()}

    def _check(self, expect: Mapping[str, str]) -> None:
        for name, want in expect.items():
            doc = self._read_file(name)
            have = doc.revision if doc else ABSENT
            if have != want:
                state = "does not exist any more" if doc is None else "was changed by someone else"
                if want == ABSENT:
                    state = "exists already"
                raise ConflictError(
                    f"{name} {state} since it was read: reload and retry", key=name, value=want
                )

    def _apply(self, changes: Mapping[str, bytes | None]) -> None:
        dirs: set[Path] = set()
        for name, data in sorted(changes.items()):
            path = self.root / name
            if data is None:
                with suppress(FileNotFoundError):
                    path.unlink()
            else:
                self._make_dirs(path.parent)
                _write_file(path, data, 0o600 if PRIVATE in name.split("/")[:-1] else FILE_MODE)
            dirs.add(path.parent)
        for directory in sorted(dirs):
            with suppress(FileNotFoundError):
                _fsync_dir(directory)

    def _make_dirs(self, directory: Path) -> None:
        if directory.is_dir():
            return
        self._make_dirs(directory.parent)
        with suppress(FileExistsError):
            directory.mkdir(mode=0o700 if directory.name == PRIVATE else 0o755)
        _fsync_dir(directory.parent)

    def _ensure_meta(self) -> None:
        self._make_dirs(self._meta)
        lock = self._meta / "commit.lock"
        if not lock.exists():
            os.close(os.open(lock, os.O_WRONLY | os.O_CREAT, 0o600))
            _fsync_dir(self._meta)

    # journal ---------------------------------------------------------------------------------

    def _write_journal(self, changes: Mapping[str, bytes | None]) -> None:
        entries = {n: None if d is None else base64.b64encode(d).decode() for n, d in changes.items()}
        data = json.dumps({"format": 1, "changes": entries}, sort_keys=True).encode()
        _write_file(self._meta / "journal", data, 0o600)
        _fsync_dir(self._meta)  # the commit point

    def _remove_journal(self) -> None:
        (self._meta / "journal").unlink()
        _fsync_dir(self._meta)

    def _recover(self) -> None:
        """Replay a journal left by a killed writer, and drop stray temporary files."""
        journal = self._meta / "journal"
        if journal.exists():
            try:
                entries = json.loads(journal.read_bytes())["changes"]
                changes = {n: None if d is None else base64.b64decode(d) for n, d in entries.items()}
            except (ValueError, KeyError, TypeError) as err:
                raise InternalError(f"{journal} is unreadable ({err}); inspect it by hand") from err
            self._apply(changes)
            self._remove_journal()
        self._remove_temporaries()

    def _remove_temporaries(self) -> None:
        for path in self.root.rglob(f"*{TMP_SUFFIX}"):
            with suppress(FileNotFoundError):
                path.unlink()

    @contextmanager
    def _commit_lock(self, *, shared: bool) -> Iterator[None]:
        path = self._meta / "commit.lock"
        fd = os.open(path, os.O_RDONLY)
        try:
            what = f"the commit lock of {self.root}"
            _flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX, COMMIT_LOCK_TIMEOUT, what)
            if self._needs_recovery():
                if shared:  # replaying needs the exclusive lock
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    _flock(fd, fcntl.LOCK_EX, COMMIT_LOCK_TIMEOUT, what)
                self._recover()
            yield
        finally:
            os.close(fd)

    def _needs_recovery(self) -> bool:
        return (self._meta / "journal").exists()

    # named locks -----------------------------------------------------------------------------

    @contextmanager
    def lock(self, name: str = "sdn", timeout: float = 10.0) -> Iterator[None]:
        check_name(name)
        self._ensure_meta()
        held: dict[tuple[str, str], int] = _HELD.__dict__.setdefault("depth", {})
        key = (str(self._meta.resolve()), name)
        if held.get(key):
            held[key] += 1
            try:
                yield
            finally:
                held[key] -= 1
            return
        self._make_dirs(self._meta / "locks")
        fd = os.open(self._meta / "locks" / name, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _flock(fd, fcntl.LOCK_EX, timeout, f"the {name} lock of {self.root}")
            held[key] = 1
            try:
                yield
            finally:
                held[key] = 0
        finally:
            os.close(fd)

    # change notification and ephemeral documents ----------------------------------------------

    def watch(self, prefixes: Iterable[str]) -> LocalWatch:
        return LocalWatch(self, [check_prefix(p) for p in prefixes])

    def publish(self, name: str, data: bytes, ttl: float) -> LocalLease:
        check_name(name, META)
        self.commit({name: data})
        return LocalLease(self, name, data, ttl)

    def close(self) -> None:
        pass  # nothing held between calls

    def fingerprint(self, prefixes: Iterable[str]) -> tuple[tuple[str, int, int, int], ...]:
        """(name, inode, size, mtime) of every document under ``prefixes``: a commit changes it.

        Only the entries that can match are looked at (``.running-config`` stats files at the top,
        not the whole tree): the agents' watches call this ten times a second.
        """
        out: set[tuple[str, int, int, int]] = set()
        for prefix in sorted(set(prefixes)):
            folder, _, start = prefix.rpartition("/")
            top = self.root / folder
            try:
                entries = list(os.scandir(top))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in entries:
                name = f"{folder}/{entry.name}" if folder else entry.name
                if not entry.name.startswith(start) or (not folder and entry.name == META):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    out.update(self._tree_prints(Path(entry.path)))
                elif not entry.name.endswith(TMP_SUFFIX):
                    with suppress(FileNotFoundError):
                        st = entry.stat()
                        out.add((name, st.st_ino, st.st_size, st.st_mtime_ns))
        return tuple(sorted(out))

    def _tree_prints(self, top: Path) -> list[tuple[str, int, int, int]]:
        found = []
        for dirpath, _dirnames, filenames in os.walk(top):
            rel = Path(dirpath).relative_to(self.root)
            for fname in filenames:
                if not fname.endswith(TMP_SUFFIX):
                    with suppress(FileNotFoundError):
                        st = os.stat(Path(dirpath) / fname)
                        found.append((f"{rel}/{fname}", st.st_ino, st.st_size, st.st_mtime_ns))
        return found


def check_prefix(prefix: str) -> str:
    """A watch or listing prefix: a name, or the start of one, that stays inside the store."""
    if prefix and not prefix.endswith("/"):
        check_name(prefix)
    elif prefix:
        check_name(prefix.rstrip("/"))
    return prefix


class LocalWatch:
    """``Store.watch`` on a directory: compares fingerprints, polling while ``wait`` waits."""

    def __init__(self, store: LocalStore, prefixes: list[str]) -> None:
        self._store = store
        self._prefixes = prefixes or [""]
        self._seen = store.fingerprint(self._prefixes)

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            now = self._store.fingerprint(self._prefixes)
            if now != self._seen:
                self._seen = now
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            pause = POLL if deadline is None else min(POLL, max(0.0, deadline - time.monotonic()))
            time.sleep(pause)

    def close(self) -> None:
        pass

    def __enter__(self) -> LocalWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalLease:
    """``Store.publish`` on a directory: a plain document, deleted by ``close``."""

    def __init__(self, store: LocalStore, name: str, data: bytes, ttl: float) -> None:
        self._store = store
        self.name = name
        self.ttl = ttl
        self._data = data

    def refresh(self, data: bytes | Callable[[], bytes] | None = None) -> None:
        if data is not None:
            self._data = data = data() if callable(data) else data
            self._store.commit({self.name: data})
        elif self._store.read(self.name) is None:  # deleted by someone: there again
            self._store.commit({self.name: self._data})

    def close(self) -> None:
        self._store.commit({self.name: None})

    def __enter__(self) -> LocalLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
