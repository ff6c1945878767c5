"""Downloads: a file's content and a folder as a streamed zip.

With S3 a file's bytes never pass through the portal: the answer is a 302 to
a presigned URL that lives at most five minutes. With the embedded store the
portal streams them itself (ranges, ETag, If-None-Match). A zip always
streams through the portal, from either store.
"""

from __future__ import annotations

from django.http import HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView
from django.utils.translation import gettext

from portal.api.schema import binary_responses, error_responses
from portal.core.access import Cap
from portal.core.errors import InvalidInput
from portal.files import selectors
from portal.files.services import downloads, versions
from portal.scanning.selectors import ensure_not_quarantined
from portal.storage import LocalObjectStore
from portal.storage.tiers import PlacedObject
from portal.storage.base import content_disposition
from portal.storage.views import stream_object

_FLAGS = {"1": True, "true": True, "0": False, "false": False, "": False}


def _flag(value: str | None, *, name: str) -> bool:
    if value is None:
        return False
    if value.lower() not in _FLAGS:
        raise InvalidInput(gettext("%(name)s is 1 or 0.") % {"name": name}, code=f"invalid_{name}")
    return _FLAGS[value.lower()]


def starts_download(request, response) -> bool:
    """Whether this answer starts a download, to be counted and audited: a
    GET given a presigned URL (it reads the whole object, whatever Range the
    client sent), or one whose streamed bytes begin at byte 0. Only a range
    the portal streams itself, from a later byte, is a resumed part; HEAD,
    304 and 416 hand out nothing."""
    if request.method != "GET":
        return False
    if response.status_code in (200, 302):
        return True
    if response.status_code == 206:
        return response["Content-Range"].startswith("bytes 0-")
    return False


def serve(request, plan: downloads.FileDownload):
    """The answer that hands out a file: a redirect to a presigned S3 URL
    when the bytes are an S3 object of their own (in any tier), else the
    portal streams them (the local store, or a blob packed in a container:
    ranges, conditional GETs). A HEAD on S3 gets the headers alone: a URL
    is a credential for the whole object, so only a counted GET receives one."""
    placement = plan.placement
    store = placement.store
    if isinstance(store, LocalObjectStore) or placement.packed:
        return stream_object(request, PlacedObject(placement), filename=plan.filename,
                             content_type=plan.content_type, inline=plan.inline, etag=plan.etag)
    if request.method == "HEAD":
        return _headers_only(plan)
    response = HttpResponseRedirect(store.presign_get(placement.key, filename=plan.filename,
                                                      content_type=plan.content_type, inline=plan.inline))
    response["Cache-Control"] = "private, no-store"  # the URL is a credential
    return response


def _headers_only(plan: downloads.FileDownload) -> HttpResponse:
    response = HttpResponse(status=200)
    response["Content-Length"] = str(plan.size)
    response["Content-Type"] = plan.content_type
    response["Content-Disposition"] = content_disposition(plan.filename, inline=plan.inline)
    if plan.etag:
        response["ETag"] = plan.etag
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


class _DownloadView(APIView):
    # Errors are JSON whatever the client accepts: a browser asking for a
    # PDF must not get a 406 instead of the file.
    renderer_classes = [JSONRenderer]

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)


class ContentView(_DownloadView):
    @extend_schema(
        summary="A file's bytes (302 to the object store, or streamed with Range support)",
        parameters=[OpenApiParameter("version", int, description="A version number (default: the current one)"),
                    OpenApiParameter("inline", int, enum=[0, 1],
                                     description="Show in the browser; honoured for images, PDF, plain text, "
                                                 "audio and video only")],
        responses=binary_responses("*/*", ranges=True, redirect=True))
    def get(self, request, node_id):
        """Serve a version of a file to a member with file.read. The download
        is audited once per start: every presigned URL issued (S3), and every
        streamed answer that begins at byte 0; never a range the portal
        streams from a later byte, nor a HEAD (which gets no URL)."""
        inline = _flag(request.query_params.get("inline"), name="inline")
        located = versions.locate_file(request.user, node_id, Cap.FILE_READ)
        node = located.node
        version = versions.version_get(node, request.query_params.get("version"))
        ensure_not_quarantined(version)
        plan = downloads.download_plan(node, version, inline=inline, actor=request.user)
        response = serve(request, plan)
        if starts_download(request, response):
            try:
                downloads.download_record(actor=request.user, located=located, version=version)
            except BaseException:
                response.close()  # an opened object stream must not leak
                raise
        return response


class ZipView(_DownloadView):
    @extend_schema(summary="A folder (default: the whole space) as a streamed zip",
                   responses=binary_responses("application/zip"))
    @error_responses(413)
    def get(self, request, space_id, path=""):
        """A member with file.read downloads a folder's live contents as a
        stored zip with a Content-Length. Audited once per GET (not HEAD)."""
        located = selectors.locate_path(request.user, space_id, path or "/", Cap.FILE_READ)
        folder = located.node
        if not folder.is_folder:
            raise InvalidInput(gettext("%(path)s is a file; download it with /api/v1/files/%(pk)s/content.") % {"path": located.path, "pk": folder.pk}, code="not_a_folder")
        download = downloads.folder_zip(folder, path=located.path, actor=request.user)
        if request.method != "HEAD":
            downloads.zip_record(actor=request.user, download=download)
        return zip_response(request, download)


def zip_response(request, download: downloads.FolderZip):
    """A folder zip as a streamed attachment of known length (headers only for HEAD)."""
    response = HttpResponse() if request.method == "HEAD" else StreamingHttpResponse(download.chunks())
    response["Content-Type"] = "application/zip"
    response["Content-Length"] = str(download.length)
    response["Content-Disposition"] = content_disposition(download.filename)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
