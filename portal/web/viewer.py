"""Opening a file in the portal: the viewer page and thumbnails."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET

from portal.web.common import portal_page


@portal_page
@require_GET
def view_file(request, space_id, node_id):
    return HttpResponse(status=303, headers={"Location": f"/api/v1/files/{node_id}/content"})


@portal_page
@require_GET
def thumbnail(request, space_id, node_id):
    raise Http404
