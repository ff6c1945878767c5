"""The admin console's home (/manage/): charts of storage, traffic, links,
devices and failed sign-ins, drawn on the server as inline SVG."""

from __future__ import annotations

from django.http import Http404
from django.template.response import TemplateResponse

from portal.core.access import is_admin


def home(request):
    if not is_admin(request.user):
        raise Http404
    return TemplateResponse(request, "manage/home.html", {})
