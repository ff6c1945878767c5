"""A version scanned clean (or released from quarantine), or an Office file
whose PDF rendition (its text) is ready, queues its labelling once the
transaction commits."""

from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from portal.governance.sensitivity_tasks import label_version
from portal.previews.signals import rendition_ready
from portal.scanning.models import ScanVerdict
from portal.outbox.services import enqueue


def _queue(version_id: int) -> None:
    enqueue(label_version, version_id)


@receiver(post_save, sender=ScanVerdict, dispatch_uid="governance_label_clean_version")
def _verdict_saved(sender, instance: ScanVerdict, raw: bool = False, **kwargs):
    if raw or not instance.version_id or instance.state not in ("clean", "released"):
        return
    _queue(instance.version_id)


@receiver(rendition_ready, dispatch_uid="governance_label_rendition")
def _rendition_ready(sender, version_id: int, **kwargs):
    _queue(version_id)
