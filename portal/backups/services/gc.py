"""Garbage collection, mark and sweep (the ``backups.collect_garbage`` task).

Mark: every chunk reachable from any remaining snapshot of any device,
walking tree objects decrypted here with each snapshot's key set. If
any tree cannot be read the run stops before deleting anything.
Sweep, for indexed packs older than the grace period and not claimed by a
device within it: a pack with no reachable chunk goes; one with less than
BACKUP_REPACK_BELOW of its bytes reachable is rewritten with only those
blobs (byte for byte: a blob's nonce and tag travel with it). Pack rows never
indexed, pack objects with no row and leftover uploads (backups/uploads/, where
releases before direct pack PUTs uploaded packs) go once older than the grace period.
Order, as everywhere: the index changes first, then objects are deleted, so
a crash leaves only unindexed objects, which the next run removes.
"""

from __future__ import annotations

import io
import logging
import secrets
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from portal.audit.actions import Action
from portal.audit.services import record
from portal.backups.models import PACK_PREFIX, BackupKeySet, Chunk, Pack, Snapshot
from portal.backups.services.packs import UPLOAD_PREFIX
from portal.backups.services.reader import BlobReader, SnapshotDamaged, data_chunks
from portal.core.errors import PortalError
from portal.storage import ObjectStore, get_store

logger = logging.getLogger(__name__)
_BATCH = 1000


def reachable_chunks(store: ObjectStore) -> set[str]:
    """Ids of every tree and data chunk some snapshot needs (SnapshotDamaged if a tree is unreadable)."""
    reachable: set[str] = set()
    for key_set in BackupKeySet.objects.filter(snapshots__isnull=False).distinct():
        reader = BlobReader(key_set=key_set, store=store, cache_trees=False)
        seen: set[str] = set()
        roots = Snapshot.objects.filter(key_set=key_set).values_list("root", flat=True).distinct()
        for root in roots.iterator():
            for tree_id, entries in reader.walk(root, seen):
                reachable.add(tree_id)
                reachable.update(data_chunks(entries))
    return reachable


def _usage(reachable: set[str]) -> dict[int, int]:
    used: dict[int, int] = defaultdict(int)
    for cid, pack_pk, length in Chunk.objects.values_list("id", "pack_id", "length").iterator(chunk_size=10_000):
        if cid in reachable:
            used[pack_pk] += length
    return used


def _settled(cutoff: datetime):
    """Packs GC may touch: indexed, older than the grace period, not claimed within it."""
    return Pack.objects.filter(indexed_at__isnull=False, created_at__lt=cutoff).filter(
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=cutoff))


def _locked_if_settled(pack: Pack, cutoff: datetime) -> Pack | None:
    return _settled(cutoff).select_for_update().filter(pk=pack.pk).first()


def _sweep(store: ObjectStore, pack: Pack, cutoff: datetime) -> bool:
    with transaction.atomic():
        if _locked_if_settled(pack, cutoff) is None:
            return False
        Chunk.objects.filter(pack=pack).delete()
        pack.delete()
    store.delete(pack.key)
    return True


def _repack(store: ObjectStore, pack: Pack, reachable: set[str], cutoff: datetime) -> int:
    """Rewrite ``pack`` with only its reachable blobs; the bytes freed (0 if skipped)."""
    rows = [row for row in Chunk.objects.filter(pack=pack).order_by("offset") if row.id in reachable]
    with store.open(pack.key) as stream:
        data = stream.read()
    body = bytearray()
    for row in rows:
        blob = data[row.offset:row.offset + row.length]
        row.offset = len(body)
        body += blob
    new = Pack(pack_id=secrets.token_hex(16), device=pack.device, owner=pack.owner, key_set=pack.key_set,
               size=len(body))
    store.put(new.key, io.BytesIO(bytes(body)))  # bytes first: until the index moves, nobody reads it
    with transaction.atomic():
        if _locked_if_settled(pack, cutoff) is None:
            moved = False
        else:
            new.indexed_at = timezone.now()
            new.checked_at = pack.checked_at  # the same blobs, byte for byte
            new.save()
            for row in rows:
                row.pack = new
            Chunk.objects.bulk_update(rows, ["pack", "offset"], batch_size=_BATCH)
            Chunk.objects.filter(pack=pack).delete()  # the unreachable rest: no longer known
            pack.delete()
            moved = True
    store.delete(pack.key if moved else new.key)
    return pack.size - new.size if moved else 0


def _sweep_unindexed(store: ObjectStore, cutoff: datetime) -> int:
    """Pack rows never indexed, and pack objects with no row, once older than the grace period."""
    removed = 0
    for pack in Pack.objects.filter(indexed_at__isnull=True, created_at__lt=cutoff).iterator():
        with transaction.atomic():
            if Pack.objects.filter(pk=pack.pk, indexed_at__isnull=True).delete()[0]:
                removed += 1
        store.delete(pack.key)
    batch: list[tuple[str, str]] = []
    for info in store.iter_objects(PACK_PREFIX):
        if info.modified < cutoff:
            batch.append((info.key.rsplit("/", 1)[-1], info.key))
        if len(batch) >= _BATCH:
            removed += _delete_rowless(store, batch)
            batch = []
    removed += _delete_rowless(store, batch)
    for info in store.iter_objects(UPLOAD_PREFIX):  # leftovers of the upload-then-copy releases
        if info.modified < cutoff:
            store.delete(info.key)
            removed += 1
    return removed


def _delete_rowless(store: ObjectStore, batch: list[tuple[str, str]]) -> int:
    if not batch:
        return 0
    known = set(Pack.objects.filter(pack_id__in=[pid for pid, _ in batch]).values_list("pack_id", flat=True))
    orphans = [key for pid, key in batch if pid not in known]
    for key in orphans:
        logger.info("removing unindexed pack object %s", key)
        store.delete(key)
    return len(orphans)


def gc_collect(*, now: datetime | None = None, store: ObjectStore | None = None) -> dict:
    """The system collects garbage; a report, audited ``backup.gc`` when anything changed."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.BACKUP_GC_GRACE_HOURS)
    store = store or get_store()
    try:
        reachable = reachable_chunks(store)
    except SnapshotDamaged as exc:
        logger.error("backup GC stopped before deleting anything: %s", exc.message)
        return {"ok": False, "error": exc.message, "detail": exc.detail}
    used = _usage(reachable)
    report = {"ok": True, "reachable": len(reachable), "swept": 0, "repacked": 0, "freed_bytes": 0,
              "unindexed_removed": 0}
    report["errors"] = []
    from portal.governance.selectors import held_user_ids  # a held user's packs are neither swept nor repacked

    held = held_user_ids()
    settled = _settled(cutoff)
    if held:
        settled = settled.exclude(Q(owner_id__in=held) | Q(device__user_id__in=held))
    for pack in settled.iterator():
        share = used.get(pack.pk, 0)
        try:
            if share == 0:
                if _sweep(store, pack, cutoff):
                    report["swept"] += 1
                    report["freed_bytes"] += pack.size
            elif share < pack.size * settings.BACKUP_REPACK_BELOW:
                freed = _repack(store, pack, reachable, cutoff)
                if freed:
                    report["repacked"] += 1
                    report["freed_bytes"] += freed
        except PortalError as exc:  # a missing or unreadable pack: verify reports it; go on with the rest
            logger.error("backup GC skipped pack %s: %s", pack.pack_id, exc.message)
            report["errors"].append({"pack_id": pack.pack_id, "error": exc.message})
    report["unindexed_removed"] = _sweep_unindexed(store, cutoff)
    if report["swept"] or report["repacked"] or report["unindexed_removed"]:
        record(action=Action.BACKUP_GC, actor=None, target_label="backup packs", details=report)
    logger.info("backup GC: %s", report)
    return report
