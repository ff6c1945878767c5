"""Housekeeping after moves: old copies deleted once their grace period is
over, containers a crash left half-written, objects in a tier that nothing
names (a copy made just before a crash). Safe to run twice, and while
moves are under way: everything here is older than a grace period.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.core.errors import StorageUnavailable
from portal.files.models import Blob
from portal.lifecycle.models import Container, ContainerState, Superseded
from portal.storage.tiers import HOT, tier_store, tiers

logger = logging.getLogger(__name__)
_BATCH = 500
# A container still WRITING after this long was abandoned by a crashed run.
WRITING_HOURS = 12


def superseded_delete(*, now=None) -> int:
    """Delete the copies whose grace period is over; the count."""
    now = now or timezone.now()
    deleted = 0
    for row in list(Superseded.objects.filter(delete_after__lte=now).order_by("pk")[:_BATCH * 4]):
        try:
            tier_store(row.tier).delete(row.key)
        except StorageUnavailable as exc:
            logger.warning("cannot delete %s from tier %s yet: %s", row.key, row.tier, exc.message)
            continue
        with transaction.atomic():
            Container.objects.filter(tier=row.tier, key=row.key, state=ContainerState.RETIRED).delete()
            row.delete()
        deleted += 1
    return deleted


def abandoned_containers_delete(*, now=None) -> int:
    """Containers a crashed run left WRITING: no blob points at them."""
    now = now or timezone.now()
    stale = Container.objects.filter(state=ContainerState.WRITING, created_at__lt=now - timedelta(hours=WRITING_HOURS))
    removed = 0
    for container in list(stale[:_BATCH]):
        if Blob.objects.filter(container=container).exists():  # cannot happen: the switch sets LIVE
            continue
        tier_store(container.tier).delete(container.key)
        container.delete()
        removed += 1
    return removed


def tier_orphans_delete(*, now=None) -> int:
    """Objects under a colder tier's prefix that no blob, container or
    pending deletion names, older than ORPHAN_GRACE_HOURS: copies a crash
    left between copying and switching, and the parts of a large copy a
    crash interrupted (an unfinished multipart upload, never listed)."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.ORPHAN_GRACE_HOURS)
    removed = 0
    for tier in tiers().values():
        if tier.name == HOT:
            continue
        removed += _abort_unfinished(tier, cutoff)
        batch = []
        for info in tier_store(tier.name).iter_objects(tier.prefix):
            if info.modified < cutoff:
                batch.append(info.key)
            if len(batch) >= _BATCH:
                removed += _delete_unnamed(tier.name, batch)
                batch = []
        removed += _delete_unnamed(tier.name, batch)
    return removed


def _abort_unfinished(tier, cutoff) -> int:
    store, aborted = tier_store(tier.name), 0
    for key, upload_id, started in list(store.iter_unfinished_uploads(tier.prefix)):
        if started < cutoff:
            logger.info("aborting the unfinished upload of %s to tier %s", key, tier.name)
            store.multipart_abort(key, upload_id)
            aborted += 1
    return aborted


def _delete_unnamed(tier: str, keys: list[str]) -> int:
    if not keys:
        return 0
    named = set(Blob.objects.filter(tier=tier, tier_key__in=keys).values_list("tier_key", flat=True))
    named |= set(Container.objects.filter(tier=tier, key__in=keys).values_list("key", flat=True))
    named |= set(Superseded.objects.filter(tier=tier, key__in=keys).values_list("key", flat=True))
    orphans = [key for key in keys if key not in named]
    for key in orphans:
        logger.info("removing orphan object %s from tier %s", key, tier)
        tier_store(tier).delete(key)
    return len(orphans)
