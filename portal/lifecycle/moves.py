"""Moving a blob's bytes between tiers, crash-safe in four steps: copy,
verify (size and the SHA-256 recorded at upload), switch the blob to the
copy in one transaction, then delete the old copy once its grace period is
over (``Superseded``, swept by ``sweeps``). A kill at any point leaves every
version readable: before the switch the blob still points at its old bytes
(the copy is an orphan the sweep removes); after it, at the verified copy.

Small blobs bound for a packing tier travel in containers (``blobs_pack``);
everything else one by one (``blob_move``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from portal.audit.actions import Action
from portal.audit.services import record
from portal.files.models import Blob, FileVersion
from portal.lifecycle.copying import copy_blob, new_key, write_container
from portal.lifecycle.models import Container, ContainerState, Superseded
from portal.locks.models import Lock
from portal.storage.tiers import HOT, Placement, Tier, tier_get, tier_store

logger = logging.getLogger(__name__)


def grace_end(now: datetime) -> datetime:
    return now + timedelta(minutes=settings.TIER_GRACE_MINUTES)


def retire(placement: Placement, *, now: datetime) -> None:
    """Nothing points at ``placement`` any more (inside the switch's
    transaction): an object of its own waits out the grace period; a slice
    of a container only lowers the container's live bytes."""
    retire_many([placement], now=now)


def retire_many(placements: list[Placement], *, now: datetime) -> None:
    """``retire`` for the many blobs of one switch: one UPDATE per container
    they leave and one INSERT for the objects of their own (an object
    already waiting keeps its row, as with ``retire``)."""
    holes: dict[tuple[str, str], int] = defaultdict(int)
    own = []
    for placement in placements:
        if placement.packed:
            holes[(placement.tier, placement.key)] += placement.size
        else:
            own.append(Superseded(tier=placement.tier, key=placement.key, delete_after=grace_end(now)))
    for (tier, key), size in sorted(holes.items()):
        Container.objects.filter(tier=tier, key=key).update(live_bytes=F("live_bytes") - size)
    Superseded.objects.bulk_create(own, batch_size=1000, ignore_conflicts=True)


def _place(blob: Blob, tier: Tier, key: str, *, container: Container | None = None,
           offset: int | None = None) -> None:
    if tier.name == HOT:
        blob.key, blob.tier_key = key, ""
    else:
        blob.tier_key = key
    blob.tier, blob.container, blob.pack_offset = tier.name, container, offset


PLACEMENT_FIELDS = ["key", "tier", "tier_key", "container", "pack_offset"]


def locked_blobs(blob_ids, *, now: datetime) -> set[int]:
    """Blobs a version of a file under a live lock uses: they stay put."""
    nodes = Lock.objects.filter(expires_at__gt=now).values("node_id")
    return set(FileVersion.objects.filter(blob_id__in=blob_ids, node_id__in=nodes).values_list("blob_id", flat=True))


def blob_move(*, blob_id: int, to: str, why: str = "policy", now: datetime | None = None) -> int:
    """Move one blob, as an object of its own, to tier ``to``: the bytes
    moved, 0 when there was nothing to do (already there, gone, locked, or
    changed while copying). The system calls it (tiering runs, promotions)."""
    now = now or timezone.now()
    blob = Blob.objects.filter(pk=blob_id).first()
    target = tier_get(to)
    if blob is None or blob.tier == to or not blob.sha256:
        return 0
    source = blob.placement
    key = copy_blob(source, sha256=blob.sha256, to=target)
    if not _switch_one(blob_id, source, target, key, why=why, now=now):
        tier_store(to).delete(key)
        return 0
    return blob.size


@transaction.atomic
def _switch_one(blob_id: int, source: Placement, target: Tier, key: str, *, why: str, now: datetime) -> bool:
    blob = Blob.objects.select_for_update().filter(pk=blob_id).first()
    if blob is None or blob.placement != source:
        return False
    if why == "policy" and locked_blobs([blob_id], now=now):
        return False
    retire(source, now=now)
    _place(blob, target, key)
    blob.save(update_fields=PLACEMENT_FIELDS)
    record(action=Action.BLOB_TIERED, details={"from": source.tier, "to": target.name, "why": why, "blobs": 1,
                                               "bytes": blob.size, "blob": blob.pk})
    return True


def blobs_pack(*, blobs: list[Blob], to: Tier, why: str = "policy", now: datetime | None = None,
               ) -> tuple[int, int]:
    """Pack ``blobs`` (small, hashed) into one new container in tier ``to``
    and switch each that is still where it was: (blobs, bytes) moved.

    The container row is written first, as WRITING: a crash before the
    switch leaves it for the sweep, which deletes the object and the row."""
    now = now or timezone.now()
    container = Container.objects.create(tier=to.name, key=new_key(to, "packs"))
    sources = {blob.pk: blob.placement for blob in blobs}
    packed, size = write_container(container.key, to, [(b.pk, sources[b.pk], b.sha256) for b in blobs])
    return _switch_packed(container, packed, sources, size, why=why, now=now)


@transaction.atomic
def _switch_packed(container: Container, packed, sources: dict[int, Placement], size: int, *, why: str,
                   now: datetime) -> tuple[int, int]:
    Container.objects.select_for_update().get(pk=container.pk)
    ids = [entry.blob_id for entry in packed]
    locked = locked_blobs(ids, now=now) if why == "policy" else set()
    current = {blob.pk: blob for blob in Blob.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    tier, moved, left = tier_get(container.tier), [], []
    for entry in packed:
        blob = current.get(entry.blob_id)
        if blob is None or blob.pk in locked or blob.placement != sources[entry.blob_id]:
            continue   # deleted, locked or moved meanwhile: its bytes in the container stay dead
        left.append(blob.placement)
        _place(blob, tier, container.key, container=container, offset=entry.offset)
        moved.append(blob)
    # A few statements per container, not a few per blob (a container holds thousands).
    retire_many(left, now=now)
    _save_packed(moved, tier, container)
    live = sum(blob.size for blob in moved)
    container.size, container.blob_count, container.live_bytes = size, len(moved), live
    container.data_bytes = sum(entry.size for entry in packed)
    container.state = ContainerState.LIVE if moved else ContainerState.RETIRED
    if not moved:
        container.retired_at = now
        retire(Placement(container.tier, container.key, size), now=now)
    container.save()
    if moved:
        record(action=Action.BLOB_TIERED, details={"from": sorted({sources[b.pk].tier for b in moved}),
                                                   "to": tier.name, "why": why, "blobs": len(moved),
                                                   "bytes": live, "container": container.key})
    return len(moved), live


def _save_packed(blobs: list[Blob], tier: Tier, container: Container) -> None:
    """Point ``blobs`` at their slices of ``container`` (a packing tier is
    never the hot one, so ``key`` stays). One statement on PostgreSQL:
    bulk_update's CASE of one branch per blob took seconds per container."""
    table = Blob._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"UPDATE {table} AS b SET tier = %s, tier_key = %s, container_id = %s, pack_offset = v.pos "
                           "FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, pos) WHERE b.id = v.id",
                           [tier.name, container.key, container.pk, [blob.pk for blob in blobs],
                            [blob.pack_offset for blob in blobs]])
        else:
            cursor.executemany(f"UPDATE {table} SET tier = %s, tier_key = %s, container_id = %s, pack_offset = %s "
                               "WHERE id = %s", [(tier.name, container.key, container.pk, blob.pack_offset, blob.pk)
                                                 for blob in blobs])


def container_retire_if_empty(container_id: int, *, now: datetime) -> bool:
    """Retire a live container no blob points at any more (inside a transaction)."""
    container = Container.objects.select_for_update().filter(pk=container_id, state=ContainerState.LIVE).first()
    if container is None or Blob.objects.filter(container=container).exists():
        return False
    container.state, container.retired_at, container.live_bytes = ContainerState.RETIRED, now, 0
    container.save(update_fields=["state", "retired_at", "live_bytes"])
    retire(Placement(container.tier, container.key, container.size), now=now)
    return True
