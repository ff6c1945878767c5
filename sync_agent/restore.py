"""Reading a backup: snapshots, trees and chunks through the portal's index
and presigned pack URLs; ``ls`` and ``restore`` (contents, modes, mtimes,
symlinks, empty folders)."""

from __future__ import annotations

import logging
import os
import stat
import threading
from collections import OrderedDict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from . import tree as trees
from .client import Client
from .crypto import Keys, unseal
from .errors import IntegrityError, PathNotInSnapshot, RestoreFailed, SnapshotNotFound

logger = logging.getLogger(__name__)

LOCATE_BATCH = 2000
TREE_CACHE = 256
RANGE_BLOBS = 8              # blobs of one file per request
RANGE_BYTES = 12 * 1024 * 1024
PREFETCH = 3                 # a big file's ranges in flight beyond the one being written
GROUP_GAP = 256 * 1024       # small files' blobs this close in a pack are read with one request
FETCHERS = 8
JOBS_IN_FLIGHT = 1024       # restore jobs queued or running
FD_CALLS = hasattr(os, "fchmod") and os.utime in os.supports_fd


class Repository:
    """The read side of the backup, as the portal exposes it to this device."""

    def __init__(self, client: Client, keys: Keys, keyring: dict[str, Keys] | None = None):
        self.client, self.keys = client, keys
        self.keyring = keyring or {}  # key set id -> keys: each located chunk names its set
        self.locations: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.trees: OrderedDict[str, list[dict]] = OrderedDict()
        self.fetcher = ThreadPoolExecutor(FETCHERS, thread_name_prefix="fetch")

    def snapshot(self, ref: str) -> dict:
        """``latest``, an id, or a unique prefix of one."""
        snaps = self.client.snapshots()
        if not snaps:
            raise SnapshotNotFound(ref)
        if ref == "latest":
            return max(snaps, key=lambda s: s.get("finished_at") or s.get("started_at") or "")
        exact = [s for s in snaps if str(s["id"]) == ref]
        matches = exact or [s for s in snaps if str(s["id"]).startswith(ref)]
        if len(matches) != 1:
            raise SnapshotNotFound(ref)
        return matches[0]

    def locate(self, ids: list[str]) -> None:
        wanted = [i for i in dict.fromkeys(ids) if i not in self.locations]
        for start in range(0, len(wanted), LOCATE_BATCH):
            found, missing = self.client.locate(wanted[start:start + LOCATE_BATCH])
            if missing:
                raise IntegrityError(f"{len(missing)} chunks are not in the portal's index (e.g. {missing[0][:12]})")
            with self.lock:
                if len(self.locations) > 200_000:
                    self.locations.clear()  # bounded memory; presigned URLs expire anyway
                self.locations.update(found)

    def blob(self, cid: str) -> bytes:
        if cid not in self.locations:
            self.locate([cid])
        where = self.locations[cid]
        return unseal(self.keys_for(where), cid, self.client.get_range(where["url"], where["offset"],
                                                                       where["length"]))

    def keys_for(self, where: dict) -> Keys:
        """The keys a located chunk is sealed with (older snapshots: an earlier key set)."""
        keys = self.keyring.get(where.get("key_set"))
        if keys is None and where.get("key_set") and "" in self.keyring:
            keys = self.keyring[""]  # held since before key sets had ids: the deployment's old set
        return keys or self.keys

    def close(self) -> None:
        self.fetcher.shutdown(wait=True, cancel_futures=True)

    def tree(self, tid: str) -> list[dict]:
        cached = self.trees.get(tid)
        if cached is None:
            cached = trees.decode(self.blob(tid))
            self.trees[tid] = cached
            if len(self.trees) > TREE_CACHE:
                self.trees.popitem(last=False)
        return cached

    def _ranges(self, ids: list[str]) -> list[tuple[list[str], str, int, int]]:
        """``ids`` in runs of neighbouring blobs of one pack: (ids, url, offset, length) each."""
        out, i = [], 0
        while i < len(ids):
            first = self.locations[ids[i]]
            j, end = i + 1, first["offset"] + first["length"]
            while j < len(ids) and j - i < RANGE_BLOBS and end - first["offset"] < RANGE_BYTES:
                nxt = self.locations[ids[j]]
                if nxt["pack_id"] != first["pack_id"] or nxt["offset"] != end:
                    break
                end += nxt["length"]
                j += 1
            out.append((ids[i:j], first["url"], first["offset"], end - first["offset"]))
            i = j
        return out

    def _fetch(self, ids: list[str], url: str, offset: int, length: int) -> list[bytes]:
        data, pos, out = self.client.get_range(url, offset, length), 0, []
        for cid in ids:
            n = self.locations[cid]["length"]
            out.append(unseal(self.keys_for(self.locations[cid]), cid, data[pos:pos + n]))
            pos += n
        return out

    def file_data(self, ids: list[str]):
        """A file's plaintext, chunk by chunk; neighbouring blobs of one pack come in one
        request, and a big file's next ranges are fetched and opened while this one is written."""
        self.locate(ids)
        ranges = self._ranges(ids)
        if len(ranges) == 1:
            yield from self._fetch(*ranges[0])
            return
        ahead: deque[Future] = deque()
        try:
            for r in ranges:
                ahead.append(self.fetcher.submit(self._fetch, *r))
                if len(ahead) > PREFETCH:
                    yield from ahead.popleft().result()
            while ahead:
                yield from ahead.popleft().result()
        finally:
            for future in ahead:
                future.cancel()

    def small_groups(self, entries: list[dict]) -> list[list[dict]]:
        """One-chunk files in groups whose blobs sit close together in one pack (read with one
        request, as restic reads a pack once); files of several chunks, or not located, alone."""
        singles, rest = [], []
        for e in entries:
            chunks = e.get("chunks") or []
            (singles if len(chunks) == 1 and chunks[0] in self.locations else rest).append(e)
        singles.sort(key=lambda e: (self.locations[e["chunks"][0]]["pack_id"], self.locations[e["chunks"][0]]["offset"]))
        groups: list[list[dict]] = []
        start = end = 0
        pack = None
        for e in singles:
            where = self.locations[e["chunks"][0]]
            if (groups and where["pack_id"] == pack and where["offset"] - end <= GROUP_GAP
                    and where["offset"] + where["length"] - start <= RANGE_BYTES):
                groups[-1].append(e)
                end = max(end, where["offset"] + where["length"])
                continue
            groups.append([e])
            pack, start, end = where["pack_id"], where["offset"], where["offset"] + where["length"]
        return groups + [[e] for e in rest]

    def group_data(self, group: list[dict]) -> dict[str, bytes]:
        """The plaintexts of a group's one chunk each (one request for the whole span)."""
        wheres = [self.locations[e["chunks"][0]] for e in group]
        start = min(w["offset"] for w in wheres)
        end = max(w["offset"] + w["length"] for w in wheres)
        data = self.client.get_range(wheres[0]["url"], start, end - start)
        out = {}
        for e, w in zip(group, wheres, strict=True):
            cid = e["chunks"][0]
            out[cid] = unseal(self.keys_for(w), cid, data[w["offset"] - start:w["offset"] - start + w["length"]])
        return out

    def resolve(self, root: str, path: str) -> dict:
        """The tree entry at ``path`` ('/' is the snapshot's root)."""
        node = {"name": "", "type": "dir", "mode": 0o755, "mtime_ns": 0, "tree": root}
        walked = "/"
        for part in PurePosixPath("/" + path.replace(os.sep, "/").strip("/")).parts[1:]:
            if node["type"] != "dir":
                raise PathNotInSnapshot(path)
            entries = self.tree(node["tree"])
            trees.check_entries(entries, walked)
            node = next((e for e in entries if e["name"] == part), None)
            walked = f"{walked.rstrip('/')}/{part}"
            if node is None:
                raise PathNotInSnapshot(path)
        return node


@dataclass
class RestoreStats:
    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    bytes: int = 0
    unchanged: int = 0
    errors: int = 0


class Restorer:
    def __init__(self, repo: Repository, overwrite: str = "if-changed", threads: int = 8):
        self.repo, self.overwrite = repo, overwrite
        self.stats = RestoreStats()
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="restore")
        self.lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(JOBS_IN_FLIGHT)
        self.jobs: list = []
        self.finishers: list = []

    def restore(self, root: str, path: str, target: Path) -> RestoreStats:
        node = self.repo.resolve(root, path)
        target.mkdir(parents=True, exist_ok=True)
        self.target = target
        try:
            if not node["name"]:  # the whole snapshot: full paths below the target, like restic
                self._dir_contents(node["tree"], target)
            else:
                self._entry(node, target / node["name"])
            self._wait()
        finally:
            self.pool.shutdown(wait=True)
            self.repo.close()
        if self.stats.errors:
            raise RestoreFailed(f"{self.stats.errors} entries could not be restored (see the warnings)")
        return self.stats

    def _entry(self, e: dict, dest: Path) -> None:
        if e["type"] == "dir":
            self._dir(e, dest)
        elif e["type"] == "symlink":
            self._symlink(e, dest)
        else:
            self._file(e, dest)

    def _dir(self, e: dict, dest: Path) -> None:
        if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
            if self.overwrite == "never":
                return self._warn(dest, "exists and is not a folder")
            dest.unlink()
        dest.mkdir(exist_ok=True)
        os.chmod(dest, stat.S_IMODE(e["mode"]) | stat.S_IWUSR | stat.S_IXUSR)  # writable while we fill it
        self._dir_contents(e["tree"], dest)
        self.stats.dirs += 1

        def finish(dest=dest, mode=e["mode"], mtime_ns=e["mtime_ns"]):
            os.chmod(dest, stat.S_IMODE(mode))
            if mtime_ns:  # 0: a folder above the backed-up ones, whose mtime was not kept
                os.utime(dest, ns=(mtime_ns, mtime_ns))

        self.finishers.append(finish)  # once its files are written (children's before their parent's)

    def _dir_contents(self, tid: str, dest: Path) -> None:
        """Queue the folder's files (no waiting: the next folders' files keep the threads busy)."""
        entries = self.repo.tree(tid)
        # Every name is checked before anything of this folder is written: the portal may be the attacker.
        folder = dest.relative_to(self.target).as_posix()
        trees.check_entries(entries, "/" if folder == "." else f"/{folder}")
        self.repo.locate([c for e in entries if e["type"] == "file" for c in e.get("chunks", [])])
        files = [e for e in entries if e["type"] == "file"]
        for group in self.repo.small_groups(files):
            if len(group) == 1:
                self._submit(self._file, group[0], dest / group[0]["name"])
            else:
                self._submit(self._group, group, dest)
        for e in entries:
            if e["type"] == "symlink":
                self._symlink(e, dest / e["name"])
            elif e["type"] == "dir":
                self._dir(e, dest / e["name"])

    def _submit(self, fn, *args) -> None:
        self.slots.acquire()  # bounded: a million files do not become a million futures at once
        future = self.pool.submit(fn, *args)
        future.add_done_callback(lambda _: self.slots.release())
        self.jobs.append(future)
        if len(self.jobs) >= 2 * JOBS_IN_FLIGHT:
            for job in [j for j in self.jobs if j.done()]:
                job.result()  # an error (portal gone, damaged data) ends the restore here
            self.jobs = [j for j in self.jobs if not j.done()]

    def _wait(self) -> None:
        for job in self.jobs:
            job.result()
        self.jobs = []
        for finish in self.finishers:
            finish()
        self.finishers = []

    def _keep_existing(self, e: dict, dest: Path) -> bool:
        if not os.path.lexists(dest):
            return False
        if self.overwrite == "never":
            return True
        if self.overwrite == "if-changed":
            st = os.lstat(dest)
            if e["type"] == "file" and stat.S_ISREG(st.st_mode):
                return st.st_size == e["size"] and st.st_mtime_ns == e["mtime_ns"]
            if e["type"] == "symlink" and stat.S_ISLNK(st.st_mode):
                return os.readlink(dest) == e["target"]
        return False

    def _group(self, group: list[dict], dest: Path) -> None:
        """Small files whose blobs one request brings."""
        todo = []
        for e in group:
            try:
                if self._keep_existing(e, dest / e["name"]):
                    with self.lock:
                        self.stats.unchanged += 1
                    continue
            except OSError as exc:
                self._warn(dest / e["name"], exc)
                continue
            todo.append(e)
        if not todo:
            return
        data = self.repo.group_data(todo)
        for e in todo:
            self._write(e, dest / e["name"], [data[e["chunks"][0]]])

    def _file(self, e: dict, dest: Path) -> None:
        try:
            if self._keep_existing(e, dest):
                with self.lock:
                    self.stats.unchanged += 1
                return
        except OSError as exc:
            return self._warn(dest, exc)
        self._write(e, dest, self.repo.file_data(e.get("chunks", [])))

    def _write(self, e: dict, dest: Path, chunks) -> None:
        """A new file is written in place (as restic does: one directory operation, not two);
        an existing one is replaced through a temporary file, so it is never half-overwritten.
        Either way nothing half-written stays behind on an error (e.g. a full disk)."""
        direct = not os.path.lexists(dest)
        path = dest if direct else dest.with_name(f".{dest.name}.coffer-restore")
        mode, mtime = stat.S_IMODE(e["mode"]), (e["mtime_ns"], e["mtime_ns"])
        created = False
        try:
            size = 0
            try:
                with open(path, "xb" if direct else "wb") as out:
                    created = True
                    for data in chunks:
                        out.write(data)
                        size += len(data)
                    if size != e["size"]:
                        raise IntegrityError(f"{dest}: restored {size} bytes, the snapshot says {e['size']}")
                    out.flush()
                    if FD_CALLS:  # on the open file: no path lookups
                        os.fchmod(out.fileno(), mode)
                        os.utime(out.fileno(), ns=mtime)
                if not FD_CALLS:
                    os.chmod(path, mode)
                    os.utime(path, ns=mtime)
                if not direct:
                    if dest.is_dir() and not dest.is_symlink():
                        raise OSError(f"{dest} is a folder")
                    os.replace(path, dest)
            except BaseException:
                if created:
                    path.unlink(missing_ok=True)
                raise
            with self.lock:
                self.stats.files += 1
                self.stats.bytes += size
        except OSError as exc:
            self._warn(dest, exc)

    def _symlink(self, e: dict, dest: Path) -> None:
        try:
            if self._keep_existing(e, dest):
                return
            if os.path.lexists(dest):
                dest.unlink()
            os.symlink(e["target"], dest)
            if os.utime in os.supports_follow_symlinks:
                os.utime(dest, ns=(e["mtime_ns"], e["mtime_ns"]), follow_symlinks=False)
            self.stats.symlinks += 1
        except OSError as exc:
            self._warn(dest, exc)

    def _warn(self, dest: Path, problem) -> None:
        with self.lock:
            self.stats.errors += 1
        logger.warning("could not restore %s: %s", dest, problem)


def listing(repo: Repository, root: str, path: str) -> list[dict]:
    node = repo.resolve(root, path)
    return repo.tree(node["tree"]) if node["type"] == "dir" else [node]
