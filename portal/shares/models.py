"""Share links: a node handed to people outside its space under a token.

A link works only while every switch allows it: not revoked, enabled by its
owner, not disabled by a space manager or an administrator, not expired, its
limits not reached, and the shared node still live. The counters are only
ever changed by conditional UPDATEs, so a limit holds under concurrency.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.core.access import GRANT_CAPS, Role
from portal.files.models import Node
from portal.spaces.models import Space


# The labels are the names people read, on every page that offers or shows a choice.
class Permission(models.TextChoices):
    PREVIEW = "preview", _("Preview only (no download)")  # renditions only: no path to the original bytes
    DOWNLOAD = "download", _("Download")
    UPLOAD = "upload", _("Upload only (file drop)")  # the visitor sees nothing of the folder
    EDIT = "edit", _("Download and upload new versions")  # locks respected


class Audience(models.TextChoices):
    ANYONE = "anyone", _("Anyone with the link")
    INTERNAL = "internal", _("Signed-in users of Coffer")
    PEOPLE = "people", _("Only these people (email code)")  # each proven by a one-time code


class LinkState(models.TextChoices):
    ACTIVE = "active", _("Active")
    REVOKED = "revoked", _("Revoked")
    DISABLED = "disabled", _("Disabled")
    EXPIRED = "expired", _("Expired")
    EXHAUSTED = "exhausted", _("Exhausted")
    REMOVED = "removed", _("Removed")     # the shared file or folder was deleted


class ShareLink(models.Model):
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="share_links")
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="share_links")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="share_links")
    selector = models.CharField(max_length=16, unique=True)
    verifier = models.CharField(max_length=64)       # SHA-256 of the token's secret part
    sealed_token = models.TextField()                # AES-GCM under the master key: the owner can copy the link again
    permission = models.CharField(max_length=8, choices=Permission.choices)
    audience = models.CharField(max_length=8, choices=Audience.choices, default=Audience.ANYONE)
    password_hash = models.CharField(max_length=256, blank=True)
    # Bumped when the password or recipients change, so earlier unlocks stop counting.
    unlock_epoch = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    max_downloads = models.PositiveIntegerField(null=True, blank=True)
    max_previews = models.PositiveIntegerField(null=True, blank=True)
    download_count = models.PositiveIntegerField(default=0)
    preview_count = models.PositiveIntegerField(default=0)
    watermark = models.CharField(max_length=200, blank=True)
    notify_on_first_download = models.BooleanField(default=False)
    first_download_at = models.DateTimeField(null=True, blank=True)
    owner_enabled = models.BooleanField(default=True)
    manager_enabled = models.BooleanField(default=True)
    manager_disabled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                            on_delete=models.SET_NULL, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    expiry_recorded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("share link")
        verbose_name_plural = _("share links")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"link {self.pk} on {self.node}"

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)

    def state_at(self, now=None) -> str:
        now = now or timezone.now()
        if self.revoked_at is not None:
            return LinkState.REVOKED
        if self.node.trashed_at is not None:
            return LinkState.REMOVED
        if not (self.owner_enabled and self.manager_enabled):
            return LinkState.DISABLED
        if self.expires_at is not None and self.expires_at <= now:
            return LinkState.EXPIRED
        if self.is_exhausted:
            return LinkState.EXHAUSTED
        return LinkState.ACTIVE

    @property
    def is_exhausted(self) -> bool:
        """A limit that is reached stops the whole link."""
        return ((self.max_downloads is not None and self.download_count >= self.max_downloads)
                or (self.max_previews is not None and self.preview_count >= self.max_previews))


class ShareRecipient(models.Model):
    """A named person of a ``people`` link: they prove the address with a code."""

    link = models.ForeignKey(ShareLink, on_delete=models.CASCADE, related_name="recipients")
    email = models.EmailField()

    class Meta:
        ordering = ["email"]
        constraints = [models.UniqueConstraint(fields=["link", "email"], name="share_recipient_unique")]

    def __str__(self) -> str:
        return self.email


class SpaceSharePolicy(models.Model):
    """A space's tightening of the deployment's link policy (never a loosening)."""

    space = models.OneToOneField(Space, on_delete=models.CASCADE, related_name="share_policy")
    default_days = models.PositiveIntegerField(null=True, blank=True)
    max_days = models.PositiveIntegerField(null=True, blank=True)
    allow_permanent = models.BooleanField(null=True, blank=True)
    require_password = models.BooleanField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"link policy of {self.space}"


GRANT_ROLES = [(role, Role(role).label) for role in GRANT_CAPS]


class InternalShare(models.Model):
    """A file or folder given to a colleague or a group (exactly one of the
    two) without making them members of its space: they may read it (viewer)
    or also change it (editor), and everything below it, and nothing else of
    the space. Live while not revoked, not expired, the node still in the
    space it was shared in, and its sharer still allowed to share there."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="internal_shares")
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="internal_shares")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="internal_shares_received")
    group = models.ForeignKey("people.Group", null=True, blank=True, on_delete=models.CASCADE,
                              related_name="internal_shares")
    role = models.CharField(_("role"), max_length=8, choices=GRANT_ROLES)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("internal share")
        verbose_name_plural = _("internal shares")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(user__isnull=False, group__isnull=True)
                                   | models.Q(user__isnull=True, group__isnull=False),
                                   name="internal_share_user_xor_group"),
            models.UniqueConstraint(fields=["node", "user"], condition=models.Q(revoked_at__isnull=True),
                                    name="internal_share_one_live_per_user"),
            models.UniqueConstraint(fields=["node", "group"], condition=models.Q(revoked_at__isnull=True),
                                    name="internal_share_one_live_per_group"),
        ]
        indexes = [models.Index(fields=["user", "revoked_at"]), models.Index(fields=["group", "revoked_at"])]

    def __str__(self) -> str:
        return f"{self.node} shared with {self.user or self.group} as {self.role}"

    def is_live(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
