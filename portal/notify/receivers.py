"""Every audit event, once committed, may notify someone or feed a webhook."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from portal.audit.models import AuditEvent
from portal.audit.signals import events_recorded
from portal.notify import hooks


@receiver(post_save, sender=AuditEvent, dispatch_uid="notify_event_recorded")
def _event_recorded(sender, instance: AuditEvent, created: bool, raw: bool = False, **kwargs):
    if created and not raw:
        hooks.queue_event(instance.pk, instance.action)


@receiver(events_recorded, sender=AuditEvent, dispatch_uid="notify_events_recorded")
def _events_recorded(sender, events: list[AuditEvent], **kwargs):
    hooks.queue_events([(event.pk, event.action) for event in events])
