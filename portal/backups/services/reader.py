"""Reading chunks back: the index says where a blob is, a ranged read of its
pack fetches it, the key set opens it. Used by restore, GC and verify.
A reader is bound to one key set and only finds chunks in packs sealed with
it (a snapshot's own, see ``BlobReader.for_snapshot``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from django.utils.translation import gettext

from portal.backups import crypto
from portal.backups.keys import keys_of
from portal.backups.models import BackupKeySet, Chunk, Snapshot, pack_key
from portal.core.errors import NotFound, PortalError
from portal.storage import ObjectStore, get_store

# Ids per index query, and the most bytes one ranged read fetches.
_BATCH = 1000
_READ_SPAN = 8 * 1024 * 1024


class SnapshotDamaged(PortalError):
    status = 409
    code = "snapshot_damaged"


@dataclass(frozen=True)
class Location:
    id: str
    pack_id: str
    offset: int
    length: int

    @property
    def end(self) -> int:
        return self.offset + self.length


def locate(ids: Iterable[str], **scope) -> dict[str, Location]:
    """Where each indexed id is (missing ids are simply absent): one indexed query per batch.
    ``scope`` filters the index rows: ``owner=user`` (what a device may ask about),
    ``pack__key_set=...`` (what one key set can open); none for the system's own checks."""
    ids = list(dict.fromkeys(ids))
    found: dict[str, Location] = {}
    for start in range(0, len(ids), _BATCH):
        rows = Chunk.objects.filter(id__in=ids[start:start + _BATCH], **scope).values_list(
            "id", "pack__pack_id", "offset", "length")
        found.update((cid, Location(cid, pack, offset, length)) for cid, pack, offset, length in rows)
    return found


def _runs(locations: list[Location]) -> Iterator[list[Location]]:
    """Consecutive blobs stored back to back in one pack, read with one request."""
    run: list[Location] = []
    for loc in locations:
        if run and (loc.pack_id != run[-1].pack_id or loc.offset != run[-1].end
                    or loc.end - run[0].offset > _READ_SPAN):
            yield run
            run = []
        run.append(loc)
    if run:
        yield run


class BlobReader:
    def __init__(self, *, key_set: BackupKeySet, store: ObjectStore | None = None, check_ids: bool = False,
                 cache_trees: bool = True):
        self.store = store or get_store()
        self.key_set = key_set
        self.keys = keys_of(key_set)
        self.check_ids = check_ids
        self.cache_trees = cache_trees
        self._trees: dict[str, list[dict]] = {}

    @classmethod
    def for_snapshot(cls, snapshot: Snapshot, **options) -> "BlobReader":
        return cls(key_set=snapshot.key_set, **options)

    def _fetch(self, run: list[Location]) -> list[bytes]:
        try:
            with self.store.open(pack_key(run[0].pack_id), start=run[0].offset, end=run[-1].end - 1) as stream:
                data = stream.read()
        except NotFound:
            raise SnapshotDamaged(gettext("Pack %(pack_id)s is missing from the object store.") % {"pack_id": run[0].pack_id},
                                  detail={"pack_id": run[0].pack_id}) from None
        if len(data) != run[-1].end - run[0].offset:
            raise SnapshotDamaged(gettext("Pack %(pack_id)s is shorter than its index says.") % {"pack_id": run[0].pack_id},
                                  detail={"pack_id": run[0].pack_id})
        out = []
        for loc in run:
            blob = data[loc.offset - run[0].offset:loc.end - run[0].offset]
            try:
                out.append(crypto.open_blob(self.keys.data_key, loc.id, blob,
                                            id_key=self.keys.id_key if self.check_ids else None))
            except crypto.BlobInvalid as exc:
                raise SnapshotDamaged(str(exc), detail={"chunk": loc.id, "pack_id": loc.pack_id}) from None
        return out

    def read(self, ids: list[str]) -> Iterator[bytes]:
        """The plaintexts of ``ids``, in order, fetched as they are consumed."""
        for start in range(0, len(ids), _BATCH):
            batch = ids[start:start + _BATCH]
            where = locate(batch, pack__key_set=self.key_set)
            missing = [cid for cid in batch if cid not in where]
            if missing:
                raise SnapshotDamaged(gettext("%(count)s chunk(s) are not in the index, e.g. %(value)s.") % {"count": len(missing), "value": missing[0]},
                                      detail={"missing": missing[:20]})
            for run in _runs([where[cid] for cid in batch]):
                yield from self._fetch(run)

    def tree(self, tree_id: str) -> list[dict]:
        """A tree object's entries (kept for this reader's lifetime: trees repeat across snapshots)."""
        if tree_id in self._trees:
            return self._trees[tree_id]
        if not crypto.is_chunk_id(tree_id):
            raise SnapshotDamaged(gettext("A tree entry names %(tree_id)r, which is not a chunk id.") % {"tree_id": tree_id})
        (plaintext,) = self.read([tree_id])
        try:
            entries = crypto.tree_decode(plaintext)
        except crypto.BlobInvalid as exc:
            raise SnapshotDamaged(gettext("Tree %(tree_id)s: %(exc)s") % {"tree_id": tree_id, "exc": exc}, detail={"chunk": tree_id}) from None
        if self.cache_trees:
            self._trees[tree_id] = entries
        return entries

    def walk(self, root: str, seen: set[str] | None = None) -> Iterator[tuple[str, list[dict]]]:
        """(tree id, entries) of every tree below ``root`` once; trees in
        ``seen`` (updated as it goes) are skipped with what is below them."""
        seen = set() if seen is None else seen
        stack = [root]
        while stack:
            tree_id = stack.pop()
            if tree_id in seen:
                continue
            seen.add(tree_id)
            entries = self.tree(tree_id)
            stack.extend(e["tree"] for e in entries if e.get("type") == "dir" and e.get("tree"))
            yield tree_id, entries


def data_chunks(entries: list[dict]) -> Iterator[str]:
    for entry in entries:
        if entry.get("type") == "file" and isinstance(entry.get("chunks"), list):
            yield from entry["chunks"]
