"""Document locks: leases on a file (or, for WebDAV, a folder) that keep
everyone but their owner from changing it until they are released, broken or
expire.

One table serves the portal, the API and WebDAV: ``token`` is the full
``opaquelocktoken:`` URI a WebDAV client sends back in its If header. A lock
stops applying at ``expires_at`` (checked on every access); the beat task only
tidies expired rows away and records that they expired.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils import timezone

from portal.files.models import Node


class LockKind(models.TextChoices):
    MANUAL = "manual", _("Manual")    # taken in the portal or over the API; the owner's session is enough
    EDITOR = "editor", _("Editor")    # taken by a WebDAV client; writes must carry the token
    AGENT = "agent", _("Agent")      # taken by the desktop agent; writes must carry the token
    COEDIT = "coedit", _("Co-editing")  # shared, one per editor of an open co-editing session (portal.collab)


class LockScope(models.TextChoices):
    EXCLUSIVE = "exclusive"
    SHARED = "shared"


class LockDepth(models.TextChoices):
    ZERO = "0"
    INFINITY = "infinity"


def new_token() -> str:
    return f"opaquelocktoken:{uuid.uuid4()}"


class Lock(models.Model):
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="locks")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="locks")
    token = models.CharField(max_length=100, unique=True, default=new_token, editable=False)
    kind = models.CharField(max_length=8, choices=LockKind.choices, default=LockKind.MANUAL)
    scope = models.CharField(max_length=9, choices=LockScope.choices, default=LockScope.EXCLUSIVE)
    depth = models.CharField(max_length=8, choices=LockDepth.choices, default=LockDepth.ZERO)
    created_at = models.DateTimeField(default=timezone.now)
    refreshed_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    timeout_seconds = models.PositiveIntegerField()
    client = models.CharField(max_length=255, blank=True)   # "LibreOffice on LAPTOP-42"
    note = models.CharField(max_length=500, blank=True)
    # The lock string an office server chose (WOPI X-WOPI-Lock) for an editor lock taken through WOPI.
    wopi_lock = models.CharField(max_length=1024, blank=True)

    class Meta:
        verbose_name = _("lock")
        verbose_name_plural = _("locks")
        ordering = ("created_at", "id")
        indexes = (models.Index(fields=["node", "expires_at"], name="lock_node_expiry"),
                   models.Index(fields=["expires_at"], name="lock_expiry"))
        constraints = (
            # Only WebDAV locks folders (collection locks); the portal and the agent lock files.
            models.CheckConstraint(condition=models.Q(kind=LockKind.EDITOR) | models.Q(depth=LockDepth.ZERO),
                                   name="lock_depth_infinity_editor_only"),
        )

    def __str__(self) -> str:
        return f"{self.kind} lock on {self.node} by {self.owner_id}"

    def is_live(self, now=None) -> bool:
        return self.expires_at > (now or timezone.now())

    @property
    def needs_token(self) -> bool:
        """Editor and agent locks let a write through only with their token;
        a manual lock's owner is recognised by their session alone."""
        return self.kind != LockKind.MANUAL
