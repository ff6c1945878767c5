"""Console: site settings — who may create team spaces, and the quota new
team spaces get."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext

from portal.adminpanel.console import forms
from portal.adminpanel.console.access import console_page
from portal.adminpanel.models import SpaceCreation
from portal.adminpanel.selectors import site_settings_get
from portal.adminpanel.services import site_settings_update
from portal.core.errors import InvalidInput
from portal.core.sizes import size_text
from portal.people.selectors import group_get, groups_list
from portal.web.common import go_to


def _group(data, policy: str):
    if policy != SpaceCreation.GROUP:
        return None
    if not data.get("group"):
        raise InvalidInput(gettext("Choose the group whose members may create team spaces."),
                           code="group_required", detail={"field": "group"})
    return group_get(data["group"])


@console_page
def site_settings(request):
    if request.method == "POST":
        policy = request.POST.get("space_creation", "")
        site_settings_update(actor=request.user, space_creation=policy, group=_group(request.POST, policy),
                             default_team_quota=forms.size(request.POST, "default_quota", required=False))
        messages.success(request, gettext("The settings were saved."))
        return go_to(request, reverse("manage:settings"))
    row = site_settings_get()
    quota = row.default_team_quota
    return render(request, "manage/settings.html", {
        "console_section": "settings", "row": row, "policies": SpaceCreation.choices, "groups": groups_list(),
        "default_quota": size_text(quota) if quota is not None else "",
        "deployment_quota": size_text(settings.DEFAULT_SPACE_QUOTA)})
