"""One backup run: scan (pass 1) → read, chunk, hash, compress, encrypt in
parallel → pack and upload → trees (pass 2) → snapshot.

Threads: the calling thread scans and owns the state DB; ``readers`` read
and chunk files (one file each); ``workers`` hash, compress and encrypt
chunks (BLAKE3, zstd and AES-GCM release the GIL); the packer's ``upload``
threads send packs. Semaphores bound every queue, so memory stays flat
whatever the number of files."""

from __future__ import annotations

import json
import logging
import os
import queue
import socket
import stat
import threading
import time
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from .chunker import MIN_SIZE, iter_chunks
from .client import Client
from .config import Config
from .crypto import Keys, chunk_id, seal
from .errors import Interrupted, MissingChunks
from .packer import Packer, recover
from .progress import Progress
from .scanner import Excluder, Scanner, folder_of, nearest_dir
from .state import Entry, Journal, State, pack_ids
from .tree import TreeBuilder

logger = logging.getLogger(__name__)

CPUS = os.cpu_count() or 2
READERS = max(4, CPUS)
BATCH_FILES = 64
BATCH_BYTES = 4 * 1024 * 1024
READ_TRIES = 3
O_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


@dataclass
class Summary:
    snapshot: str = ""
    files: int = 0
    dirs: int = 0
    bytes: int = 0
    files_read: int = 0
    bytes_read: int = 0
    added_bytes: int = 0
    packs: int = 0
    skipped: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Read:
    entry: Entry | None          # the new row, or None: skipped
    problem: str = ""
    forget: bool = False         # drop the old row too (the file is gone or unreadable)


class Pipeline:
    """Changed files in, cache rows out; chunks go to the packer on the way."""

    def __init__(self, keys: Keys, state: State, packer: Packer, progress: Progress, stop: threading.Event):
        self.keys, self.state, self.packer, self.progress, self.stop = keys, state, packer, progress, stop
        self.readers = ThreadPoolExecutor(READERS, thread_name_prefix="read")
        self.workers = ThreadPoolExecutor(CPUS, thread_name_prefix="seal")
        self.chunk_slots = threading.BoundedSemaphore(2 * CPUS + 2)   # big files' chunks being sealed
        self.batch_slots = threading.BoundedSemaphore(4 * READERS)    # batches of files queued or read
        self.results: queue.SimpleQueue = queue.SimpleQueue()
        self.batch: list[tuple[str, Entry, Entry | None]] = []
        self.batch_bytes = 0
        self.outstanding = 0
        self.seen: set[str] = set()
        self.seen_lock = threading.Lock()
        self.tick = lambda: None  # called while waiting (checkpoints)
        self.files_read = 0
        self.bytes_read = 0
        self.skipped = 0
        self.warnings: list[str] = []

    def close(self) -> None:
        self.readers.shutdown(wait=True, cancel_futures=True)
        self.workers.shutdown(wait=True, cancel_futures=True)

    # --- the scanning thread's side -----------------------------------------------------
    def submit(self, directory: str, entry: Entry, before: Entry | None) -> None:
        """Queue a changed file. Files go to the readers in batches (one task per file
        would cost more in hand-offs than reading a small file does)."""
        if before is not None and before.chunks is not None and before.same_file(entry):
            self.state.put_entries(directory, [before._replace(mode=entry.mode)])
            return  # only the mode changed: no need to read
        self.batch.append((directory, entry, before))
        self.batch_bytes += entry.size
        if len(self.batch) >= BATCH_FILES or self.batch_bytes >= BATCH_BYTES:
            self._send()

    def _send(self) -> None:
        if not self.batch:
            return
        while not self.batch_slots.acquire(timeout=1.0):
            self.collect()
            self.tick()
        self.readers.submit(self._read_batch, self.batch)
        self.outstanding += 1
        self.batch, self.batch_bytes = [], 0
        self.collect()

    def finish(self) -> None:
        """Wait for every file in flight, writing rows (and checkpointing) as they come."""
        self._send()
        while self.outstanding:
            try:
                self._write(self.results.get(timeout=1.0))
            except queue.Empty:
                pass
            self.collect()
            self.tick()

    def collect(self) -> None:
        """Write the rows of the files read so far."""
        self.progress.tick()
        while True:
            try:
                done = self.results.get_nowait()
            except queue.Empty:
                return
            self._write(done)

    def _write(self, done) -> None:
        self.outstanding -= 1
        if isinstance(done, BaseException):
            raise done  # an AgentError (portal gone) ends the run here
        rows = []
        for directory, before, result in done:
            if result.entry is not None:
                rows.append((directory, result.entry))
                continue
            self.skipped += 1
            self.warnings.append(result.problem)
            logger.warning("%s", result.problem)
            if result.forget and before is not None:
                self.state.delete_entries(directory, [before.name])
        self.state.put_rows(rows)

    # --- reader threads ----------------------------------------------------------------
    def _read_batch(self, batch) -> None:
        try:
            out = [(directory, before, self._read_file(directory, entry)) for directory, entry, before in batch]
        except BaseException as exc:
            out = exc
        finally:
            self.batch_slots.release()
        self.results.put(out)

    def _read_file(self, directory: str, entry: Entry) -> _Read:
        path = os.path.join(directory, entry.name)
        for _ in range(READ_TRIES):
            try:
                fd = os.open(path, O_FLAGS)
            except FileNotFoundError:
                return _Read(None, f"skipped {path}: it was deleted", forget=True)
            except OSError as exc:
                return _Read(None, f"skipped {path}: {exc.strerror or exc}", forget=True)
            try:
                before = os.fstat(fd)
                if not stat.S_ISREG(before.st_mode):
                    return _Read(None, f"skipped {path}: no longer a regular file", forget=True)
                ids, size = self._chunks(fd, before.st_size)
                after = os.fstat(fd)
            except OSError as exc:
                return _Read(None, f"skipped {path}: {exc.strerror or exc}", forget=True)
            finally:
                os.close(fd)
            if ids is None:
                return _Read(None, f"stopped before reading {path}")
            if size == after.st_size and (before.st_size, before.st_mtime_ns, before.st_ctime_ns) == (
                    after.st_size, after.st_mtime_ns, after.st_ctime_ns):
                with self.seen_lock:
                    self.files_read += 1
                    self.bytes_read += size
                return _Read(Entry(entry.name, "file", stat.S_IMODE(before.st_mode), before.st_mtime_ns,
                                   before.st_ctime_ns, before.st_size, before.st_ino, pack_ids(ids)))
            logger.info("%s changed while it was read; reading it again", path)
        return _Read(None, f"skipped {path}: it kept changing while it was read; the previous version is kept")

    def _chunks(self, fd: int, size_hint: int) -> tuple[list[str] | None, int]:
        """The file's chunk ids (None: stopped) and how many bytes were read."""
        if size_hint <= MIN_SIZE:  # one chunk at most: read and seal it here, no hand-off
            data = os.read(fd, MIN_SIZE + 1)
            if len(data) < MIN_SIZE + 1 and (len(data) == size_hint or not os.read(fd, 1)):
                return ([self._seal_one(data)] if data else []), len(data)
            os.lseek(fd, 0, os.SEEK_SET)  # it grew: chunk it like a big file
        f = open(fd, "rb", buffering=0, closefd=False)
        futures, size = [], 0
        try:
            for data in iter_chunks(f, size_hint):
                if self.stop.is_set():
                    return None, size
                size += len(data)
                self.chunk_slots.acquire()
                futures.append(self.workers.submit(self._seal, data))
        finally:
            wait(futures)
        return [fu.result() for fu in futures], size

    # --- worker threads -----------------------------------------------------------------
    def _first_time(self, cid: str) -> bool:
        with self.seen_lock:
            if cid in self.seen:
                return False
            self.seen.add(cid)
            return True

    def _seal_one(self, data: bytes) -> str:
        cid = chunk_id(self.keys, data)
        if self._first_time(cid) and not self.state.is_known(cid):
            self.packer.add(cid, seal(self.keys, cid, data), len(data), "data")
        return cid

    def _seal(self, data: bytes) -> str:
        try:
            return self._seal_one(data)
        finally:
            self.chunk_slots.release()

    def emit_tree(self, tid: str, data: bytes) -> None:
        """From the scanning thread, which may look at this run's uncommitted known rows."""
        if self._first_time(tid) and not self.state.known_filter([tid]):
            self.packer.add(tid, seal(self.keys, tid, data), len(data), "tree")


class Backup:
    def __init__(self, *, home, config: Config, state: State, journal: Journal, client: Client, keys: Keys,
                 progress: Progress, stop: threading.Event, device_excludes: list[str] = ()):
        self.home, self.config, self.state, self.journal = home, config, state, journal
        self.client, self.keys, self.progress, self.stop = client, keys, progress, stop
        self.device_excludes = list(device_excludes)
        self.skip_unchanged = False

    def excluder(self, folder) -> Excluder:
        return Excluder(folder.path, [*folder.excludes, *self.device_excludes], also=[str(self.home)])

    def run(self, dirty: list[tuple[str, bool]] | None = None, *, skip_unchanged: bool = False) -> Summary:
        """One snapshot of every folder (``dirty``: only rescan those folders, reuse the rest;
        ``skip_unchanged``: commit no snapshot when the root tree is the last one's)."""
        self.skip_unchanged = skip_unchanged
        with _exclusive(self.home / "backup.lock"):
            return self._run_or_recheck(dirty)

    def _run_or_recheck(self, dirty) -> Summary:
        try:
            return self._run(dirty)
        except MissingChunks as exc:
            logger.warning("the portal lacks data this agent thought it had (%s); checking everything again", exc)
            self.state.begin()
            self.state.known_clear()
            self.state.db.execute("UPDATE entries SET chunks=NULL WHERE type='file'")
            self.state.commit()
            return self._run(None)

    def _run(self, dirty) -> Summary:
        started, clock = _now(), time.monotonic()
        self.state.begin()
        self.state.known_add(recover(self.client, self.journal))
        packer = Packer(self.client, self.journal, pack_size=self.config.pack_size,
                        threads=self.config.upload_threads)
        pipeline = Pipeline(self.keys, self.state, packer, self.progress, self.stop)
        self.progress.uploaded = lambda: packer.uploaded_bytes
        self.progress.counts = lambda: (pipeline.files_read, pipeline.bytes_read)
        checkpoints = _Checkpoints(self.config, self.state, packer, pipeline)
        pipeline.tick = checkpoints.maybe
        scanner = Scanner(self.state, pipeline.submit, self.stop, on_dir=checkpoints.maybe)
        try:
            self.progress.set_phase("scanning")
            self._scan(scanner, dirty)
            pipeline.finish()
            if self.stop.is_set():
                raise Interrupted()  # files were left half-read: no snapshot from this run
            checkpoints.now()
            self.progress.set_phase("trees")
            folders = [f.path for f in self.config.folders if os.path.isdir(f.path)]
            root, totals = TreeBuilder(self.state, self.keys, pipeline.emit_tree).root(folders)
            packer.flush()
            self.state.known_add(packer.take_known())
            skipped = scanner.stats.skipped + pipeline.skipped
            if self.skip_unchanged and root == self.state.meta_get("last_root") and not skipped:
                self.state.commit()
                return Summary(files=totals.files, dirs=totals.dirs, bytes=totals.bytes,
                               seconds=round(time.monotonic() - clock, 3))
            snapshot = self.client.snapshot_create({
                "root": root, "started_at": started, "finished_at": _now(), "paths": folders,
                "hostname": socket.gethostname(),
                "stats": {"files": totals.files, "dirs": totals.dirs, "bytes": totals.bytes,
                          "added_bytes": packer.uploaded_bytes, "skipped": skipped}})
            self.state.meta_set("last_root", root)
            self.state.meta_set("last_snapshot", json.dumps(snapshot))
            self.state.commit()
        except Interrupted:
            logger.info("stopping: finishing the packs in flight")
            pipeline.finish()
            checkpoints.now()
            self.state.commit()
            raise
        except BaseException:
            self.state.rollback()  # back to the last checkpoint: its rows only name indexed data
            raise
        finally:
            pipeline.close()
            packer.close()
        return Summary(snapshot=str(snapshot.get("id", "")), files=totals.files, dirs=totals.dirs,
                       bytes=totals.bytes, files_read=pipeline.files_read, bytes_read=pipeline.bytes_read,
                       added_bytes=packer.uploaded_bytes, packs=packer.packs, skipped=skipped,
                       seconds=round(time.monotonic() - clock, 3), warnings=pipeline.warnings[:100])

    def _scan(self, scanner: Scanner, dirty) -> None:
        folders = self.config.folders
        if dirty is None:
            for folder in folders:
                if not os.path.isdir(folder.path):
                    scanner.warn(folder.path, "the folder is missing; its last backup is kept")
                    continue
                scanner.scan(folder.path, self.excluder(folder))
            return
        by_path = {f.path: f for f in folders}
        done = set()
        for path, recursive in sorted(dirty):
            root = folder_of(path, list(by_path))
            if root is None or not os.path.isdir(root):
                continue
            start = nearest_dir(path, root)
            if (start, recursive) in done:
                continue
            done.add((start, recursive))
            excluder = self.excluder(by_path[root])
            if excluder.excluded_anywhere(start, True):
                continue
            scanner.refresh_entry(root, excluder, start)
            scanner.scan(root, excluder, start, recursive=recursive)


class _Checkpoints:
    """Every few minutes or packs: upload and index every chunk of the rows written so far
    (files still in flight have no row yet), then commit the cache — so a killed agent
    re-sends at most one checkpoint's worth and no row ever names unindexed data."""

    def __init__(self, config: Config, state: State, packer: Packer, pipeline: Pipeline):
        self.config, self.state, self.packer, self.pipeline = config, state, packer, pipeline
        self.last, self.packs = time.monotonic(), 0

    def maybe(self) -> None:
        self.pipeline.collect()
        if (time.monotonic() - self.last >= self.config.checkpoint_seconds
                or self.packer.packs - self.packs >= self.config.checkpoint_packs):
            self.now()

    def now(self) -> None:
        self.packer.flush()
        self.state.known_add(self.packer.take_known())
        self.state.checkpoint()
        self.last, self.packs = time.monotonic(), self.packer.packs
        logger.debug("checkpoint: %d packs so far", self.packs)


@contextmanager
def _exclusive(path):
    """One backup at a time per agent home (``backup`` beside ``run`` waits its turn)."""
    try:
        import fcntl
    except ImportError:  # Windows: the state DB's own locking has to do
        yield
        return
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.info("another backup of this agent is running; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()
