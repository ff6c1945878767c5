"""Celery tasks of content scanning: they take ids and are safe to run twice."""

from celery import shared_task

from portal.core.errors import StorageUnavailable
from portal.scanning import services
from portal.scanning.models import ScanState


@shared_task(name="scanning.scan_version", bind=True, max_retries=6, autoretry_for=(StorageUnavailable,),
             retry_backoff=True)
def scan_version(self, version_id: int) -> str:
    """Scan a new version; while a scanner cannot answer, try again with a
    growing delay (the fail policy applies meanwhile and was audited once)."""
    state = services.scan_version(version_id)
    if state == ScanState.CLEAN:
        from portal.previews.services import thumbnail_queue

        thumbnail_queue(version_id)  # derived files only ever come from clean bytes
    in_worker = not (self.request.called_directly or self.request.is_eager)
    if state == ScanState.ERROR and in_worker and self.request.retries < self.max_retries:
        raise self.retry(countdown=min(30 * 2 ** self.request.retries, 3600))
    return state
