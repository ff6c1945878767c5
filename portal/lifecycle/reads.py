"""What every read of a blob goes through, whatever the door (API, browser,
share link, WebDAV, zip): where the bytes are now, a cheap last-read mark
for the tiering policies, the restore step of archive tiers, and promotion
back to the hot store when the space's policy asks for it.

The caller has already checked that the reader may read the file.
"""

from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.services import record
from portal.core.errors import Restoring, StorageUnavailable
from portal.files.models import Blob, Node
from portal.lifecycle.models import BlobRestore, RestoreState, RestoreWaiter
from portal.lifecycle.policies import space_policy
from portal.storage.tiers import HOT, Placement, Tier, tiers
from portal.outbox.services import enqueue

# The last-read mark is kept to the day: at most one UPDATE per blob per day.
TOUCH_EVERY = timedelta(days=1)
PROMOTE_PENDING_SECONDS = 15 * 60


def touch(blob_ids_by_last_read: dict[int, object], *, now=None) -> None:
    """Mark blobs read now, skipping those read (or uploaded) within the day:
    one UPDATE, or none. Values: each blob's last read, else its upload time."""
    now = now or timezone.now()
    stale = [pk for pk, last in blob_ids_by_last_read.items() if last is None or now - last >= TOUCH_EVERY]
    if stale:
        Blob.objects.filter(pk__in=stale).update(last_read_at=now)


def blob_readable(blob: Blob, *, node: Node | None = None, actor=None, now=None) -> Placement:
    """Where to read ``blob`` now. Marks it read; for an archive tier, asks
    for a restore (``actor`` is told when it is ready) and raises Restoring
    until it is; queues promotion to the hot store if ``node``'s space
    wants that."""
    now = now or timezone.now()
    touch({blob.pk: blob.last_read_at or blob.created_at}, now=now)
    if blob.tier == HOT:
        return blob.placement
    tier = tiers().get(blob.tier)
    if tier is None:
        raise StorageUnavailable(gettext("This file is in the storage tier %(tier)r, which is no longer configured; "
                                         "ask an administrator to restore PORTAL_TIERS.") % {"tier": blob.tier})
    if tier.restore_minutes:
        restored_or_raise(blob, tier, node=node, actor=actor, now=now)
    if node is not None and space_policy(node.space_id).promote_on_read and _first_ask(blob.pk):
        from portal.lifecycle.tasks import promote

        enqueue(promote, blob.pk)
    return blob.placement


def _first_ask(blob_id: int) -> bool:
    """One promotion queued per blob at a time, however many reads come in
    before it is done (each would copy the whole file)."""
    return cache.add(f"lifecycle:promote:{blob_id}", 1, PROMOTE_PENDING_SECONDS)


def _needs_restore(rows: dict[int, str]) -> set[int]:
    """Of these blob ids (with their tiers), the ones no ready restore covers."""
    archived = {pk for pk, tier in rows.items() if (t := tiers().get(tier)) is not None and t.restore_minutes}
    if not archived:
        return set()
    ready = set(BlobRestore.objects.filter(blob_id__in=archived, state=RestoreState.READY,
                                           until__gt=timezone.now()).values_list("blob_id", flat=True))
    return archived - ready


def restored_or_raise(blob: Blob, tier: Tier, *, node: Node | None, actor=None, now=None) -> None:
    """Return when a restore of ``blob`` is ready; otherwise ask for one (or
    join the one under way) and raise Restoring with the minutes left."""
    now = now or timezone.now()
    if not _needs_restore({blob.pk: blob.tier}):
        return
    restore = restore_request(blob=blob, tier=tier, node=node, actor=actor, now=now)
    minutes = max(1, math.ceil((restore.ready_at - now).total_seconds() / 60))
    raise Restoring(gettext("This file is in archive storage. It is being restored and can be downloaded in about "
                            "%(minutes)s minutes; you will be notified when it is ready.") % {"minutes": minutes},
                    minutes=minutes)


@transaction.atomic
def restore_request(*, blob: Blob, tier: Tier, node: Node | None, actor=None, now=None) -> BlobRestore:
    """Ask for ``blob`` to be restored from its archive tier (a reader who may
    read ``node`` asked for it), or join the restore under way."""
    now = now or timezone.now()
    ready_at = now + timedelta(minutes=tier.restore_minutes)
    restore, created = BlobRestore.objects.select_for_update().get_or_create(
        blob=blob, defaults={"tier": tier.name, "ready_at": ready_at,
                             "until": ready_at + timedelta(days=settings.RESTORE_KEEP_DAYS)})
    expired = not created and restore.state == RestoreState.READY and restore.until <= now
    if expired:
        restore.state, restore.requested_at, restore.ready_at = RestoreState.PENDING, now, ready_at
        restore.until = ready_at + timedelta(days=settings.RESTORE_KEEP_DAYS)
        restore.save()
    if actor is not None and getattr(actor, "is_authenticated", False) and node is not None:
        RestoreWaiter.objects.get_or_create(restore=restore, user=actor, node=node)
    if created or expired:
        record(action=Action.BLOB_RESTORE_REQUESTED, actor=actor if getattr(actor, "is_authenticated", False)
               else None, target=node, space=node.space if node is not None else None,
               details={"blob": blob.pk, "tier": tier.name, "ready_in_minutes": tier.restore_minutes})
    return restore


def zip_readable(rows: dict[int, tuple[str, object, int]], *, actor=None) -> None:
    """Before a zip streams: every member's blob (id -> (tier, last read,
    node id)) is marked read, and when some are in an archive tier and not
    restored, their restores are asked for and Restoring is raised before
    any byte leaves."""
    touch({pk: last for pk, (_, last, _) in rows.items()})
    missing = _needs_restore({pk: tier for pk, (tier, _, _) in rows.items()})
    if not missing:
        return
    nodes = Node.objects.select_related("space").in_bulk([rows[pk][2] for pk in missing])
    now, ready = timezone.now(), []
    for blob in Blob.objects.filter(pk__in=missing):
        ready.append(restore_request(blob=blob, tier=tiers()[blob.tier], node=nodes.get(rows[blob.pk][2]),
                                     actor=actor, now=now).ready_at)
    minutes = max(1, math.ceil((max(ready) - now).total_seconds() / 60))
    raise Restoring(gettext("%(count)s files in this folder are in archive storage. They are being restored; the "
                            "folder can be downloaded in about %(minutes)s minutes.")
                    % {"count": len(missing), "minutes": minutes}, minutes=minutes)
