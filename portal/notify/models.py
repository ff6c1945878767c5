"""Notifications (one row per recipient and thing to tell), follows, e-mail
preferences, webhooks and their deliveries.

A notification keeps the kind and the few words its sentence needs
(``params``); the sentence is written when it is read, in the reader's
language. ``key`` makes a dispatch safe to run twice: one row per (user, key).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    SHARED = "shared", _("Shared with you")
    SPACE_ADDED = "space_added", _("Added to a space")
    LINK_OPENED = "link_opened", _("Your link was opened")
    LINK_DOWNLOADED = "link_downloaded", _("Your link was downloaded")
    LOCK_BROKEN = "lock_broken", _("Your lock was broken")
    FOLLOWED_CHANGED = "followed_changed", _("A file you follow changed")
    BACKUP_STALE = "backup_stale", _("A device has not backed up")
    QUOTA_NEARLY_FULL = "quota_nearly_full", _("A space is nearly full")
    FILE_READY = "file_ready", _("An archived file is ready")
    RANSOMWARE_SUSPECTED = "ransomware_suspected", _("Ransomware suspected")
    FILES_DAMAGED = "files_damaged", _("Stored files found damaged")


class EmailMode(models.TextChoices):
    OFF = "off", _("Off")
    IMMEDIATE = "immediate", _("At once")
    DIGEST = "digest", _("Daily digest")


# Rare and actionable: at once. Frequent or merely informative: in the digest.
DEFAULT_EMAIL_MODES = {
    Kind.SHARED: EmailMode.IMMEDIATE,
    Kind.SPACE_ADDED: EmailMode.IMMEDIATE,
    Kind.LOCK_BROKEN: EmailMode.IMMEDIATE,
    Kind.BACKUP_STALE: EmailMode.IMMEDIATE,
    Kind.FILE_READY: EmailMode.IMMEDIATE,
    Kind.QUOTA_NEARLY_FULL: EmailMode.IMMEDIATE,
    Kind.RANSOMWARE_SUSPECTED: EmailMode.IMMEDIATE,
    Kind.FILES_DAMAGED: EmailMode.IMMEDIATE,
    Kind.LINK_OPENED: EmailMode.DIGEST,
    Kind.LINK_DOWNLOADED: EmailMode.DIGEST,
    Kind.FOLLOWED_CHANGED: EmailMode.DIGEST,
}


class Notification(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    key = models.CharField(max_length=128)
    event = models.ForeignKey("audit.AuditEvent", null=True, blank=True, on_delete=models.DO_NOTHING,
                              db_constraint=False, related_name="+")
    actor_label = models.CharField(max_length=150, blank=True)
    params = models.JSONField(default=dict, blank=True)
    url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    email_mode = models.CharField(max_length=16, choices=EmailMode.choices, default=EmailMode.OFF)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="notification_once_per_user_key")]
        indexes = [
            # The bell's count: a partial index of the unread rows only.
            models.Index(fields=["user"], condition=models.Q(read_at__isnull=True), name="notification_unread"),
            models.Index(fields=["user", "-created_at"]),
            models.Index(fields=["user"], condition=models.Q(email_mode="digest", emailed_at__isnull=True),
                         name="notification_digest_due"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}"


class Follow(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="follows")
    node = models.ForeignKey("files.Node", on_delete=models.CASCADE, related_name="followers")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "node"], name="follow_unique")]


class EmailPreference(models.Model):
    """A user's e-mail choice per kind; kinds not in ``modes`` take DEFAULT_EMAIL_MODES."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True,
                                related_name="email_preference")
    modes = models.JSONField(default=dict, blank=True)
    last_digest_at = models.DateTimeField(null=True, blank=True)

    def mode(self, kind: str) -> str:
        return self.modes.get(kind) or DEFAULT_EMAIL_MODES.get(kind, EmailMode.DIGEST)


class QuotaAlert(models.Model):
    """Whether a space is above the warning line: owners are told once per crossing."""

    space = models.OneToOneField("spaces.Space", on_delete=models.CASCADE, primary_key=True, related_name="+")
    above = models.BooleanField(default=False)
    crossings = models.PositiveIntegerField(default=0)


class Webhook(models.Model):
    url = models.URLField(max_length=500)
    # AES-GCM under the master key's webhook-secrets key: needed in clear to sign each delivery.
    sealed_secret = models.TextField()
    events = models.JSONField(default=list)  # action codes; "*" for every event
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url

    def wants(self, action: str) -> bool:
        return "*" in self.events or action in self.events


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Gave up")


class WebhookDelivery(models.Model):
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey("audit.AuditEvent", null=True, blank=True, on_delete=models.DO_NOTHING,
                              db_constraint=False, related_name="+")  # none for a test ping
    action = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    log = models.JSONField(default=list, blank=True)  # one entry per attempt: at, code, error
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["webhook", "event"], condition=models.Q(event__isnull=False),
                                               name="delivery_once_per_event")]
        indexes = [models.Index(fields=["next_attempt_at"], condition=models.Q(status="pending"),
                                name="delivery_pending")]
