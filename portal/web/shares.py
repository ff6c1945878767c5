"""The share dialog (every option of a link, policy defaults filled in,
errors next to their field; "Share with people": colleagues and groups),
"My links" with access logs, edit and revoke."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.contrib import messages
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.core.access import Cap
from portal.spaces.selectors import can
from portal.core.errors import InvalidInput, PortalError
from portal.files import selectors as files
from portal.shares import tokens
from portal.shares.models import Audience, Permission
from portal.shares.policy import policy_for
from portal.people.selectors import groups_list
from portal.shares.selectors import (access_internal_share, access_link, accesses_list, internal_shares_of,
                                     link_path_names, links_visible_to)
from portal.shares.services import (
    internal_share_create,
    internal_share_revoke,
    share_link_create,
    share_link_revoke,
    share_link_update,
)
from portal.shares.tokens import link_url
from portal.web.common import go_to, portal_page

FIELDS = ("permission", "audience", "emails", "password", "expires_at", "max_downloads", "max_previews",
          "watermark")


def _field_of(exc: PortalError) -> str:
    """Which form field a service's refusal is about (by its code), or "" for the form as a whole."""
    code = exc.code or ""
    for field in FIELDS:
        if field in code:
            return field
    if "expir" in code or "permanent" in code or "days" in code:
        return "expires_at"
    return ""


def _expiry(data, policy) -> tuple[bool, object]:
    """(given, value): the end of the chosen day, None for "never" (policy permitting), or not given."""
    if data.get("never_expires") == "on":
        return True, None
    raw = (data.get("expires_on") or "").strip()
    if not raw:
        return False, None
    try:
        day = datetime.strptime(raw, "%Y-%m-%d").date()
    except ValueError:
        raise InvalidInput(_("Pick the expiry date from the calendar."), code="invalid_expires_at") from None
    return True, timezone.make_aware(datetime.combine(day, time(23, 59)))


def _limit(data, name: str):
    raw = (data.get(name) or "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:  # "²" is a digit to isdigit, not to int
        raise InvalidInput(_("Use a whole number above zero, or leave it empty for no limit."),
                           code=f"invalid_{name}")
    return int(raw)


def _emails(data) -> list[str]:
    return [part.strip() for part in (data.get("emails") or "").replace(",", "\n").splitlines() if part.strip()]


def _options(data, policy) -> dict:
    options = {"permission": data.get("permission", ""), "password": data.get("password") or None,
               "max_downloads": _limit(data, "max_downloads"), "max_previews": _limit(data, "max_previews"),
               "watermark": data.get("watermark", ""),
               "notify_on_first_download": data.get("notify_on_first_download") == "on"}
    given, expiry = _expiry(data, policy)
    if given:
        options["expires_at"] = expiry
    return options


def _dialog(request, node, *, values=None, error=None, status=200):
    policy = policy_for(node.space)
    default_day = (timezone.localdate() + timedelta(days=policy.default_days)).isoformat()
    max_day = (timezone.localdate() + timedelta(days=policy.max_days)).isoformat()
    values = values or {"permission": "download", "audience": "anyone", "expires_on": default_day}
    response = render(request, "web/shares/_dialog.html", {
        "node": node, "policy": policy, "values": values, "max_day": max_day,
        "min_day": timezone.localdate().isoformat(),
        "error": error, "error_field": _field_of(error) if error else "",
        "permissions": Permission.choices if node.is_folder else [
            (value, label) for value, label in Permission.choices if value != Permission.UPLOAD],
        "audiences": Audience.choices,
        "links": [link for link in links_visible_to(request.user, mine=True).filter(node=node)
                  if link.revoked_at is None],
        **_people_context(node),
    }, status=status)
    response["X-Coffer-Swap"] = "in-place"  # the form itself carries its errors: htmx swaps it even on 4xx
    return response


@portal_page
def share_dialog(request, space_id, node_id):
    node = files.locate_node(request.user, node_id, Cap.SHARE_CREATE).node
    if request.method != "POST":
        return _dialog(request, node)
    data = request.POST
    try:
        policy = policy_for(node.space)
        options = _options(data, policy)
        link, token = share_link_create(actor=request.user, node_id=node.pk, audience=data.get("audience", ""),
                                        emails=_emails(data) if data.get("audience") == Audience.PEOPLE else None,
                                        **options)
    except PortalError as exc:
        return _dialog(request, node, values=data, error=exc, status=exc.status)
    return render(request, "web/shares/_created.html", {"node": node, "link": link, "url": link_url(token)})


def _people_context(node, *, values=None, error=None) -> dict:
    return {"node": node, "internal_shares": list(internal_shares_of(node)[:100]), "groups": groups_list()[:500],
            "people_values": values or {"role": "viewer"}, "people_error": error,
            "min_day": timezone.localdate().isoformat()}


def _people(request, node, *, values=None, error=None, status=200):
    response = render(request, "web/shares/_people.html", _people_context(node, values=values, error=error),
                      status=status)
    response["X-Coffer-Swap"] = "in-place"
    return response


@portal_page
@require_POST
def share_people(request, space_id, node_id):
    """Share with a colleague (username) or a group, as viewer or editor, maybe until a day."""
    node = files.locate_node(request.user, node_id, Cap.SHARE_CREATE).node
    data = request.POST
    try:
        given, expiry = _expiry(data, None)
        group = (data.get("group") or "").strip()
        internal_share_create(actor=request.user, node_id=node.pk, user=(data.get("user") or "").strip() or None,
                              group=int(group) if group.isascii() and group.isdigit() else (group or None),
                              role=data.get("role", ""), expires_at=expiry if given else None)
    except PortalError as exc:
        return _people(request, node, values=data, error=exc, status=exc.status)
    return _people(request, node)


@portal_page
@require_POST
def share_people_revoke(request, share_id):
    share = access_internal_share(request.user, share_id)
    internal_share_revoke(actor=request.user, share_id=share.pk)
    return _people(request, share.node)


@portal_page
def link_list(request):
    links = list(links_visible_to(request.user)[:500])
    now = timezone.now()
    for link in links:
        link.state = link.state_at(now)
    return render(request, "web/shares/list.html", {"links": links})


@portal_page
def link_detail(request, link_id):
    link = access_link(request.user, link_id)
    is_owner = link.created_by_id == request.user.pk
    url = link_url(tokens.unseal(link.sealed_token)) if is_owner and link.revoked_at is None else ""
    return render(request, "web/shares/detail.html", {
        "link": link, "path": "/".join(link_path_names(link)), "state": link.state_at(), "url": url,
        "is_owner": is_owner,
        "may_manage": can(request.user, Cap.LINK_MANAGE_OTHERS, link.space),
        "accesses": list(accesses_list(link)[:300]), "policy": policy_for(link.space),
        "emails": "\n".join(r.email for r in link.recipients.all()),
        "expires_on": timezone.localtime(link.expires_at).date().isoformat() if link.expires_at else "",
        "max_day": (timezone.localdate() + timedelta(days=policy_for(link.space).max_days)).isoformat(),
        "permissions": Permission.choices if link.node.is_folder else [
            (value, label) for value, label in Permission.choices if value != Permission.UPLOAD],
    })


@portal_page
@require_POST
def link_action(request, link_id, action):
    user, data = request.user, request.POST
    if action == "revoke":
        share_link_revoke(actor=user, link_id=link_id)
        messages.success(request, _("The link is revoked: it now answers “This link no longer works”."))
    elif action == "edit":
        link = access_link(user, link_id)
        changes = _options(data, policy_for(link.space))
        if data.get("remove_password") == "on":
            changes["password"] = None
        elif not changes["password"]:
            changes.pop("password")  # empty: keep the current password
        if link.audience == Audience.PEOPLE:
            changes["emails"] = _emails(data)
        share_link_update(actor=user, link_id=link_id, changes=changes)
        messages.success(request, _("The link was changed."))
    elif action in {"enable", "disable"}:
        link = access_link(user, link_id)
        field = "enabled" if link.created_by_id == user.pk else "manager_enabled"
        share_link_update(actor=user, link_id=link_id, changes={field: action == "enable"})
        messages.success(request, _("The link is on.") if action == "enable" else _("The link is off."))
    else:
        raise InvalidInput(_("Unknown action."), code="unknown_action")
    return go_to(request, reverse("web:link", args=[link_id]))
