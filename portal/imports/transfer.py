"""Moving an import's files from the source into Coffer's store, before they
become versions (the runner's committer does that).

Each pending item gives exactly one result: ``StoredFile`` (its bytes are in
the store under a new key, with their SHA-256), ``Failed`` (this file's
fault: the source, its name, its size) or ``Down`` (the store stopped
answering: the run stops). Nothing here touches the database.

Copying many small files is CPU-bound in the S3 clients, and one Python
process uses one core: with PORTAL_IMPORT_PROCESSES > 1 the threads run in
that many forked processes (forked before any thread starts; each makes its
own S3 clients; each quits when its parent dies), results coming back
through a pipe.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import queue
import threading
from dataclasses import dataclass
from typing import Callable

from django.utils.translation import gettext

from portal.core.errors import PortalError, StorageUnavailable
from portal.files import names
from portal.files.services.batch import StoredFile
from portal.files.services.common import new_blob_key, refuse_too_large
from portal.imports.limits import TokenBucket, limited
from portal.storage import get_store

logger = logging.getLogger(__name__)
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Failed:
    tag: int
    message: str


@dataclass(frozen=True)
class Down:
    message: str


class _Hashing:
    """A readable that computes the SHA-256 of what is read through it."""

    def __init__(self, stream):
        self._stream, self._hash = stream, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._hash.update(data)
        return data

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def _refusal_before_transfer(target: str, size: int) -> str:
    """What file_put would refuse before any byte moves (a name, a size): no transfer for it."""
    try:
        if not names.split_path(target, existing=True):
            raise PortalError(gettext("The path must end with the file's name."), code="invalid_path")
        refuse_too_large(size)
    except PortalError as refused:
        return refused.message
    return ""


def forget(keys: list[str]) -> None:
    """Remove objects that will never be versions (best effort: the orphan sweep removes the rest)."""
    store = get_store()
    for key in keys:
        try:
            store.delete(key)
        except Exception:  # noqa: BLE001 - best effort, said in the log
            logger.warning("import: could not remove %s from the store", key, exc_info=True)


def fetch_one(source, target_of: Callable[[str], str], item: tuple, bucket: TokenBucket | None):
    """The item's bytes in the store under a new key: StoredFile, Failed or Down."""
    item_id, path, size, mtime = item
    target = target_of(path)
    problem = _refusal_before_transfer(target, size)
    if problem:
        return Failed(item_id, problem)
    store, key = get_store(), new_blob_key()
    try:
        with source.open(path) as stream:
            # One byte past the listed size is enough to refuse the file: a source sending gigabytes
            # more than it listed does not get them written to the store first.
            body = _Hashing(limited(stream, bucket, most=size + 1))
            stored = store.put(key, body)
    except StorageUnavailable as down:  # not this file's fault: it stays pending, and the run stops
        return Down(down.message)
    except Exception as exc:  # noqa: BLE001 - one file's failure (the source, the network) is that file's
        logger.warning("import: %s failed: %r", path, exc)
        forget([key])
        return Failed(item_id, f"{type(exc).__name__}: {exc}")
    if stored != size:
        forget([key])
        return Failed(item_id, gettext("The file arrived incomplete; send it again."))
    return StoredFile(tag=item_id, path=target, key=key, size=size, sha256=body.hexdigest(), modified_at=mtime)


class Transfers:
    """``threads`` transfer threads over ``processes`` processes (1: this one).
    ``put`` an item (queue.Full after ``timeout``), ``results`` yields one
    result per item; after ``finish`` it yields None once everything is in."""

    def __init__(self, *, source, target_of, threads: int, processes: int, bytes_per_second: int | None,
                 stop: threading.Event):
        self._source, self._target_of, self._stop = source, target_of, stop
        self._processes = max(1, min(processes, threads))
        self._threads = threads
        self._rate = bytes_per_second
        self._runners: list = []

    def start(self) -> None:
        """Start the transfer threads (or processes: before any other thread of this run starts)."""
        if self._processes > 1:
            try:
                self._start_processes()
                return
            except (AssertionError, OSError) as refused:  # e.g. a daemonic worker may not fork children
                logger.warning("import: no transfer processes (%s); threads in this process instead", refused)
                self._stop_started()
                self._processes = 1
        self._work, self.results = queue.Queue(maxsize=self._threads * 4), queue.Queue(maxsize=self._threads * 64)
        self._event = self._stop
        bucket = TokenBucket(self._rate) if self._rate else None
        self._runners = [threading.Thread(target=self._serve, args=(bucket,), daemon=True,
                                          name=f"import-transfer-{n}") for n in range(self._threads)]
        for runner in self._runners:
            runner.start()

    def _start_processes(self) -> None:
        fork = multiprocessing.get_context("fork")
        self._work, self.results = fork.Queue(maxsize=self._threads * 4), fork.Queue(maxsize=self._threads * 64)
        self._event = fork.Event()
        per_process = [self._threads // self._processes + (n < self._threads % self._processes)
                       for n in range(self._processes)]
        self._runners = [fork.Process(target=self._process_main, args=(count, os.getpid()), daemon=False,
                                      name=f"import-transfer-{n}") for n, count in enumerate(per_process)]
        for runner in self._runners:
            runner.start()

    def _stop_started(self) -> None:
        self._event.set()
        for runner in self._runners:
            if runner.is_alive():
                runner.join(POLL_SECONDS * 3)
        self._runners = []

    def put(self, item: tuple, timeout: float) -> None:
        self._work.put(item, timeout=timeout)

    def alive(self) -> bool:
        return any(runner.is_alive() for runner in self._runners)

    def finish(self, wait: Callable[[object], None]) -> None:
        """No more items: the runners end (early, dropping what is queued, once stop is set);
        ``wait(runner)`` waits for each. Then the results end with None."""
        if self._stop.is_set():
            self._event.set()
        for _ in range(self._threads):
            try:
                self._work.put(None, timeout=POLL_SECONDS)
            except queue.Full:  # stopping: the runners see the event instead
                self._event.set()
        for runner in self._runners:
            wait(runner)
        if self._processes > 1:
            self._work.cancel_join_thread()  # items nobody will take must not keep this process alive
        self.results.put(None)

    # --- the runners' side ---------------------------------------------------------------
    def _serve(self, bucket: TokenBucket | None, parent: int | None = None) -> None:
        while not self._event.is_set() and not self._stop.is_set():
            try:
                item = self._work.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if parent is not None and os.getppid() != parent:  # the run's process died: so do we
                    return
                continue
            if item is None:
                return
            self.results.put(fetch_one(self._source, self._target_of, item, bucket))

    def _process_main(self, count: int, parent: int) -> None:
        rate = self._rate // self._processes if self._rate else None
        bucket = TokenBucket(rate) if rate else None
        threads = [threading.Thread(target=self._serve, args=(bucket, parent), daemon=True) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
