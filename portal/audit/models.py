"""The audit log: append-only, one row per action, ids strictly increasing.

Rows keep labels (who, what) as text beside the foreign keys, and the keys carry
no database constraint, so deleting a user or space never rewrites history.

Writers only INSERT. A Celery task later *seals* each event into the hash
chain (``portal/audit/chain.py``): it fills ``seq``, ``prev_hash``,
``chain_hash`` and ``sealed_at`` once, with raw SQL, and nothing else ever
changes a row. ``ChainState`` is the chain's head (one row, the sealer's
lock); ``ChainCheckpoint`` rows are heads kept, exported and logged so that a
rewrite of the whole table is detectable too.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils import timezone


class Outcome(models.TextChoices):
    SUCCESS = "success", _("Success")
    FAILURE = "failure", _("Failure")
    DENIED = "denied", _("Denied")


class AppendOnlyError(RuntimeError):
    pass


class AuditEventQuerySet(models.QuerySet):
    """Bulk changes are refused like single ones. The sealer and the
    retention purge are the two writers allowed past this, with raw SQL."""

    def update(self, **kwargs):
        raise AppendOnlyError("Audit events are append-only; they cannot be changed.")

    def delete(self):
        raise AppendOnlyError("Audit events are append-only; they cannot be deleted.")

    update.queryset_only = True
    delete.queryset_only = True


class AuditEvent(models.Model):
    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                              db_constraint=False, related_name="+", verbose_name=_("actor"))
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.SUCCESS)
    target_type = models.CharField(max_length=32, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=512, blank=True)
    space = models.ForeignKey("spaces.Space", null=True, blank=True, on_delete=models.DO_NOTHING,
                              db_constraint=False, related_name="+", verbose_name=_("space"))
    ip = models.GenericIPAddressField(_("address"), null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    details = models.JSONField(default=dict, blank=True)
    # The hash chain, filled once by the sealer (null / blank until then).
    seq = models.BigIntegerField(null=True, blank=True, unique=True, editable=False)
    prev_hash = models.CharField(max_length=64, blank=True, editable=False)
    chain_hash = models.CharField(max_length=64, blank=True, editable=False)
    sealed_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["target_type", "target_id"]),
            models.Index(fields=["space", "-id"]),
            # The sealer's queue: small, since events leave it within a minute.
            models.Index(fields=["id"], condition=models.Q(seq__isnull=True), name="audit_event_unsealed"),
        ]

    def __str__(self) -> str:
        who = self.actor_label or "system"
        return f"#{self.id} {who} {self.action} {self.target_label}".strip()

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Audit events are append-only; they cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events are append-only; they cannot be deleted.")


class ChainState(models.Model):
    """The chain's head: the last sealed position and hash. One row (pk 1);
    sealers lock it, so seq numbers are handed out gap-free. ``key_id`` names
    the HMAC key the chain is sealed with (a fingerprint, never the key)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    head_seq = models.BigIntegerField(default=0)
    head_hash = models.CharField(max_length=64, default="0" * 64)
    key_id = models.CharField(max_length=16, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"audit chain head #{self.head_seq}"


class ChainCheckpoint(models.Model):
    """A head kept for later: verification compares the chain against it, it
    is written to the object store (``exported_key``) and to the log, and the
    retention purge cuts the table only at one (the earliest kept checkpoint
    is then where verification starts)."""

    seq = models.BigIntegerField(unique=True)
    hash = models.CharField(max_length=64)
    key_id = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    exported_key = models.CharField(max_length=255, blank=True)
    exported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-seq"]

    def __str__(self) -> str:
        return f"audit checkpoint #{self.seq}"


class ExportStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class AuditExport(models.Model):
    """An export too large to stream in one response: a Celery task writes it
    to the object store (``key``); the admin hands out a short-lived link."""

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    format = models.CharField(max_length=8)  # csv | jsonl
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=ExportStatus.choices, default=ExportStatus.PENDING)
    rows = models.BigIntegerField(null=True, blank=True)
    key = models.CharField(max_length=255, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("audit export")
        verbose_name_plural = _("audit exports")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"audit export {self.pk} ({self.format})"

    @property
    def filename(self) -> str:
        return f"audit-export-{self.pk}.{self.format}"


class TaskOutcome(models.TextChoices):
    RUNNING = "running", _("Running")
    OK = "ok", _("Ok")
    FAILED = "failed", _("Failed")


class TaskRun(models.Model):
    """One run of a periodic (beat-scheduled) task, written by the Celery
    signal receivers in ``portal/adminpanel/taskruns.py``."""

    name = models.CharField(max_length=100, db_index=True)
    task_id = models.CharField(max_length=64, blank=True, db_index=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=TaskOutcome.choices, default=TaskOutcome.RUNNING)
    detail = models.TextField(blank=True)

    class Meta:
        verbose_name = _("task run")
        verbose_name_plural = _("task runs")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["name", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.name} at {self.started_at:%Y-%m-%d %H:%M:%S} ({self.outcome})"
