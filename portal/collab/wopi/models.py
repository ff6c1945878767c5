"""WOPI access tokens: what an office server presents on every request for one user and one file."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.files.models import Node

__all__ = ["WopiToken"]


class WopiToken(models.Model):
    """Only the SHA-256 of the token is kept: a copy of the table opens no document.
    ``can_write``: the user could write when it was issued; every request checks their role again."""
    digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+")
    can_write = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = _("office editor access token")
        verbose_name_plural = _("office editor access tokens")
        indexes = (models.Index(fields=["expires_at"], name="wopi_token_expiry"),)

    def __str__(self) -> str:
        return f"WOPI token for {self.user_id} on {self.node_id}"

    def is_live(self, now=None) -> bool:
        return self.expires_at > (now or timezone.now())
