"""Finding files: global search, Recent, Starred, Shared with me, star toggling."""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from portal.web.common import portal_page


@portal_page
@require_GET
def search(request):
    return render(request, "web/find/results.html", {"q": request.GET.get("q", "")})


@portal_page
@require_GET
def recent(request):
    return render(request, "web/find/results.html", {})


@portal_page
@require_GET
def starred(request):
    return render(request, "web/find/results.html", {})


@portal_page
@require_GET
def shared_with_me(request):
    return render(request, "web/find/results.html", {})


@portal_page
@require_POST
def star(request, space_id, node_id):
    return render(request, "web/find/results.html", {})
