from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from portal.core.access import Role

SLUG_MAX = 120


def unique_slug(name: str, *, exclude: int | None = None) -> str:
    """A URL name for a space (``/dav/<slug>/``): ASCII, lowercase, unique;
    "-2", "-3", ... when taken. Kept when the space is renamed, so mounted
    WebDAV clients and bookmarks keep working."""
    base = (slugify(name) or "space")[:SLUG_MAX - 8].strip("-") or "space"
    taken = Space.objects.filter(slug__startswith=base)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    used = set(taken.values_list("slug", flat=True))
    candidate, number = base, 1
    while candidate in used:
        number += 1
        candidate = f"{base}-{number}"
    return candidate


# Bounds of a space's version retention: beyond them a number only breaks
# date arithmetic (or the integer column) and means "keep forever" anyway.
MAX_KEEP_VERSIONS = 10_000
MAX_KEEP_VERSION_DAYS = 36_500  # a hundred years


class SpaceKind(models.TextChoices):
    TEAM = "team", _("Team")
    PERSONAL = "personal", _("Personal")


class Space(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=SLUG_MAX, unique=True)
    kind = models.CharField(max_length=16, choices=SpaceKind.choices, default=SpaceKind.TEAM)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="created_spaces")
    quota_bytes = models.BigIntegerField()
    used_bytes = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    archived_at = models.DateTimeField(null=True, blank=True)
    # In the trash: gone for everyone (administrators restore it from the console).
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    # Version retention; None falls back to the deployment's default.
    keep_versions = models.PositiveIntegerField(null=True, blank=True)
    keep_version_days = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("space")
        verbose_name_plural = _("spaces")
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(Lower("name"), "created_by", condition=models.Q(kind="team"),
                                    name="space_team_name_unique_per_creator"),
            models.UniqueConstraint(fields=["created_by"], condition=models.Q(kind="personal"),
                                    name="space_one_personal_per_user"),
            models.CheckConstraint(condition=models.Q(used_bytes__gte=0), name="space_used_not_negative"),
            models.CheckConstraint(condition=models.Q(quota_bytes__gte=0), name="space_quota_not_negative"),
            models.CheckConstraint(condition=models.Q(keep_versions__lte=MAX_KEEP_VERSIONS),
                                   name="space_keep_versions_bounded"),
            models.CheckConstraint(condition=models.Q(keep_version_days__lte=MAX_KEEP_VERSION_DAYS),
                                   name="space_keep_version_days_bounded"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if self.slug:
            return super().save(*args, **kwargs)
        for _attempt in range(5):  # a concurrent space may take the same slug between the check and the insert
            self.slug = unique_slug(self.name or "space", exclude=self.pk)
            try:
                with transaction.atomic():
                    return super().save(*args, **kwargs)
            except IntegrityError as exc:
                self.slug = ""
                if "slug" not in str(exc):
                    raise
        raise IntegrityError("No free slug for this space; try again.")

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def is_trashed(self) -> bool:
        return self.deleted_at is not None


class Membership(models.Model):
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["user__username"]
        constraints = [models.UniqueConstraint(fields=["space", "user"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} in {self.space} as {self.role}"


class SpaceGroup(models.Model):
    """A group granted a role in a space: every member of the group has at
    least that role there (a member's role is the highest of their own and
    their groups')."""

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="group_grants")
    group = models.ForeignKey("people.Group", on_delete=models.CASCADE, related_name="space_grants")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["group__name"]
        constraints = [models.UniqueConstraint(fields=["space", "group"], name="space_group_unique")]

    def __str__(self) -> str:
        return f"{self.group} in {self.space} as {self.role}"
