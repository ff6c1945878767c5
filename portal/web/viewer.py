"""Opening a file in the portal: the viewer page, the bytes it shows
(inline, whitelisted types, sandboxed), the PDF rendition of an Office
document, and thumbnails.

Every lookup goes through ``locate_node`` (outsiders get the same 404 as
missing files); quarantined or held versions never render. Opening a file
is audited once (``file.viewed``): when its text is shown, or when its
bytes or rendition start to be served, as downloads are counted.
"""

from __future__ import annotations

from urllib.parse import quote

from django.core.files.storage import FileSystemStorage
from django.http import FileResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods

from portal.core.access import Cap
from portal.core.errors import InvalidInput, NotFound
from portal.files import names
from portal.files.download_api import serve, starts_download
from portal.files.models import Node, NodeKind
from portal.files.selectors import Located, locate_node
from portal.files.services import downloads
from portal.previews import kinds
from portal.previews.models import DerivedKind
from portal.previews.selectors import ready_derived
from portal.previews.services import view_record
from portal.previews.viewing import Sources, viewing_for
from portal.scanning.selectors import ensure_not_quarantined
from portal.storage.base import content_disposition
from portal.storage.derived import derived_storage, presigned_url
from portal.web.common import is_htmx, portal_page

_BYTES_KINDS = {kinds.IMAGE, kinds.PDF, kinds.AUDIO, kinds.VIDEO}


def _file(request, space_id: int, node_id: int) -> Located:
    """The file the URL names, in the space it names, if the user may read it."""
    located = locate_node(request.user, node_id, Cap.FILE_READ)
    if located.space.pk != space_id:
        raise NotFound(gettext("No such file or folder."))
    if located.node.kind != NodeKind.FILE:
        raise InvalidInput(gettext("%(path)s is a folder; open it in the file list.") % {"path": located.path},
                           code="not_a_file")
    return located


def folder_url(located: Located) -> str:
    if located.scoped:  # shared with the caller: back into the shared folder, or to Shared with me
        if located.is_scope_root:
            return reverse("web:shared-with-me")
        return reverse("web:shared-folder", args=[located.node.parent_id])
    parent = names.join(list(located.path_names[:-1]))
    return reverse("web:browser", args=[located.space.pk]) + "?path=" + quote(parent)


def neighbours(node: Node) -> tuple[Node | None, Node | None]:
    """The files before and after ``node`` in its folder, in the browser's order (by name)."""
    files = Node.objects.filter(parent_id=node.parent_id, kind=NodeKind.FILE, trashed_at__isnull=True).only(
        "id", "space_id", "name", "name_key")
    before = files.filter(name_key__lt=node.name_key).order_by("-name_key", "-id").first()
    after = files.filter(name_key__gt=node.name_key).order_by("name_key", "id").first()
    return before, after


def portal_sources(located: Located) -> Sources:
    args = [located.space.pk, located.node.pk]
    version = located.node.current_version_id
    return Sources(bytes=reverse("web:view-bytes", args=args) + f"?v={version}",
                   rendition=reverse("web:view-rendition", args=args) + f"?v={version}",
                   status=reverse("web:view-status", args=args))


@portal_page
@require_GET
def view_file(request, space_id, node_id):
    located = _file(request, space_id, node_id)
    node = located.node
    viewing = viewing_for(node, node.current_version, portal_sources(located))
    if viewing.html:  # the text is in the page itself: this is the opening
        view_record(actor=request.user, located=located, version=node.current_version)
    # a file shared alone has no neighbours the caller may see
    before, after = (None, None) if located.is_scope_root else neighbours(node)
    return render(request, "web/viewer/view.html", {
        "space": located.space, "node": node, "located": located, "viewing": viewing,
        "folder_url": folder_url(located), "previous": before, "next": after,
        "download_url": f"/api/v1/files/{node.pk}/content",
    })


@portal_page
@require_GET
def view_status(request, space_id, node_id):
    """The Office part of the viewer, polled by htmx every 2 s until its rendition is made."""
    if not is_htmx(request):
        raise InvalidInput(gettext("This address is polled by the viewer page."), code="not_htmx")
    located = _file(request, space_id, node_id)
    viewing = viewing_for(located.node, located.node.current_version, portal_sources(located))
    return render(request, "previews/_office.html", {"viewing": viewing})


@portal_page
@require_http_methods(["GET", "HEAD"])
def view_bytes(request, space_id, node_id):
    """The file itself, for <img>, <audio>, <video> and pdf.js: only image,
    PDF, audio and video files; inline only for whitelisted types, always
    with ``nosniff`` and a sandbox CSP (an SVG downloads when opened alone)."""
    located = _file(request, space_id, node_id)
    node, version = located.node, located.node.current_version
    if kinds.viewer_kind(node.name) not in _BYTES_KINDS:
        raise InvalidInput(gettext("This kind of file is shown in the viewer page, not by itself."),
                           code="not_viewable")
    if version is None:
        raise NotFound(gettext("This file has no content yet."))
    ensure_not_quarantined(version)
    response = serve(request, downloads.download_plan(node, version, inline=True, actor=request.user))
    response["Content-Security-Policy"] = "sandbox"
    if starts_download(request, response):
        try:
            view_record(actor=request.user, located=located, version=version)
        except BaseException:
            response.close()
            raise
    return response


def _derived_response(name: str, *, filename: str, content_type: str):
    url = presigned_url(name, filename=filename, content_type=content_type)
    if url is not None:
        response = HttpResponseRedirect(url)
    else:
        storage = derived_storage()
        assert isinstance(storage, FileSystemStorage)
        response = FileResponse(storage.open(name, "rb"), content_type=content_type)
        response["Content-Disposition"] = content_disposition(filename, inline=True)
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "sandbox"
    return response


@portal_page
@require_GET
def view_rendition(request, space_id, node_id):
    """The PDF rendition of an Office document, for pdf.js (404 until it is made)."""
    located = _file(request, space_id, node_id)
    version = located.node.current_version
    ensure_not_quarantined(version)
    derived = ready_derived(version, DerivedKind.PDF)
    if derived is None:
        raise NotFound(gettext("This document has no PDF rendition yet."))
    response = _derived_response(derived.name, filename=located.node.name + ".pdf", content_type="application/pdf")
    response["Cache-Control"] = "private, no-store"
    view_record(actor=request.user, located=located, version=version)
    return response


@portal_page
@require_GET
def thumbnail(request, space_id, node_id):
    """A listed image's thumbnail (256 px WebP), from the local store or a presigned URL."""
    located = _file(request, space_id, node_id)
    derived = ready_derived(located.node.current_version, DerivedKind.THUMBNAIL)
    if derived is None:
        raise NotFound(gettext("This file has no thumbnail."))
    response = _derived_response(derived.name, filename="thumbnail.webp", content_type="image/webp")
    response["Cache-Control"] = "private, max-age=300"
    return response
