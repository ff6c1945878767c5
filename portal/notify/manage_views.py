"""/manage/webhooks/: administrators subscribe URLs to events, pause, delete,
ping, and read the recent deliveries. Everyone else gets 404."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from portal.core.access import is_admin
from portal.core.errors import InvalidInput, PortalError
from portal.notify import selectors, services
from portal.web.common import go_to, portal_page

ACTIONS = ("pause", "resume", "delete", "ping")


def _layout() -> str:
    """The console's layout once its pages are mounted; the plain one until then."""
    try:
        reverse("manage:home")
        return "manage/base.html"
    except NoReverseMatch:
        return "base.html"


def _page(request, *, status: int = 200, error: str = "", secret: str = "", url: str = "", events=()):
    return render(request, "notify/webhooks.html", {
        "layout": _layout(), "console_section": "webhooks", "hooks": selectors.webhooks_list(),
        "deliveries": selectors.deliveries_recent(), "choices": selectors.webhook_event_choices(),
        "error": error, "secret": secret, "url": url, "chosen": set(events)}, status=status)


@portal_page
def webhook_page(request):
    if not is_admin(request.user):
        raise Http404
    if request.method == "GET":
        return _page(request)
    if request.method != "POST":
        raise Http404
    url, events = request.POST.get("url", ""), request.POST.getlist("events")
    try:
        hook, secret = services.webhook_create(actor=request.user, url=url, events=events)
    except InvalidInput as exc:
        return _page(request, status=400, error=exc.message, url=url, events=events)
    return _page(request, secret=secret, url=hook.url)


@portal_page
@require_POST
def webhook_action(request, webhook_id, action):
    if not is_admin(request.user) or action not in ACTIONS:
        raise Http404
    if action in ("pause", "resume"):
        services.webhook_change(actor=request.user, webhook_id=webhook_id, active=action == "resume")
    elif action == "delete":
        services.webhook_delete(actor=request.user, webhook_id=webhook_id)
    else:
        services.webhook_ping(actor=request.user, webhook_id=webhook_id)
    return go_to(request, reverse("webhooks:list"))


__all__ = ["PortalError", "webhook_action", "webhook_page"]
