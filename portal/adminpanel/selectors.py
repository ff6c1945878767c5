"""Reads of the console's site settings, and the space-creation policy."""

from __future__ import annotations

from django.conf import settings

from portal.adminpanel.models import SiteSettings, SpaceCreation
from portal.core.access import is_admin


def site_settings_get() -> SiteSettings:
    """The settings row, or an unsaved one with the defaults (nothing chosen yet)."""
    return SiteSettings.objects.select_related("space_creation_group").filter(pk=1).first() or SiteSettings(pk=1)


def default_team_quota() -> int:
    """The quota a new team space gets unless an administrator chooses one."""
    value = SiteSettings.objects.filter(pk=1).values_list("default_team_quota", flat=True).first()
    return settings.DEFAULT_SPACE_QUOTA if value is None else value


def may_create_space(user) -> bool:
    """Whether ``user`` may create a team space under the site's policy.
    Administrators always may; with "a group", a deleted group leaves only them."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if is_admin(user):
        return True
    row = SiteSettings.objects.filter(pk=1).values("space_creation", "space_creation_group_id").first()
    if row is None or row["space_creation"] == SpaceCreation.EVERYONE:
        return True
    if row["space_creation"] == SpaceCreation.GROUP and row["space_creation_group_id"]:
        return user.group_memberships.filter(group_id=row["space_creation_group_id"]).exists()
    return False
