"""The local backend's signed URLs: streamed downloads and part uploads.

The signed token is the whole authorization, exactly like an S3 presigned
URL, so these views need no session, no login and no CSRF token. With S3
configured nobody is sent here: clients talk to the object store directly.
"""

from __future__ import annotations

import re
from functools import wraps

from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from portal.core.errors import InvalidInput, NotFound, PortalError
from portal.storage import get_store, signing
from portal.storage.base import content_disposition
from portal.storage.local import LocalObjectStore

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
            response = JsonResponse(exc.as_dict(), status=exc.status)
            if isinstance(exc, RangeNotSatisfiable):
                response["Content-Range"] = f"bytes */{exc.detail['size']}"
            return response
    return wrapper


def _local_store() -> LocalObjectStore:
    store = get_store()
    if not isinstance(store, LocalObjectStore):
        raise NotFound("This portal's object store serves its own URLs.")
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
            raise RangeNotSatisfiable("The range asks for no bytes.", detail={"size": size})
        return max(size - int(last), 0), size - 1
    start = int(first)
    if last and int(last) < start:  # invalid, so ignored
        return None
    if start >= size:
        raise RangeNotSatisfiable(f"The object has {size} bytes; the range starts at byte {start}.",
                                  detail={"size": size})
    return start, min(int(last) if last else size - 1, size - 1)


@require_http_methods(["GET", "HEAD"])
@_json_errors
def object_download(request, token: str):
    grant = signing.verify(signing.GET, token)
    store = _local_store()
    window = requested_window(request.headers.get("Range"), store.size(grant["k"]))
    try:
        stream = store.open(grant["k"], **({"start": window[0], "end": window[1]} if window else {}))
    except InvalidInput as exc:  # the object shrank between size() and open()
        raise RangeNotSatisfiable(exc.message, detail={"size": store.size(grant["k"])}) from exc
    if request.method == "HEAD":
        stream.close()
        response = HttpResponse(status=206 if window else 200)
    else:
        response = StreamingHttpResponse(stream, status=206 if window else 200)
    response["Content-Length"] = str(stream.length)
    if window:
        response["Content-Range"] = f"bytes {window[0]}-{window[0] + stream.length - 1}/{stream.total_size}"
    response["Content-Type"] = grant["t"]
    response["Content-Disposition"] = content_disposition(grant["f"], inline=grant["i"])
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = stream.etag
    response["Last-Modified"] = http_date(stream.modified.timestamp())
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    if grant["i"]:
        # Shown in the browser, a user's HTML or SVG must not run as the portal.
        response["Content-Security-Policy"] = "sandbox"
    return response


@csrf_exempt
@require_http_methods(["PUT"])
@_json_errors
def part_upload(request, token: str):
    grant = signing.verify(signing.PART, token)
    length = request.META.get("CONTENT_LENGTH", "")
    if not length.isdigit():
        return JsonResponse({"code": "length_required", "detail": {},
                             "message": "Send the part with a Content-Length header."}, status=411)
    # The request itself is the stream: read in chunks, never request.body.
    etag = _local_store().multipart_put_part(grant["k"], grant["u"], grant["n"], request, size=int(length))
    return HttpResponse(status=200, headers={"ETag": etag})
