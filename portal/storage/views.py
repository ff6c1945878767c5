"""The local backend's signed URLs: streamed downloads and part uploads.

The signed token is the whole authorization, exactly like an S3 presigned
URL, so these views need no session, no login and no CSRF token. With S3
configured nobody is sent here: clients talk to the object store directly.

``stream_object`` is the one way the portal serves an object's bytes itself;
the files API uses it too when the embedded store holds the bytes.
"""

from __future__ import annotations

import re
from functools import wraps

from django.http import FileResponse, HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils.http import http_date, parse_etags, parse_http_date_safe
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from django.utils.translation import gettext

from portal.core.errors import InvalidInput, NotFound, PortalError
from portal.storage import get_store, signing
from portal.storage.base import ObjectStream, StoredObject, content_disposition
from portal.storage.local import LocalObjectStore
from portal.storage.tiers import PlacedObject

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(PortalError):
    status = 416
    code = "range_not_satisfiable"


def _json_errors(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except PortalError as exc:
            if isinstance(exc, RangeNotSatisfiable):
                return range_refusal(exc)
            return JsonResponse(exc.as_dict(), status=exc.status)
    return wrapper


def _local_store() -> LocalObjectStore:
    store = get_store()
    if not isinstance(store, LocalObjectStore):
        raise NotFound(gettext("This portal's object store serves its own URLs."))
    return store


def requested_window(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte window of a single-range ``Range`` header, or None
    for the whole object. Multiple or malformed ranges are ignored (a server
    may always answer 200); a range past the end is RangeNotSatisfiable."""
    match = _RANGE.match((header or "").strip())
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if not first:  # "bytes=-n": the last n bytes
        if int(last) == 0 or size == 0:
            raise RangeNotSatisfiable(gettext("The range asks for no bytes."), detail={"size": size})
        return max(size - int(last), 0), size - 1
    start = int(first)
    if last and int(last) < start:  # invalid, so ignored
        return None
    if start >= size:
        raise RangeNotSatisfiable(gettext("The object has %(size)s bytes; the range starts at byte %(start)s.") % {"size": size, "start": start},
                                  detail={"size": size})
    return start, min(int(last) if last else size - 1, size - 1)


def range_refusal(exc: RangeNotSatisfiable) -> JsonResponse:
    """A 416 in the one error shape, with the ``Content-Range: bytes */size`` HTTP asks for."""
    response = JsonResponse(exc.as_dict(), status=exc.status)
    response["Content-Range"] = f"bytes */{exc.detail['size']}"
    return response


def _etag_listed(header: str | None, etag: str) -> bool:
    """If-None-Match holds ``etag`` (weak comparison, as RFC 9110 asks for this header)."""
    if not header:
        return False
    tags = parse_etags(header)
    return "*" in tags or any(tag.removeprefix("W/") == etag for tag in tags)


def _range_allowed(header: str | None, etag: str | None, modified) -> bool:
    """Whether If-Range (when sent) still names these bytes. An entity tag we
    cannot confirm before opening the object means "send it all", which is
    always a correct answer to a range request."""
    if not header:
        return True
    if header.startswith('"'):
        return etag is not None and header == etag
    since = parse_http_date_safe(header)
    return since is not None and modified is not None and since == int(modified.timestamp())


def _not_modified(etag: str) -> HttpResponse:
    response = HttpResponse(status=304)
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-store"
    return response


def stream_object(request, source: StoredObject | PlacedObject, *, filename: str, content_type: str,
                  inline: bool = False, etag: str | None = None) -> HttpResponse:
    """Serve ``source`` (an object, or a blob's slice of a container)
    through the portal: one byte range (206/416), If-None-Match (304) and
    If-Range, HEAD without opening a body, and headers that keep a browser
    from running what it downloads. ``etag`` (a quoted strong tag, e.g. the
    content's SHA-256) replaces the store's. Missing objects and store
    outages raise PortalError for the caller."""
    if etag and _etag_listed(request.headers.get("If-None-Match"), etag):
        return _not_modified(etag)
    info = source.stat()
    header = request.headers.get("Range")
    if not _range_allowed(request.headers.get("If-Range"), etag, info.modified):
        header = None
    try:
        window = requested_window(header, info.size)
        try:
            stream = source.open(*window) if window else source.open()
        except InvalidInput as exc:  # the object shrank between stat() and open()
            raise RangeNotSatisfiable(exc.message, detail={"size": source.stat().size}) from exc
    except RangeNotSatisfiable as exc:
        return range_refusal(exc)
    etag = etag or stream.etag
    if _etag_listed(request.headers.get("If-None-Match"), etag):
        stream.close()
        return _not_modified(etag)
    status = 206 if window else 200
    to_the_end = window is None or window[1] == info.size - 1
    if request.method == "HEAD":
        stream.close()
        response = HttpResponse(status=status)
    elif to_the_end and (os_file := stream.take_os_file()) is not None:
        # The WSGI server can sendfile() it: no trip through Python per chunk.
        response = FileResponse(os_file, status=status)
    else:
        response = StreamingHttpResponse(stream, status=status)
    _describe(response, stream, window, filename=filename, content_type=content_type, inline=inline, etag=etag)
    return response


def _describe(response: HttpResponse, stream: ObjectStream, window: tuple[int, int] | None, *, filename: str,
              content_type: str, inline: bool, etag: str) -> None:
    response["Content-Length"] = str(stream.length)
    if window:
        response["Content-Range"] = f"bytes {window[0]}-{window[0] + stream.length - 1}/{stream.total_size}"
    response["Content-Type"] = content_type
    response["Content-Disposition"] = content_disposition(filename, inline=inline)
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    if stream.modified is not None:
        response["Last-Modified"] = http_date(stream.modified.timestamp())
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    if inline:
        # Shown in the browser, a user's HTML or SVG must not run as the portal.
        response["Content-Security-Policy"] = "sandbox"


@require_http_methods(["GET", "HEAD"])
@_json_errors
def object_download(request, token: str):
    grant = signing.verify(signing.GET, token)
    return stream_object(request, StoredObject(_local_store(), grant["k"]), filename=grant["f"],
                         content_type=grant["t"], inline=grant["i"])


@csrf_exempt
@require_http_methods(["PUT"])
@_json_errors
def part_upload(request, token: str):
    grant = signing.verify(signing.PART, token)
    length = request.META.get("CONTENT_LENGTH", "")
    if not (length.isascii() and length.isdigit()):
        return JsonResponse({"code": "length_required", "detail": {},
                             "message": gettext("Send the part with a Content-Length header.")}, status=411)
    # The request itself is the stream: read in chunks, never request.body.
    etag = _local_store().multipart_put_part(grant["k"], grant["u"], grant["n"], request, size=int(length))
    return HttpResponse(status=200, headers={"ETag": etag})


@csrf_exempt
@require_http_methods(["PUT"])
@_json_errors
def object_upload(request, token: str):
    """A signed single-object PUT (``presign_put``): exactly the granted size, like S3's signed Content-Length."""
    grant = signing.verify(signing.PUT, token)
    length = request.META.get("CONTENT_LENGTH", "")
    if not (length.isascii() and length.isdigit()):
        return JsonResponse({"code": "length_required", "detail": {},
                             "message": gettext("Send the object with a Content-Length header.")}, status=411)
    if int(length) != grant["s"]:
        return JsonResponse({"code": "size_mismatch", "detail": {"size": grant["s"]},
                             "message": f"This URL takes exactly {grant['s']} bytes; the body has {length}."},
                            status=400)
    store = _local_store()
    store.put_exact(grant["k"], request, size=grant["s"], create_only=bool(grant.get("c")))
    with store.open(grant["k"]) as stored:
        etag = stored.etag
    return HttpResponse(status=200, headers={"ETag": etag})
