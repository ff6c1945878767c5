"""The bell, the notifications page, follow toggles and e-mail settings."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from portal.core.access import Cap
from portal.core.errors import InvalidInput, NotFound
from portal.files.selectors import locate_node
from portal.notify import selectors, services
from portal.notify.models import EmailMode, EmailPreference, Kind, Notification
from portal.notify.texts import sentence
from portal.web.common import go_to, is_htmx, portal_page


@require_GET
def badge(request):
    """The bell's count. Signed out (a session that ended under an open page):
    204, which the bell leaves as it is, never the sign-in page inside the bell."""
    if not request.user.is_authenticated:
        return HttpResponse(status=204)
    return render(request, "notify/_badge.html", {"count": selectors.unread_count(request.user)})


@portal_page
@require_GET
def notification_list(request):
    notes = selectors.notifications_list(request.user)
    return render(request, "notify/list.html", {"rows": [(n, sentence(n)) for n in notes],
                                                "unread": sum(n.read_at is None for n in notes)})


@portal_page
@require_POST
def mark_all_read(request):
    services.notifications_mark_read(actor=request.user)
    return go_to(request, reverse("notify:list"))


@portal_page
@require_GET
def open_notification(request, notification_id):
    """Mark one notification read and go to the thing it is about."""
    note = Notification.objects.filter(pk=notification_id, user=request.user).first()
    if note is None:
        raise NotFound(gettext("No such notification."))
    services.notifications_mark_read(actor=request.user, ids=[note.pk])
    return redirect(note.url or reverse("notify:list"))


@portal_page
def follow(request, node_id):
    """GET: the toggle (the details drawer loads it); POST: follow or stop."""
    if request.method == "POST":
        wanted = request.POST.get("follow")
        if wanted not in ("0", "1"):
            raise InvalidInput(gettext("Say whether to follow the file."))
        following = services.follow_set(actor=request.user, node_id=node_id, following=wanted == "1")
    elif request.method == "GET":
        node = locate_node(request.user, node_id, Cap.FILE_READ).node
        following = selectors.is_following(request.user, node)
    else:
        return HttpResponse(status=405)
    return render(request, "notify/_follow.html", {"node_id": node_id, "following": following})


@portal_page
@require_POST
def preferences(request):
    modes = {kind: request.POST.get(f"mode-{kind}") for kind in Kind.values if request.POST.get(f"mode-{kind}")}
    services.email_preferences_set(actor=request.user, modes=modes)
    if is_htmx(request):
        return render(request, "notify/_prefs_form.html", prefs_context(request.user, saved=True))
    return go_to(request, reverse("web:account"))


def prefs_context(user, *, saved: bool = False) -> dict:
    pref = EmailPreference.objects.filter(user=user).first() or EmailPreference(user=user)
    return {"notify_rows": [(kind, label, pref.mode(kind)) for kind, label in Kind.choices],
            "notify_modes": EmailMode.choices, "notify_saved": saved}
