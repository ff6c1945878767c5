"""Celery tasks for the file tree: they take ids, and are safe to run twice."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from portal.files.services import maintenance, tree, versions
from portal.spaces.models import Space

logger = logging.getLogger(__name__)


@shared_task(name="files.hash_blob", autoretry_for=(IntegrityError,), retry_backoff=True, max_retries=5)
def hash_blob(blob_id: int) -> str:
    return maintenance.blob_hash(blob_id)


class ScrubFailed(Exception):
    """The scrub found damaged or missing blobs, or the store stopped answering: the run is recorded as
    failed, so the admin's maintenance page shows it (the details are in its blob.scrubbed event)."""


@shared_task(name="files.scrub")
def scrub_blobs() -> dict:
    from portal.files.services import scrub

    report = scrub.blobs_scrub().as_dict()
    if report.get("mismatched") or report.get("missing") or report.get("unavailable"):
        raise ScrubFailed(f"scrub: {report['mismatched']} damaged, {report['missing']} missing blob(s) "
                          f"{report['bad_blobs']} of {report['checked']} checked"
                          + (f"; stopped early: {report['unavailable']}" if report["unavailable"] else ""))
    return report


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


class RetentionFailed(Exception):
    """Some spaces could not be pruned (the others were): the task run records it as failed."""


@shared_task(name="files.apply_version_retention")
def apply_version_retention() -> int:
    """Prune every space; one space that fails is logged and skipped, never
    keeps the spaces after it from being pruned. The run then fails naming
    the spaces, so the admin's maintenance page shows it."""
    pruned, failed = 0, []
    for pk in Space.objects.order_by("pk").values_list("pk", flat=True):
        try:
            pruned += versions.versions_prune(space_id=pk)
        except Exception:  # noqa: BLE001 - the top of a task: isolate one space's failure
            logger.exception("version retention failed for space %s", pk)
            failed.append(pk)
    if failed:
        raise RetentionFailed(f"version retention failed for {len(failed)} space(s) {failed} (see the log); "
                              f"{pruned} version(s) were pruned in the others")
    return pruned


@shared_task(name="files.point_restore")
def point_restore(run_id: int) -> dict:
    """Apply a restore to a point in time (portal.files.services.point_in_time); safe to run twice."""
    from portal.core.errors import PortalError
    from portal.files.models import PointRestore
    from portal.files.services import point_in_time

    try:
        run = point_in_time.point_restore_run(run_id=run_id)
    except PortalError:  # recorded as a failed restore with its message; the run says so
        run = PointRestore.objects.get(pk=run_id)
    return {"state": run.state, "done": run.done, "counts": run.counts}
