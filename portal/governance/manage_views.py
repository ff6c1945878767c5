"""/manage/governance/: administrators see ransomware alerts (each with its restore
link), list legal holds (active and
released), put a user, space or folder under a hold and release one (with a
reason each time), set and clear retention policies, and mark files flagged
at the end of their retention as reviewed. Everyone else gets 404."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from portal.adminpanel.console.access import console_page
from portal.core.errors import InvalidInput, NotFound
from portal.files import names
from portal.files.selectors import path_walk
from portal.governance import selectors, services
from portal.governance.models import EndAction, HoldKind
from portal.governance.services_ransomware import ransomware_alert_list
from portal.spaces.models import Space
from portal.web.common import go_to


def _space(value: str) -> Space:
    value = (value or "").strip()
    space = Space.objects.filter(slug=value).first() if value else None
    if space is None:
        raise NotFound(gettext("No space has the address %(slug)r; use the space's address as its URL shows it.")
                       % {"slug": value[:100]}, detail={"field": "space"})
    return space


def _node_id(space: Space, path: str) -> int:
    path_names = names.split_path(path or "/", existing=True)
    if not path_names:
        raise InvalidInput(gettext("Name a folder or file inside the space, such as /Contracts."),
                           code="root_folder", detail={"field": "path"})
    chain = path_walk(space, path_names)
    if len(chain) <= len(path_names):
        raise NotFound(gettext("Nothing is at %(path)s in this space.") % {"path": path[:300]},
                       detail={"field": "path"})
    return chain[-1].pk


def _target_id(kind: str, data) -> int:
    target = (data.get("target") or "").strip()
    if kind == HoldKind.USER:
        user = get_user_model().objects.filter(username__iexact=target).first() if target else None
        if user is None:
            raise NotFound(gettext("No user is called %(name)r.") % {"name": target[:150]}, detail={"field": "target"})
        return user.pk
    if kind == HoldKind.SPACE:
        return _space(target).pk
    if kind == HoldKind.FOLDER:
        return _node_id(_space(data.get("space")), data.get("path"))
    raise InvalidInput(gettext("A hold is on a user, a space or a folder (kind: user, space or folder)."),
                       code="invalid_kind", detail={"field": "kind"})


def _days(value) -> int:
    value = (value or "").strip()
    if not value.isdigit():
        raise InvalidInput(gettext("Days are a whole number, 1 or more."), code="invalid_days", detail={"field": "days"})
    return int(value)


@console_page
def governance_page(request):
    return render(request, "manage/governance.html", {
        "console_section": "governance",
        "active_holds": selectors.hold_list(active=True),
        "released_holds": selectors.hold_list(active=False)[:50],
        "policies": selectors.retention_list(),
        "reviews": selectors.review_list()[:200],
        "ransomware_alerts": ransomware_alert_list(actor=request.user, limit=50),
        "kinds": HoldKind.choices, "end_actions": EndAction.choices,
    })


@console_page
@require_POST
def hold_create(request):
    kind = (request.POST.get("kind") or "").strip()
    hold = services.hold_create(actor=request.user, kind=kind, target_id=_target_id(kind, request.POST),
                                reason=request.POST.get("reason") or "")
    messages.success(request, gettext("%(target)s is under a legal hold.") % {"target": hold.target_label})
    return go_to(request, reverse("governance:page"))


@console_page
@require_POST
def hold_release(request, hold_id: int):
    hold = services.hold_release(actor=request.user, hold_id=hold_id, reason=request.POST.get("reason") or "")
    messages.success(request, gettext("The legal hold on %(target)s is released.") % {"target": hold.target_label})
    return go_to(request, reverse("governance:page"))


@console_page
@require_POST
def retention_set(request):
    data = request.POST
    space = _space(data.get("space"))
    path = (data.get("path") or "").strip()
    node_id = _node_id(space, path) if path not in ("", "/") else None
    services.retention_set(actor=request.user, space_id=space.pk, node_id=node_id, days=_days(data.get("days")),
                           end_action=(data.get("end_action") or EndAction.NONE).strip())
    messages.success(request, gettext("The retention policy is saved."))
    return go_to(request, reverse("governance:page"))


@console_page
@require_POST
def retention_clear(request, policy_id: int):
    services.retention_clear(actor=request.user, policy_id=policy_id)
    messages.success(request, gettext("The retention policy is cleared."))
    return go_to(request, reverse("governance:page"))


@console_page
@require_POST
def review_resolve(request, item_id: int):
    services.review_resolve(actor=request.user, item_id=item_id)
    messages.success(request, gettext("Marked as reviewed."))
    return go_to(request, reverse("governance:page"))
