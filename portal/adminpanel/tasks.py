"""Celery tasks of the admin console: safe to run twice, or at the same time."""

from celery import shared_task
from django.utils import timezone

from portal.adminpanel.snapshots_model import StorageSnapshot
from portal.adminpanel.stats import snapshot_day, storage_total


@shared_task(name="adminpanel.snapshot_storage")
def snapshot_storage() -> dict:
    """Beat, hourly: today's storage total (the day's last run wins), the
    history behind the console's "storage over time" chart. Bookkeeping, not
    an action anyone took: no audit event."""
    now = timezone.now()
    total = storage_total()
    StorageSnapshot.objects.update_or_create(day=snapshot_day(now), defaults={
        "used_bytes": total["used"], "quota_bytes": total["quota"], "spaces": total["spaces"], "taken_at": now})
    return total
