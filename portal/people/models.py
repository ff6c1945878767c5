"""Groups of users and the outside identities users are matched by.

A group is local (made in the portal) or mirrored from a directory or an
identity provider (LDAP, OpenID Connect claims, SCIM); a mirrored group is
found again by its ``external_id`` (a DN, a claim value, a SCIM id), so a
renamed group at the source stays the same group here.
"""

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class GroupSource(models.TextChoices):
    LOCAL = "local", _("Local")
    LDAP = "ldap", _("LDAP directory")
    OIDC = "oidc", _("Single sign-on")
    SCIM = "scim", _("SCIM provisioning")


class Group(models.Model):
    name = models.CharField(_("name"), max_length=150)
    source = models.CharField(_("source"), max_length=8, choices=GroupSource.choices, default=GroupSource.LOCAL)
    external_id = models.CharField(_("external id"), max_length=512, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="GroupMember", related_name="people_groups")

    class Meta:
        verbose_name = _("group")
        verbose_name_plural = _("groups")
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="group_name_unique_ignoring_case"),
            models.UniqueConstraint(fields=["source", "external_id"], condition=~models.Q(external_id=""),
                                    name="group_external_id_unique_per_source"),
        ]

    def __str__(self) -> str:
        return self.name


class GroupMember(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="group_memberships")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "user"], name="group_member_unique")]
        indexes = [models.Index(fields=["user", "group"])]

    def __str__(self) -> str:
        return f"{self.user} in {self.group}"


class ExternalIdentity(models.Model):
    """Who a user is at a directory or identity provider (an LDAP entry's
    DN or UUID, an OpenID ``sub``, a SCIM externalId): how the next sign-in
    or sync finds the same account even after a rename."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="external_identities")
    source = models.CharField(max_length=8, choices=GroupSource.choices)
    subject = models.CharField(max_length=512)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("external identity")
        verbose_name_plural = _("external identities")
        constraints = [models.UniqueConstraint(fields=["source", "subject"], name="external_identity_unique")]

    def __str__(self) -> str:
        return f"{self.source}:{self.subject} → {self.user}"


from portal.people.scim.models import ScimToken  # noqa: E402,F401  (SCIM provisioning tokens, portal/people/scim)
