"""Celery tasks for the file tree: they take ids, and are safe to run twice."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from portal.files.services import maintenance, tree, versions
from portal.spaces.models import Space


@shared_task(name="files.hash_blob", autoretry_for=(IntegrityError,), retry_backoff=True, max_retries=5)
def hash_blob(blob_id: int) -> str:
    return maintenance.blob_hash(blob_id)


@shared_task(name="files.collect_unused_blobs")
def collect_unused_blobs() -> int:
    return maintenance.blobs_collect()


@shared_task(name="files.sweep_uploads")
def sweep_uploads() -> dict:
    return maintenance.uploads_sweep()


@shared_task(name="files.sweep_orphan_objects")
def sweep_orphan_objects() -> int:
    return maintenance.orphans_sweep()


@shared_task(name="files.purge_expired_trash")
def purge_expired_trash() -> int:
    cutoff = timezone.now() - timedelta(days=settings.TRASH_DAYS)
    total = 0
    while (purged := tree.trash_purge_expired(older_than=cutoff)):
        total += purged
    return total


@shared_task(name="files.apply_version_retention")
def apply_version_retention() -> int:
    return sum(versions.versions_prune(space_id=pk) for pk in Space.objects.values_list("pk", flat=True))
