from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.db.models.functions import Lower
from django.utils import timezone


class User(AbstractUser):
    """Coffer's user; custom from the first migration so it can grow."""

    # An IANA zone name the pages show times in; blank: the deployment's TIME_ZONE.
    time_zone = models.CharField(max_length=64, blank=True, default="")

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        # "Carol" and "carol" would be one person to everyone reading a list.
        constraints = [models.UniqueConstraint(Lower("username"), name="user_username_unique_ignoring_case")]


class PersonalAccessToken(models.Model):
    """An API / agent credential. Only a hash of the secret is stored; the
    public ``selector`` finds the row so verification is a constant-time compare."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="access_tokens")
    name = models.CharField(max_length=100)
    selector = models.CharField(max_length=32, unique=True)
    verifier_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("personal access token")
        verbose_name_plural = _("personal access tokens")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.user.get_username()})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired
