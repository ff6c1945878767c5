"""Celery tasks for backups: they take ids (or nothing), and are safe to run twice."""

from celery import shared_task

from portal.backups.models import Device, Snapshot
from portal.backups.services import gc, packs, retention, verify


@shared_task(name="backups.apply_retention")
def apply_retention() -> int:
    """Apply every device's policy; the number of snapshots removed."""
    from portal.governance.selectors import held_user_ids

    device_ids = Snapshot.objects.values_list("device_id", flat=True).distinct()
    held = held_user_ids()   # read once for every device
    return sum(len(retention.retention_apply(device_id=pk, held_users=held)["removed"])
               for pk in Device.objects.filter(pk__in=device_ids).values_list("pk", flat=True))


@shared_task(name="backups.collect_garbage")
def collect_garbage() -> dict:
    return gc.gc_collect()


@shared_task(name="backups.check_pack")
def check_pack(pack_pk: int) -> bool:
    """Check every blob of a newly indexed pack (queued by the index call)."""
    return packs.pack_check(pack_pk=pack_pk)


@shared_task(name="backups.verify")
def verify_backups() -> dict:
    packs.pack_check_pending()  # checks a crash lost on the way
    return verify.backup_verify()
