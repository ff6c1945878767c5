"""Versions still missing their SHA-256 or their scan verdict long after they
were made get their tasks queued again: whatever lost the first ones (a
message dropped before the outbox existed, a worker killed mid-task), the
file does not stay unhashed or held for ever. Safe to run twice: both tasks
skip what is already done."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from portal.outbox.models import OutboxMessage
from portal.outbox.services import enqueue_many

SWEEP_BATCH = 500
HASH_TASK, SCAN_TASK = "files.hash_blob", "scanning.scan_version"


def versions_requeue(*, batch: int = SWEEP_BATCH) -> dict:
    """Queue the hash of blobs and the scan of versions older than
    PORTAL_OUTBOX_SWEEP_MINUTES that still lack them, newest first (a
    blob that can never be hashed does not hold back the others), at most
    ``batch`` of each, skipping those whose task is still in the outbox."""
    from portal.files.models import Blob, FileVersion, Integrity
    from portal.scanning.models import ScanState, ScanVerdict

    cutoff = timezone.now() - timedelta(minutes=settings.OUTBOX_SWEEP_MINUTES)
    blob_ids = list(Blob.objects.filter(sha256__isnull=True, created_at__lt=cutoff)
                    .exclude(integrity=Integrity.MISMATCH)
                    .filter(Exists(FileVersion.objects.filter(blob=OuterRef("pk"))))
                    .order_by("-pk").values_list("pk", flat=True)[:batch])
    version_ids = list(ScanVerdict.objects.filter(state=ScanState.PENDING, created_at__lt=cutoff,
                                                  version__isnull=False)
                       .order_by("-pk").values_list("version_id", flat=True)[:batch])
    blob_ids, version_ids = _not_queued(HASH_TASK, blob_ids), _not_queued(SCAN_TASK, version_ids)
    with transaction.atomic():
        enqueue_many(HASH_TASK, [(pk,) for pk in blob_ids])
        enqueue_many(SCAN_TASK, [(pk,) for pk in version_ids])
    return {"hash": len(blob_ids), "scan": len(version_ids)}


def _not_queued(task: str, ids: list[int]) -> list[int]:
    if not ids:
        return []
    queued = set(OutboxMessage.objects.filter(task=task, args__0__in=ids).values_list("args__0", flat=True))
    return [pk for pk in ids if pk not in queued]
