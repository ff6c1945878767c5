"""/manage/storage/: administrators see what each storage tier holds and
the lifecycle tasks' last runs, and give spaces their own tiering policy.
Everyone else gets 404."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from portal.adminpanel.console.access import console_page
from portal.core.errors import InvalidInput, NotFound
from portal.lifecycle import selectors, services
from portal.spaces.models import Space
from portal.web.common import go_to


def _space(data) -> Space:
    value = (data.get("space") or "").strip()
    space = Space.objects.filter(deleted_at__isnull=True, slug=value).first() if value else None
    if space is None:
        raise NotFound(gettext("No space has the address %(slug)r; use the space's address as its URL shows it.")
                       % {"slug": value[:100]}, detail={"field": "space"})
    return space


def _days(data, name: str) -> int:
    value = (data.get(name) or "").strip()
    if not value.isdigit():
        raise InvalidInput(gettext("Days are a whole number, 0 or more (0: never)."), code="invalid_days",
                           detail={"field": name})
    return int(value)


@console_page
def storage_page(request):
    return render(request, "manage/storage.html", {"console_section": "storage", **selectors.storage_overview()})


@console_page
@require_POST
def space_policy_set(request):
    data = request.POST
    space = _space(data)
    services.space_tier_policy_set(actor=request.user, space=space, tier=(data.get("tier") or "").strip(),
                                   current_days=_days(data, "current_days"), old_days=_days(data, "old_days"),
                                   trash_days=_days(data, "trash_days"),
                                   promote_on_read=data.get("promote_on_read") == "1")
    messages.success(request, gettext("%(name)s has its own storage policy.") % {"name": space.name})
    return go_to(request, reverse("tiers:page"))


@console_page
@require_POST
def space_policy_clear(request, space_id: int):
    space = Space.objects.filter(pk=space_id).first()
    if space is None:
        raise NotFound(gettext("No such space."))
    services.space_tier_policy_clear(actor=request.user, space=space)
    messages.success(request, gettext("%(name)s follows the deployment's storage policy again.") % {"name": space.name})
    return go_to(request, reverse("tiers:page"))
