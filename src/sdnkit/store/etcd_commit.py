"""One commit of the etcd store: its chunks, one transaction, and the retries that decide it.

``Commit.run`` writes the new chunks that do not fit into the transaction first, then sends the
transaction (compares: the expected heads' mod_revisions, the sweep epoch when chunked heads
are written, the create revision of the locks this thread holds; puts: heads and new chunks).
A lost answer is settled by looking for the commit's nonce in the heads; a refused compare is
a ``ConflictError`` (an expected document changed), a ``LockError`` (a held lock was lost), or a
retry (a sweep ran: the chunks are written again).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sdnkit.errors import ConflictError, LockError, StoreError
from sdnkit.store import chunks as layout
from sdnkit.store.base import ABSENT
from sdnkit.store.etcd_client import (
    Ambiguous,
    cmp_create,
    cmp_mod,
    kvs,
    op_delete,
    op_put,
    op_range,
    revision_of,
    unb64,
)

if TYPE_CHECKING:
    from sdnkit.store.etcd import EtcdStore

__all__ = ["TXN_BYTES", "Commit", "encode"]

TXN_BYTES = 1 << 20  # a transaction's payload stays below this (etcd refuses requests over 1.5 MiB)


class Commit:
    """One ``EtcdStore.commit``: chunks, then the transaction, retried until it is decided."""

    def __init__(
        self, store: EtcdStore, heads: dict[str, bytes | None], chunks: dict[str, bytes],
        expect: dict[str, int], locks: list[tuple[bytes, int]], lease: int, nonce: str,
    ) -> None:  # fmt: skip
        self.store, self.heads, self.chunks, self.expect = store, heads, chunks, expect
        self.locks, self.lease, self.nonce = locks, lease, nonce
        self.maybe_applied = False

    def run(self) -> dict[str, str]:
        deadline = time.monotonic() + self.store.settings.retry_for
        while True:
            epoch, along = self._chunks_first()
            try:
                answer = self.store.txn(self._body(epoch, along), idempotent=False)
            except Ambiguous:
                self.maybe_applied = True
                landed = self._landed()
                if landed is not None:
                    return landed
                if time.monotonic() > deadline:
                    raise
                continue
            if answer.get("succeeded"):
                self.store.wrote_chunks(epoch, self.chunks, along)
                self.store.after_commit()
                return self._revisions(revision_of(answer))
            landed = self._refused(answer, epoch)
            if landed is not None:
                return landed
            if time.monotonic() > deadline:
                raise StoreError(f"etcd {self.store.settings.url()}: a commit kept being refused")

    def _chunks_first(self) -> tuple[int, list[str]]:
        """Write the new chunks that do not fit into the commit's transaction; the sweep epoch
        they are safe under and the new chunks that go along in the transaction itself."""
        if not self.chunks:
            return -1, []
        epoch, missing = self.store.missing_chunks(self.chunks)
        room = TXN_BYTES - sum(len(h) for h in self.heads.values() if h is not None)
        slots = self.store.settings.max_txn_ops - len(self.heads) - 2
        along: list[str] = []
        for sha in sorted(missing, key=lambda c: len(self.chunks[c])):
            if len(along) < slots and len(self.chunks[sha]) <= room:
                along.append(sha)
                room -= len(self.chunks[sha])
        before = [sha for sha in missing if sha not in along]
        if before:
            self.store.write_chunks(self.chunks, before)
            self.store.wrote_chunks(epoch, self.chunks, before)
        return epoch, along

    def _body(self, epoch: int, along: list[str]) -> dict[str, Any]:
        s = self.store
        compare = [cmp_mod(s.doc_key(n), r) for n, r in self.expect.items()]
        compare += [cmp_create(k, r) for k, r in self.locks]
        success: list[dict[str, Any]] = []
        for name, head in self.heads.items():
            success.append(
                op_delete(s.doc_key(name)) if head is None else op_put(s.doc_key(name), head, self.lease)
            )
        success += [s.blob_put(sha, self.chunks[sha]) for sha in along]  # new chunks: with the heads
        if epoch >= 0:
            compare.append(cmp_mod(s.epoch_key, epoch))
            success.append(op_put(s.refs_key, self.nonce.encode()))
        failure = [op_range(s.doc_key(n), keys_only=True) for n in self.expect]
        failure += [op_range(k, keys_only=True) for k, _ in self.locks]
        failure.append(op_range(s.epoch_key, keys_only=True))
        return {"compare": compare, "success": success, "failure": failure}

    def _revisions(self, revision: int) -> dict[str, str]:
        return {n: ABSENT if h is None else str(revision) for n, h in self.heads.items()}

    def _refused(self, answer: Mapping[str, Any], epoch: int) -> dict[str, str] | None:
        """Why the compare failed: raise for a conflict or a lost lock; None: try again; or the
        revisions of this very commit, found in the store after an earlier answer was lost."""
        responses = answer.get("responses") or []
        now_epoch = _mod(kvs(responses[-1]))
        if epoch >= 0 and now_epoch != epoch:
            self.store.forget_chunks(now_epoch)  # a sweep ran: write the chunks again
            return None
        for (key, created), resp in zip(self.locks, responses[len(self.expect) :], strict=False):
            found = kvs(resp)
            if not found or int(found[0].get("create_revision", 0)) != created:
                name = key.decode().rsplit("/", 2)[-2]
                raise LockError(f'the "{name}" lock was lost (its lease expired): nothing was written')
        if self.maybe_applied:
            landed = self._landed()
            if landed is not None:
                return landed
        for (name, want), resp in zip(self.expect.items(), responses, strict=False):
            have = _mod(kvs(resp))
            if have != want:
                raise ConflictError(_conflict_text(name, want, have), key=name, value=str(want or ABSENT))
        return None  # a lock or the epoch moved and came back: try again

    def _landed(self) -> dict[str, str] | None:
        """After a lost answer: the new revisions if this commit is in the store, else None."""
        names = list(self.heads)
        docs_heads, _, _ = self.store.read_heads(names)
        puts = [n for n, h in self.heads.items() if h is not None]
        for name in puts:
            kv = docs_heads.get(name)
            if kv is not None and layout.decode_head(name, unb64(kv.get("value"))).nonce == self.nonce:
                return self._revisions(int(kv["mod_revision"]))
        if not puts and all(n not in docs_heads for n in names):
            return self._revisions(0)  # deleting only, and all are gone
        return None


def _mod(found: list[dict[str, Any]]) -> int:
    return int(found[0].get("mod_revision", 0)) if found else 0


def _conflict_text(name: str, want: int, have: int) -> str:
    if want == 0:
        state = "exists already"
    elif have == 0:
        state = "does not exist any more"
    else:
        state = "was changed by someone else"
    return f"{name} {state} since it was read: reload and retry"


def encode(
    changes: Mapping[str, bytes | None], nonce: str
) -> tuple[dict[str, bytes | None], dict[str, bytes]]:
    """Heads for every change, and the chunks the chunked ones refer to."""
    heads: dict[str, bytes | None] = {}
    chunks: dict[str, bytes] = {}
    inline_total = 0
    # the biggest documents are chunked first when the inline ones would make the request too big
    for name, data in sorted(changes.items(), key=lambda item: len(item[1] or b"")):
        if data is None:
            heads[name] = None
            continue
        if len(data) <= layout.INLINE_MAX and inline_total + len(data) <= TXN_BYTES // 2:
            inline_total += len(data)
            heads[name] = layout.encode_head(layout.Head(nonce=nonce, data=data))
            continue
        parts = layout.split(data)
        shas = tuple(layout.sha256(p) for p in parts)
        chunks.update(zip(shas, parts, strict=True))
        head = layout.Head(nonce=nonce, size=len(data), digest=layout.sha256(data), chunks=shas)
        heads[name] = layout.encode_head(head)
    return heads, chunks
