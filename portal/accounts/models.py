from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.db.models.functions import Lower
from django.utils import timezone


class User(AbstractUser):
    """Coffer's user; custom from the first migration so it can grow."""

    # An IANA zone name the pages show times in; blank: the deployment's TIME_ZONE.
    time_zone = models.CharField(max_length=64, blank=True, default="")
    # How the portal names them (header, lists); blank: the username.
    display_name = models.CharField(_("display name"), max_length=150, blank=True, default="")
    # The pages' and e-mails' language; blank: the browser's (Accept-Language, the header's switcher).
    language = models.CharField(_("language"), max_length=10, blank=True, default="", choices=settings.LANGUAGES)

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


class Invitation(models.Model):
    """An administrator's invitation to ``email``: a one-time link to choose a
    username and password. Only a hash of the link's secret is stored; the
    public ``selector`` finds the row (portal.core.tokens)."""

    email = models.EmailField(max_length=254)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="invitations_sent")
    created_at = models.DateTimeField(default=timezone.now)
    selector = models.CharField(max_length=32, unique=True)
    verifier_hash = models.CharField(max_length=64)
    staff = models.BooleanField(default=False)  # the account becomes an administrator
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_user = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.email

    @property
    def is_open(self) -> bool:
        """Neither used, revoked nor expired: the link still works. An
        invitation to become an administrator works only while whoever sent it
        is still an active administrator (demoting or disabling them ends it)."""
        from portal.core.access import is_admin

        return (self.accepted_at is None and self.revoked_at is None and self.expires_at > timezone.now()
                and (not self.staff or is_admin(self.created_by)))
