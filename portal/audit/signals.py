"""Signals of the audit log beyond Django's own.

``events_recorded`` is sent (with ``events``, a list) when ``record_many``
wrote many events in one statement: receivers of ``post_save`` on AuditEvent
that care about such batches listen to it too, and may handle the batch at
once (one task for all of them, not one per event)."""

from django.dispatch import Signal

events_recorded = Signal()
