"""Retention policies and legal holds.

A retention policy keeps every version under a space or a folder for at least
``days`` days after the version was written; a legal hold keeps everything a
user owns, or everything in a space or folder, until an administrator releases
it. Both only forbid purging: moving to the trash stays allowed (it loses
nothing). The checks live in ``selectors.py``; every purge path asks them.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Ten years and a bit: longer periods are typos, not policies.
MAX_RETENTION_DAYS = 3700


class HoldKind(models.TextChoices):
    USER = "user", _("User")
    SPACE = "space", _("Space")
    FOLDER = "folder", _("Folder or file")


class LegalHold(models.Model):
    kind = models.CharField(max_length=8, choices=HoldKind.choices)
    # Exactly one target, by kind. SET_NULL (not PROTECT): a released hold must not keep a
    # user or a space alive forever; an active one refuses their deletion in the services.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="legal_holds")
    space = models.ForeignKey("spaces.Space", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="legal_holds")
    node = models.ForeignKey("files.Node", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="legal_holds")
    # What the target was called when the hold was made: the list stays readable after it is gone.
    target_label = models.CharField(max_length=400)
    reason = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    released_at = models.DateTimeField(null=True, blank=True, db_index=True)
    released_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    release_reason = models.TextField(blank=True)
    # Best-effort S3 Object Lock legal-hold flags on the store: what the last attempt said.
    store_flag = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(kind="user", space__isnull=True, node__isnull=True)
                           | models.Q(kind="space", user__isnull=True, node__isnull=True)
                           | models.Q(kind="folder", user__isnull=True)),
                name="legalhold_one_target_per_kind"),
        ]
        indexes = [models.Index(fields=["kind"], condition=models.Q(released_at__isnull=True),
                                name="legalhold_active_by_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.target_label}"

    @property
    def is_active(self) -> bool:
        return self.released_at is None

    @property
    def store_flag_text(self) -> str:
        """The store's Object Lock flags, as the console says it."""
        state, _sep, count = self.store_flag.partition(":")
        texts = {"pending": _("store flags: being set"),
                 "unsupported": _("store flags: not supported by this store"),
                 "flagged": _("store flags: %(count)s object(s) flagged"),
                 "cleared": _("store flags: %(count)s object(s) cleared"),
                 "failed": _("store flags: %(count)s object(s) failed (see the log)")}
        text = texts.get(state)
        return str(text) % {"count": count} if text and count else str(text or "")


class EndAction(models.TextChoices):
    NONE = "none", _("Nothing (deletion allowed again)")
    DELETE = "delete", _("Delete")
    REVIEW = "review", _("Flag for review")


class RetentionPolicy(models.Model):
    # A space's policy has node=None; a folder's names the folder (and its space).
    space = models.ForeignKey("spaces.Space", on_delete=models.CASCADE, related_name="retention_policies")
    node = models.ForeignKey("files.Node", null=True, blank=True, on_delete=models.CASCADE,
                             related_name="retention_policies")
    days = models.PositiveIntegerField()
    end_action = models.CharField(max_length=8, choices=EndAction.choices, default=EndAction.NONE)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["space_id", "node_id"]
        constraints = [
            models.UniqueConstraint(fields=["space"], condition=models.Q(node__isnull=True),
                                    name="retention_one_per_space"),
            models.UniqueConstraint(fields=["node"], condition=models.Q(node__isnull=False),
                                    name="retention_one_per_folder"),
            models.CheckConstraint(condition=models.Q(days__gte=1, days__lte=MAX_RETENTION_DAYS),
                                   name="retention_days_bounded"),
        ]

    def __str__(self) -> str:
        return f"{self.days} d"

    @property
    def period(self) -> timedelta:
        return timedelta(days=self.days)


class ReviewItem(models.Model):
    """A file whose retention ended under a 'flag for review' policy."""
    node = models.ForeignKey("files.Node", on_delete=models.CASCADE, related_name="+")
    policy = models.ForeignKey(RetentionPolicy, null=True, on_delete=models.SET_NULL, related_name="reviews")
    flagged_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        ordering = ["flagged_at", "id"]
        constraints = [models.UniqueConstraint(fields=["node"], condition=models.Q(resolved_at__isnull=True),
                                               name="reviewitem_one_open_per_node")]


# --- sensitive content (data-loss prevention) ------------------------------------------

class DetectorKind(models.TextChoices):
    ID_NUMBER = "id_number", _("Resident identity numbers")
    BANK_CARD = "bank_card", _("Bank card numbers")
    PHONE = "phone", _("Mobile phone numbers")
    EMAIL = "email", _("E-mail addresses")
    KEYWORDS = "keywords", _("Keyword list")
    REGEX = "regex", _("Regular expression")


class Detector(models.Model):
    """One configured detector: what it looks for, from how many hits it labels, and the label."""
    name = models.SlugField(max_length=60, unique=True)
    kind = models.CharField(max_length=12, choices=DetectorKind.choices)
    label = models.SlugField(max_length=60)
    threshold = models.PositiveIntegerField(default=1)
    enabled = models.BooleanField(default=True)
    keywords = models.TextField(blank=True)      # one a line (kind keywords)
    pattern = models.CharField(max_length=300, blank=True)  # kind regex
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=models.Q(threshold__gte=1), name="detector_threshold_positive")]

    def __str__(self) -> str:
        return self.name


class LabelAction(models.TextChoices):
    ALLOW = "allow", _("Allow")
    WARN = "warn", _("Warn the sharer")
    APPROVE = "approve", _("Hold for approval")
    BLOCK = "block", _("Block external links")


# Strictest last: a file with several labels gets the strictest of their actions.
ACTION_ORDER = [LabelAction.ALLOW, LabelAction.WARN, LabelAction.APPROVE, LabelAction.BLOCK]


class LabelPolicy(models.Model):
    """What external sharing does with a file carrying ``label`` (no row: allow)."""
    label = models.SlugField(max_length=60, unique=True)
    action = models.CharField(max_length=8, choices=LabelAction.choices, default=LabelAction.WARN)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["label"]

    def __str__(self) -> str:
        return f"{self.label}: {self.action}"


class ContentLabel(models.Model):
    """A label a detector (or an administrator, detector "manual") gave a
    version: how many hits, and at most a few masked samples, never a value in clear."""
    version = models.ForeignKey("files.FileVersion", on_delete=models.CASCADE, related_name="content_labels")
    node = models.ForeignKey("files.Node", on_delete=models.CASCADE, related_name="content_labels")
    label = models.SlugField(max_length=60)
    detector = models.CharField(max_length=60)
    count = models.PositiveIntegerField(default=1)
    samples = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["label", "detector"]
        constraints = [models.UniqueConstraint(fields=["version", "label", "detector"],
                                               name="contentlabel_once_per_version_detector")]
        indexes = [models.Index(fields=["node", "version"])]

    def __str__(self) -> str:
        return f"{self.label} ({self.detector} × {self.count})"


class LabelReviewState(models.TextChoices):
    PENDING = "pending", _("Waiting for review")
    APPROVED = "approved", _("Approved for external sharing")
    REJECTED = "rejected", _("Rejected: no external links")
    RELABELLED = "relabelled", _("Relabelled")


class LabelReview(models.Model):
    """A labelled version in the review queue (one per version)."""
    version = models.OneToOneField("files.FileVersion", on_delete=models.CASCADE, related_name="label_review")
    node = models.ForeignKey("files.Node", on_delete=models.CASCADE, related_name="label_reviews")
    state = models.CharField(max_length=12, choices=LabelReviewState.choices, default=LabelReviewState.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["state"], condition=models.Q(state="pending"), name="labelreview_pending")]


class LinkGate(models.Model):
    """An external share link held shut by a label's policy: waiting for an
    administrator's approval, or blocked (the file was labelled after the link
    was made). While a gate is closed the link does not work."""
    link = models.OneToOneField("shares.ShareLink", on_delete=models.CASCADE, related_name="sensitivity_gate")
    node = models.ForeignKey("files.Node", on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=8, choices=LabelAction.choices)
    labels = models.JSONField(default=list)
    closed = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        indexes = [models.Index(fields=["node"], condition=models.Q(closed=True), name="linkgate_closed_by_node")]
