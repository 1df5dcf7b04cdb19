"""``Store.watch`` and ``Store.publish`` on etcd: a watch stream that survives members, leased documents.

``EtcdWatch`` runs one thread with one ``/v3/watch`` stream over the heads of the watched
prefixes. It remembers the revision after the last event it saw and, when the stream breaks
(the member died or lost its leader: the stream asks the member to end it then), opens a new one
on the next member from there, so no change is missed. If etcd compacted that revision away,
``wait`` reports a change (the caller rereads, which is always right).

``EtcdLease`` attaches a document's head to a lease of ``ttl`` seconds; ``refresh`` renews it
(and rewrites the content if given); when the holder stops refreshing, etcd deletes the document
after the TTL, and watchers see the deletion.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sdnkit.errors import StoreError
from sdnkit.store.etcd_client import NOT_FOUND, GrpcError, b64, op_range, prefix_end, revision_of, unb64

if TYPE_CHECKING:
    from sdnkit.store.etcd import EtcdStore

__all__ = ["EtcdLease", "EtcdWatch"]

log = logging.getLogger(__name__)

READ_TIMEOUT = 15.0  # a silent stream is reopened after this (a member that hangs without closing)
RECONNECT_PAUSE = (0.05, 1.0)


class EtcdWatch:
    """Change notification for documents under some prefixes (see the module docstring)."""

    def __init__(self, store: EtcdStore, prefixes: list[str]) -> None:
        self._store = store
        keys = [store.doc_key(p) for p in (prefixes or [""])]
        self._keys = tuple(keys)
        self._start = min(keys)
        self._end = max(prefix_end(k) for k in keys)
        answer = store.txn({"success": [op_range(self._start, end=self._end, keys_only=True, limit=1)]})
        self._next = revision_of(answer) + 1  # every change after the opening counts
        self._changed = False
        self._closed = False
        self._cond = threading.Condition()
        self._stream: Any = None
        self._thread = threading.Thread(target=self._run, name="sdnkit-etcd-watch", daemon=True)
        self._thread.start()

    # -- the caller's side ---------------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> bool:
        with self._cond:
            if not self._changed and not self._closed:
                self._cond.wait_for(lambda: self._changed or self._closed, timeout)
            changed, self._changed = self._changed, False
            return changed

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        stream = self._stream
        if stream is not None:
            stream.abort()
        self._thread.join(timeout=5)

    def __enter__(self) -> EtcdWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the thread ----------------------------------------------------------------------------

    def _signal(self) -> None:
        with self._cond:
            self._changed = True
            self._cond.notify_all()

    def _run(self) -> None:
        pause = RECONNECT_PAUSE[0]
        while not self._closed:
            try:
                self._follow()
                pause = RECONNECT_PAUSE[0]
            except (StoreError, OSError, ValueError) as err:
                log.debug("etcd watch broke, reopening from revision %d: %s", self._next, err)
            except Exception as err:  # the stream's transport errors (httpx) included: reopen
                log.debug("etcd watch broke, reopening from revision %d: %s", self._next, err)
            if self._closed:
                return
            time.sleep(pause)
            pause = min(pause * 2, RECONNECT_PAUSE[1])

    def _follow(self) -> None:
        body = {"create_request": {
            "key": b64(self._start), "range_end": b64(self._end), "start_revision": str(self._next),
            "progress_notify": True,
        }}  # fmt: skip
        client = self._store.client
        endpoint = client.current_endpoint()
        try:
            stream = client.watch_stream(body, READ_TIMEOUT)
        except Exception:
            client.rotate_from(endpoint)  # unreachable or refusing: the next member
            raise
        self._stream = stream
        try:
            if self._closed:
                return
            for message in stream:
                self._handle(message.get("result") or {}, message)
                if self._closed:
                    return
        finally:
            self._stream = None
            stream.close()
        client.rotate_from(stream.endpoint)  # the member ended the stream: try another one

    def _handle(self, result: Mapping[str, Any], message: Mapping[str, Any]) -> None:
        if "error" in message:
            raise StoreError(f"etcd watch: {message['error']}")
        compacted = int(result.get("compact_revision") or 0)
        if compacted:
            # the events since our revision are gone: report a change, go on from what is left
            self._next = max(self._next, compacted)
            self._signal()
            raise StoreError(f"etcd watch: revision {self._next} was compacted")
        if result.get("canceled"):
            raise StoreError(f"etcd watch canceled: {result.get('cancel_reason', '')}")
        events = result.get("events") or []
        if events:
            if any(unb64(e["kv"]["key"]).startswith(self._keys) for e in events):
                self._signal()
            self._next = max(self._next, *(int(e["kv"]["mod_revision"]) + 1 for e in events))
        elif not result.get("created") and "header" in result:
            # a progress notification: every event up to this revision was sent
            self._next = max(self._next, int(result["header"]["revision"]) + 1)


class EtcdLease:
    """A document attached to an etcd lease of ``ttl`` seconds (``Store.publish``)."""

    def __init__(self, store: EtcdStore, name: str, data: bytes, ttl: float) -> None:
        self._store = store
        self.name = name
        self.ttl = ttl
        self._data = data
        self._lock = threading.Lock()
        self._id = 0
        self._grant_and_write()

    def _grant_and_write(self) -> None:
        answer = self._store.client.call("lease/grant", {"TTL": str(max(1, math.ceil(self.ttl)))})
        self._id = int(answer["ID"])
        self._store.write({self.name: self._data}, lease=self._id)

    def refresh(self, data: bytes | Callable[[], bytes] | None = None) -> None:
        with self._lock:
            answer = self._store.client.call("lease/keepalive", {"ID": str(self._id)})
            if data is not None:
                self._data = data() if callable(data) else data  # as of now, after the wait
            if int((answer.get("result") or {}).get("TTL") or 0) <= 0:
                self._grant_and_write()  # it had expired (the holder paused too long): publish again
                return
            if data is not None:
                try:
                    self._store.write({self.name: self._data}, lease=self._id)
                except GrpcError as err:
                    if err.code != NOT_FOUND:
                        raise
                    self._grant_and_write()  # expired between the keep-alive and the write

    def close(self) -> None:
        with self._lock:
            lease, self._id = self._id, 0
        if lease:
            try:
                self._store.client.call("lease/revoke", {"ID": str(lease)})  # deletes the document
            except GrpcError as err:
                if err.code != NOT_FOUND:
                    raise

    def __enter__(self) -> EtcdLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
