"""Activity streams: who did what in a space (its files in every folder
included) and to one file or folder (the details drawer), as the audit log's
translated sentences, newest first, a page at a time ("Older" asks htmx for
the next page, keyed by the last event's id).

Members, and administrators, who may see the space read them; a caller who
reaches a file only through an internal share does not (the stream tells of
the whole space's people). One query per page after the access check. What
members read leaves out addresses and the events of failed link unlocks and
access codes (e-mail addresses, guesses): those stay in the audit panel."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import CharField, Q
from django.db.models.functions import Cast
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from portal.audit.actions import Action
from portal.audit.models import AuditEvent, Outcome
from portal.audit.sentences import describe
from portal.core.access import Cap
from portal.core.errors import InvalidInput, NotFound
from portal.files import selectors as files
from portal.shares.models import ShareLink
from portal.spaces.selectors import space_access
from portal.web.common import is_htmx, portal_page

PAGE_SIZE = 20
# Not for every member's eyes: recipients' addresses, wrong passwords and codes; legal holds (what is held and
# why is the administrators' business: their audit panel has it).
HIDDEN = (Action.SHARE_CODE_SENT, Action.SHARE_CODE_FAILED, Action.SHARE_PASSWORD_FAILED, Action.SHARE_THROTTLED,
          Action.GOVERNANCE_HOLD_CREATED, Action.GOVERNANCE_HOLD_RELEASED)


@dataclass(frozen=True)
class Entry:
    event: AuditEvent
    sentence: str


@dataclass(frozen=True)
class Page:
    entries: list[Entry]
    older: int | None  # the ``before`` of the next page, None at the end


def _before(raw: str | None) -> int | None:
    if raw in (None, ""):
        return None
    if raw.isascii() and raw.isdigit() and 0 < int(raw) < 2 ** 63:
        return int(raw)
    raise InvalidInput(_("That page of the activity does not exist; reload the page."), code="invalid_before")


def _page(events, *, space, before: int | None, limit: int = PAGE_SIZE) -> Page:
    """One page of ``events`` (one query): newest first, below ``before``."""
    events = events.filter(outcome=Outcome.SUCCESS).exclude(action__in=HIDDEN)
    if before is not None:
        events = events.filter(pk__lt=before)
    rows = list(events.order_by("-id")[:limit + 1])
    entries = []
    for event in rows[:limit]:
        event.space, event.ip = space, None  # the space is known; addresses are the audit panel's
        entries.append(Entry(event=event, sentence=describe(event)))
    return Page(entries=entries, older=rows[limit - 1].pk if len(rows) > limit else None)


def space_events(space, *, before: int | None = None, limit: int = PAGE_SIZE) -> Page:
    """What happened in ``space`` (checked by the caller), its files in every folder included."""
    return _page(AuditEvent.objects.filter(space_id=space.pk), space=space, before=before, limit=limit)


def node_events(node, *, before: int | None = None, limit: int = PAGE_SIZE) -> Page:
    """What happened to ``node`` (located by the caller) and through its share links."""
    links = ShareLink.objects.filter(node_id=node.pk).annotate(key=Cast("pk", CharField())).values("key")
    about = Q(target_type="node", target_id=str(node.pk)) | Q(target_type="sharelink", target_id__in=links)
    return _page(AuditEvent.objects.filter(about, space_id=node.space_id), space=node.space, before=before,
                 limit=limit)


def located_stream(located, *, before: int | None = None) -> Page | None:
    """The node's stream for the drawer, or None when the caller may not see the space's activity."""
    if not located.access.can(Cap.SPACE_VIEW):
        return None
    return node_events(located.node, before=before)


@portal_page
@require_GET
def space_activity(request, space_id):
    """The space's stream: a page of its own, or (htmx, ``before``) the next entries."""
    before = _before(request.GET.get("before"))
    access = space_access(request.user, space_id, Cap.SPACE_VIEW)
    page = space_events(access.space, before=before)
    context = {"space": access.space, "page": page, "more_url": request.path}
    if is_htmx(request) and before is not None:
        return render(request, "web/activity/_entries.html", context)
    return render(request, "web/activity/space.html", context)


@portal_page
@require_GET
def node_activity(request, space_id, node_id):
    """The next entries of a file's or folder's stream (the drawer's "Older")."""
    before = _before(request.GET.get("before"))
    located = files.locate_node(request.user, node_id)
    page = located_stream(located, before=before)
    if page is None or located.node.space_id != int(space_id):
        raise NotFound(_("No such file or folder."))
    return render(request, "web/activity/_entries.html", {"page": page, "more_url": request.path})
