"""The file manager's Download of a multi-selection: one zip of the selected
items of a folder, made by the same zip code as a folder's zip (the API's
``/api/v1/spaces/<id>/zip``), with the same access check and audit event."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from portal.core.access import Cap
from portal.core.errors import InvalidInput
from portal.files import selectors as files
from portal.files.download_api import zip_response
from portal.files.services import downloads
from portal.web.common import ids_field, portal_page

MAX_SELECTED = 1000


@portal_page
@require_GET
def selection_zip(request, space_id):
    """``?ids=..&ids=..``: items of one folder of this space, each one the
    user may read (anything else is the same 404 as a missing item)."""
    ids = list(dict.fromkeys(ids_field(request.GET)))
    if len(ids) > MAX_SELECTED:
        raise InvalidInput(_("Select at most %(count)s items for one zip.") % {"count": MAX_SELECTED},
                           code="too_many_ids")
    items = [files.locate_node(request.user, node_id, Cap.FILE_READ).node for node_id in ids]
    parents = {item.parent_id for item in items}
    if len(parents) != 1 or any(item.space_id != space_id for item in items):
        raise InvalidInput(_("Select items of one folder of this space."), code="mixed_selection")
    folder = files.locate_node(request.user, parents.pop(), Cap.FILE_READ)
    download = downloads.folder_zip(folder.node, path=folder.path, only=tuple(ids), actor=request.user)
    downloads.zip_record(actor=request.user, download=download)
    return zip_response(request, download)
