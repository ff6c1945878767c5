"""Packs: sealed blobs gathered into ~16 MiB objects, uploaded straight to
object storage through presigned URLs by a few threads, then indexed.

Crash order per pack: create (the portal names it) → journal → PUT → index →
journal entry removed. The index call runs on its own small pool, so the
upload thread moves on to the next pack meanwhile. Before a pack is sealed
the portal is asked, in one batch, which of its chunks it already has
(another device may have sent them); those are dropped."""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait

from .client import Client
from .errors import PortalRefused
from .state import Journal

logger = logging.getLogger(__name__)

MAX_BLOBS = 10_000  # the portal indexes at most this many chunks per pack


class _Blob:
    __slots__ = ("cid", "data", "raw_length", "kind", "asked")

    def __init__(self, cid: str, data: bytes, raw_length: int, kind: str):
        self.cid, self.data, self.raw_length, self.kind, self.asked = cid, data, raw_length, kind, False


class Packer:
    def __init__(self, client: Client, journal: Journal, *, pack_size: int, threads: int = 4):
        self.client = client
        self.journal = journal
        self.pack_size = pack_size
        self.lock = threading.Lock()
        self.buffer: list[_Blob] = []
        self.buffered = 0
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="upload")
        # Index calls run beside the uploads: a PUT's thread (and its pack's memory) is free for
        # the next pack while the portal registers the last one.
        self.index_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="index")
        self.slots = threading.BoundedSemaphore(threads + 1)  # packs in memory waiting or uploading
        self.futures: list[Future] = []
        self.seal_lock = threading.Lock()  # a batch taken out of the buffer is handed to an upload under it
        self.error: BaseException | None = None
        self.new_known: list[str] = []   # drained by the backup thread into the state DB
        self.packs = 0
        self.uploaded_bytes = 0

    def add(self, cid: str, data: bytes, raw_length: int, kind: str = "data") -> None:
        """Queue one sealed blob (from any thread); may block while uploads catch up."""
        if self.error:
            raise self.error
        with self.lock:
            self.buffer.append(_Blob(cid, data, raw_length, kind))
            self.buffered += len(data)
            if self.buffered < self.pack_size and len(self.buffer) < MAX_BLOBS:
                return
        with self.seal_lock:
            with self.lock:
                if self.buffered < self.pack_size and len(self.buffer) < MAX_BLOBS:
                    return  # another thread sealed it meanwhile
                batch, self.buffer, self.buffered = self.buffer, [], 0
            self._seal(batch, final=False)

    def _seal(self, batch: list[_Blob], *, final: bool) -> None:
        unasked = [b.cid for b in batch if not b.asked]
        known = self.client.known(unasked) if unasked else set()
        keep = []
        for blob in batch:
            blob.asked = True
            if blob.cid not in known:
                keep.append(blob)
        with self.lock:
            self.new_known.extend(known)
            size = sum(len(b.data) for b in keep)
            if not final and size < self.pack_size // 2 and len(keep) < MAX_BLOBS // 2:  # mostly known: keep filling
                self.buffer[:0] = keep
                self.buffered += size
                return
        for start in range(0, len(keep), MAX_BLOBS):
            self.slots.acquire()
            future = self.pool.submit(self._upload, keep[start:start + MAX_BLOBS])
            with self.lock:
                self.futures.append(future)

    def _upload(self, blobs: list[_Blob]) -> Future:
        """Announce and PUT one pack; the future of its index call."""
        try:
            index, offset = [], 0
            for b in blobs:
                index.append({"id": b.cid, "offset": offset, "length": len(b.data),
                              "raw_length": b.raw_length, "kind": b.kind})
                offset += len(b.data)
            data = b"".join(b.data for b in blobs)
            blobs.clear()
            created = self.client.pack_create(len(data))
            pack_id = created["pack_id"]
            self.journal.pack_started(pack_id, len(data), json.dumps(index))
            self.client.put_object(created["url"], data, created.get("headers"))
            return self.index_pool.submit(self._index, pack_id, index, len(data))
        except BaseException as exc:
            self.error = self.error or exc
            raise
        finally:
            self.slots.release()

    def _index(self, pack_id: str, index: list[dict], size: int) -> None:
        try:
            self.client.pack_index(pack_id, index)
            self.journal.pack_done(pack_id)
            with self.lock:
                self.new_known.extend(c["id"] for c in index)
                self.packs += 1
                self.uploaded_bytes += size
            logger.debug("pack %s: %d chunks, %d bytes", pack_id, len(index), size)
        except BaseException as exc:
            self.error = self.error or exc
            raise

    def flush(self) -> None:
        """Seal what is buffered and wait until every pack holding a blob added before
        this call is uploaded and indexed (other threads may go on adding)."""
        if self.error:
            raise self.error
        with self.seal_lock:  # batches other threads took out are submitted by now
            with self.lock:
                batch, self.buffer, self.buffered = self.buffer, [], 0
            if batch:
                self._seal(batch, final=True)
            with self.lock:
                futures, self.futures = self.futures, []
        wait(futures)
        wait([f.result() for f in futures if not f.exception()])  # their index calls
        if self.error:
            raise self.error

    def take_known(self) -> list[str]:
        with self.lock:
            ids, self.new_known = self.new_known, []
        return ids

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.index_pool.shutdown(wait=True, cancel_futures=True)


def recover(client: Client, journal: Journal) -> list[str]:
    """Index packs a killed run uploaded but did not register; their chunk ids.
    A pack whose object never arrived (409) is forgotten: its chunks are simply sent again."""
    known: list[str] = []
    for pack_id, _size, chunks_json in journal.packs_pending():
        chunks = json.loads(chunks_json)
        try:
            client.pack_index(pack_id, chunks)
        except PortalRefused as exc:
            logger.info("pack %s from an interrupted run is not in the store (%s); its chunks will be re-sent",
                        pack_id, exc)
        else:
            logger.info("registered pack %s from an interrupted run", pack_id)
            known.extend(c["id"] for c in chunks)
        journal.pack_done(pack_id)
    return known
