"""Writes from the admin console that belong to no other app: the site
settings. Administrators only."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext

from portal.adminpanel.models import SiteSettings, SpaceCreation
from portal.audit.actions import Action
from portal.audit.services import record
from portal.core.access import require_admin
from portal.core.errors import InvalidInput
from portal.core.validation import whole_number
from portal.people.models import Group

MAX_QUOTA = 2**60


def _clean_policy(space_creation, group):
    if space_creation not in SpaceCreation.values:
        raise InvalidInput(gettext("Choose who may create team spaces from the list."),
                           code="invalid_space_creation", detail={"field": "space_creation"})
    if space_creation != SpaceCreation.GROUP:
        return None
    if not isinstance(group, Group):
        raise InvalidInput(gettext("Choose the group whose members may create team spaces."),
                           code="group_required", detail={"field": "group"})
    return group


@transaction.atomic
def site_settings_update(*, actor, space_creation: str, group: Group | None = None,
                         default_team_quota: int | None = None) -> SiteSettings:
    """Administrators choose who may create team spaces (everyone, members
    of ``group``, administrators only) and the quota new team spaces get
    (None: the deployment's default). One event lists what changed."""
    require_admin(actor, gettext("Only administrators change this."))
    group = _clean_policy(space_creation, group)
    if default_team_quota is not None:
        default_team_quota = whole_number(default_team_quota, field="default_team_quota", minimum=0, maximum=MAX_QUOTA)
    row, _ = SiteSettings.objects.select_for_update().get_or_create(pk=1)
    new = {"space_creation": space_creation, "space_creation_group_id": group.pk if group else None,
           "default_team_quota": default_team_quota}
    changes = {field: {"from": getattr(row, field), "to": value} for field, value in new.items()
               if getattr(row, field) != value}
    if changes:
        for field, value in new.items():
            setattr(row, field, value)
        row.save()
        if group is not None:
            changes["space_creation_group_id"]["name"] = group.name
        record(action=Action.SITE_SETTINGS_CHANGED, actor=actor, target=row, details=changes)
    return row
