"""Finding files: global search (the page and the header's dropdown),
Recent, Starred, Shared with me (and a folder shared with the user, seen
from that folder down), star toggling."""

from __future__ import annotations

from urllib.parse import quote

from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from portal.core.access import Cap
from portal.core.errors import InvalidInput
from portal.files import walk
from portal.files.selectors import children_list, locate_node

from portal.search import params as search_params
from portal.search import query, selectors
from portal.search.models import FileType
from portal.search.services import star_toggle
from portal.shares import tokens
from portal.shares.selectors import shared_with_me as internal_shares_to
from portal.shares.tokens import link_url
from portal.spaces.selectors import spaces_visible_to
from portal.web.common import is_htmx, portal_page

PAGE_SIZE = 50
DROPDOWN_SIZE = 8


def _page_number(request) -> int:
    value = request.GET.get("page", "1")
    return int(value) if value.isascii() and value.isdigit() and 0 < int(value) < 10_000 else 1


@portal_page
@require_GET
def search(request):
    terms = search_params.terms_from(request.GET)
    filters = search_params.filters_from(request.user, request.GET)
    if is_htmx(request) and request.headers.get("HX-Target") == "search-dropdown":
        hits = query.search(request.user, terms, filters, limit=DROPDOWN_SIZE)
        return render(request, "web/find/_dropdown.html", {"hits": hits, "q": request.GET.get("q", "")})
    page = _page_number(request)
    hits = query.search(request.user, terms, filters, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    more = request.GET.copy()
    more["page"] = page + 1
    return render(request, "web/find/results.html", {
        "mode": "search", "q": request.GET.get("q", ""), "searched": bool(terms),
        "rows": _rows(request, hits[:PAGE_SIZE]),
        "next_query": more.urlencode() if len(hits) > PAGE_SIZE else "", "page": page,
        "filtered": search_params.any_filter(request.GET), "f": request.GET,
        "spaces": spaces_visible_to(request.user, include_archived=True), "types": FileType.choices})


def _rows(request, hits, whens=None):
    starred = selectors.starred_ids(request.user, [hit.node_id for hit in hits])
    whens = whens or [None] * len(hits)
    return [{"hit": hit, "when": when, "starred": hit.node_id in starred} for hit, when in zip(hits, whens)]


def _listing(request, mode: str, pairs):
    hits, whens = [hit for hit, _ in pairs], [when for _, when in pairs]
    return render(request, "web/find/results.html", {"mode": mode, "rows": _rows(request, hits, whens)})


@portal_page
@require_GET
def recent(request):
    return _listing(request, "recent", selectors.recent_list(request.user))


@portal_page
@require_GET
def starred(request):
    return _listing(request, "starred", selectors.starred_list(request.user))


@portal_page
@require_GET
def shared_with_me(request):
    links = [(link, link_url(tokens.unseal(link.sealed_token))) for link in selectors.links_to_me(request.user)]
    return render(request, "web/find/shared.html", {
        "shares": internal_shares_to(request.user),
        "links": links, "joined": selectors.spaces_joined_recently(request.user),
        "joined_days": selectors.JOINED_DAYS})


@portal_page
@require_GET
def shared_folder(request, node_id):
    """A folder shared with the user, or one below it: its listing, the
    breadcrumbs starting at the shared folder (nothing above it shows)."""
    located = locate_node(request.user, node_id, Cap.FILE_READ)
    if not located.node.is_folder:
        raise InvalidInput(_("That is a file, not a folder."), code="not_a_folder")
    if not located.scoped:  # a member: the space's own file manager
        return redirect(reverse("web:browser", args=[located.space.pk]) + "?path=" + quote(located.path))
    steps = walk.walk_up(located.node.pk)[located.scope_depth:]
    return render(request, "web/find/shared_folder.html", {
        "folder": located.node, "located": located, "role": located.role,
        "crumbs": [{"id": step.id, "name": step.name} for step in steps],
        "items": list(children_list(located.node)[:500]),
    })


@portal_page
@require_POST
def star(request, space_id, node_id):
    now_starred = star_toggle(actor=request.user, node_id=node_id, space_id=space_id)
    if is_htmx(request):
        return render(request, "web/find/_star.html", {"space_id": space_id, "node_id": node_id,
                                                        "starred": now_starred})
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        back = reverse("web:starred")
    return redirect(back)
