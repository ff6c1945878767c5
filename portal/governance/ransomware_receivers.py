"""Feed committed audit events to the ransomware detector (portal.governance.ransomware):
one Redis pipeline per event, or per batch for ``record_many``; nothing for other actions."""

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from portal.audit.models import AuditEvent
from portal.audit.signals import events_recorded
from portal.governance import ransomware


@receiver(post_save, sender=AuditEvent, dispatch_uid="ransomware_event_recorded")
def _event_recorded(sender, instance: AuditEvent, created: bool, raw: bool = False, **kwargs):
    if created and not raw and instance.action in ransomware.WATCHED:
        transaction.on_commit(lambda: ransomware.observe([instance]))


@receiver(events_recorded, sender=AuditEvent, dispatch_uid="ransomware_events_recorded")
def _events_recorded(sender, events: list[AuditEvent], **kwargs):
    watched = [event for event in events if event.action in ransomware.WATCHED]
    if watched:
        transaction.on_commit(lambda: ransomware.observe(watched))
