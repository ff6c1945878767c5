"""The audit log: append-only, one row per action, ids strictly increasing.

Rows keep labels (who, what) as text beside the foreign keys, and the keys carry
no database constraint, so deleting a user or space never rewrites history.
The ``chain_hash`` column is reserved for the tamper-evident hash chain.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Outcome(models.TextChoices):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


class AppendOnlyError(RuntimeError):
    pass


class AuditEvent(models.Model):
    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                              db_constraint=False, related_name="+")
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.SUCCESS)
    target_type = models.CharField(max_length=32, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=512, blank=True)
    space = models.ForeignKey("spaces.Space", null=True, blank=True, on_delete=models.DO_NOTHING,
                              db_constraint=False, related_name="+")
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    details = models.JSONField(default=dict, blank=True)
    chain_hash = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["target_type", "target_id"]), models.Index(fields=["space", "-id"])]

    def __str__(self) -> str:
        who = self.actor_label or "system"
        return f"#{self.id} {who} {self.action} {self.target_label}".strip()

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Audit events are append-only; they cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events are append-only; they cannot be deleted.")
