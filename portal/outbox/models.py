import uuid

from django.db import models
from django.utils import timezone


class OutboxMessage(models.Model):
    """One Celery task call written in the transaction that wants it; its id is the task id.

    ``sent_at`` is when a broker last accepted it (None: never, or the broker
    refused it); ``attempts`` counts those acceptances. The row is deleted when
    the task has run, so a row still here, not started, long after ``sent_at``
    was lost."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(default=timezone.now)  # not before (a countdown)
    sent_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)  # a worker runs it (it may take hours)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["sent_at", "created_at"], name="outbox_due_idx")]

    def __str__(self):
        return f"{self.task}{tuple(self.args)}"
