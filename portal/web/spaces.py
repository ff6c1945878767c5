"""My spaces: the list with quota bars, and creating a team space."""

from __future__ import annotations

from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from portal.adminpanel.selectors import may_create_space
from portal.spaces.selectors import spaces_visible_to
from portal.spaces.services import space_create
from portal.web.common import go_to, portal_page


def quota_percent(space) -> int:
    return min(100, round(100 * space.used_bytes / space.quota_bytes)) if space.quota_bytes else 0


@portal_page
def space_list(request):
    spaces = list(spaces_visible_to(request.user))
    for space in spaces:
        space.percent = quota_percent(space)
    return render(request, "web/spaces.html", {"spaces": spaces, "may_create_space": may_create_space(request.user)})


@portal_page
@require_POST
def space_new(request):
    space = space_create(actor=request.user, name=request.POST.get("name", ""))
    return go_to(request, reverse("web:browser", args=[space.pk]))
