"""The WOPI REST endpoints an office server calls: /wopi/files/<id> and /wopi/files/<id>/contents.

Every request: the access token (query ``access_token`` or ``Authorization:
Bearer``) names a live token for this very file (else 401), its proof-key
signatures hold when discovery publishes keys (else 500, as Microsoft's
proof-key page says), and the token's user may still read the file now
(else 404: "file unknown / user unauthorized"). Saving, locking and renaming
also need the user's current role to allow writing, and a token issued for
writing (else 401). The operation on a POST is the X-WOPI-Override header.
"""

from __future__ import annotations

from urllib.parse import quote

from django.http import FileResponse, HttpResponse, JsonResponse
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from portal.collab.wopi import services
from portal.collab.wopi.context import WopiRefused, WopiRequest, spool_body, utf7_decode, utf7_encode, wopi_request
from portal.collab.wopi.fileinfo import check_file_info, relative_file_info
from portal.collab.wopi.selectors import lock_string_get, modified_stamp
from portal.collab.wopi.tokens import wopi_token_issue
from portal.core.errors import InvalidInput, NotFound, PortalError, QuotaExceeded
from portal.files.services import downloads
from portal.scanning.selectors import ensure_not_quarantined
from portal.storage.tiers import placement_open

TOKEN = OpenApiParameter("access_token", str, OpenApiParameter.QUERY, required=True,
                         description="The WOPI access token the office page gave the office server")
OVERRIDE = OpenApiParameter("X-WOPI-Override", str, OpenApiParameter.HEADER, required=True,
                            enum=["LOCK", "GET_LOCK", "REFRESH_LOCK", "UNLOCK", "PUT_RELATIVE", "RENAME_FILE"])
LOCK = OpenApiParameter("X-WOPI-Lock", str, OpenApiParameter.HEADER, description="The lock string (at most 1024)")
COMMON = {401: OpenApiResponse(description="The access token is unknown, expired, another file's, or does not "
                                            "allow this operation"),
          404: OpenApiResponse(description="No such file, or its user may no longer open it"),
          500: OpenApiResponse(description="The proof-key signatures do not hold, or the timestamp is stale")}


def header_safe(text: str) -> str:
    """A message as a header value: ASCII kept, anything else (names, translations) percent-encoded."""
    return text if text.isascii() else quote(text, safe=" !\"#$&'()*+,-./:;<=>?@[]^_`{|}~")


def _error(status: int, message: str, code: str, headers: dict | None = None) -> JsonResponse:
    response = JsonResponse({"code": code, "message": message, "detail": {}}, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _mismatch(exc: services.LockMismatch) -> JsonResponse:
    headers = {"X-WOPI-Lock": exc.current, "X-WOPI-LockFailureReason": header_safe(exc.message)}
    if exc.other_interface:
        headers["X-WOPI-LockedByOtherInterface"] = "true"
    return _error(409, exc.message, exc.code, headers)


def _answer(exc: PortalError) -> JsonResponse:
    """A refusal in WOPI's terms."""
    if isinstance(exc, WopiRefused):
        return _error(exc.status, exc.message, exc.code)
    if isinstance(exc, services.LockMismatch):
        return _mismatch(exc)
    if isinstance(exc, services.FileChanged):  # Collabora's document-changed-in-storage answer
        response = _error(409, exc.message, exc.code)
        response.content = b'{"COOLStatusCode": 1010, "LOOLStatusCode": 1010}'
        return response
    if isinstance(exc, services.TargetExists):
        headers = {"X-WOPI-ValidRelativeTarget": utf7_encode(exc.valid_target)}
        if exc.current_lock is not None:
            headers["X-WOPI-Lock"] = exc.current_lock
        return _error(409, exc.message, exc.code, headers)
    if isinstance(exc, QuotaExceeded) or exc.status == 413:
        return _error(413, exc.message, exc.code)
    if isinstance(exc, NotFound) or exc.code == "quarantined":  # "file unknown / user unauthorized"
        return _error(404, exc.message, exc.code)
    if isinstance(exc, InvalidInput) or exc.status == 400:
        return _error(400, exc.message, exc.code)
    if exc.status == 403 or exc.code == "archived":
        return _error(401, exc.message, exc.code)
    return _error(exc.status if exc.status in (409, 412, 423, 503) else 500, exc.message, exc.code)


class _WopiView(APIView):
    authentication_classes = []   # the access token is the credential; no session, no CSRF
    permission_classes = [AllowAny]

    def handle(self, request, file_id, operation):
        try:
            return operation(wopi_request(request, file_id))
        except PortalError as exc:
            return _answer(exc)


class WopiFileView(_WopiView):
    @extend_schema(operation_id="wopi_check_file_info", tags=["wopi"], parameters=[TOKEN],
                   summary="WOPI CheckFileInfo: the file, the user and what they may do",
                   responses={200: OpenApiTypes.OBJECT, **COMMON})
    def get(self, request, file_id):
        return self.handle(request, file_id, lambda wopi: JsonResponse(check_file_info(wopi)))

    @extend_schema(operation_id="wopi_file_operation", tags=["wopi"], request=OpenApiTypes.BINARY,
                   parameters=[TOKEN, OVERRIDE, LOCK,
                               OpenApiParameter("X-WOPI-OldLock", str, OpenApiParameter.HEADER,
                                                description="LOCK with it is UnlockAndRelock"),
                               OpenApiParameter("X-WOPI-SuggestedTarget", str, OpenApiParameter.HEADER),
                               OpenApiParameter("X-WOPI-RelativeTarget", str, OpenApiParameter.HEADER),
                               OpenApiParameter("X-WOPI-OverwriteRelativeTarget", bool, OpenApiParameter.HEADER),
                               OpenApiParameter("X-WOPI-RequestedName", str, OpenApiParameter.HEADER)],
                   summary="WOPI Lock, GetLock, RefreshLock, Unlock, UnlockAndRelock, PutRelativeFile, RenameFile",
                   description="The operation is X-WOPI-Override. A lock mismatch is 409 with X-WOPI-Lock (the "
                               "current lock string; empty when unlocked or locked by another interface, then with "
                               "X-WOPI-LockFailureReason). PUT_RELATIVE and RENAME_FILE answer JSON.",
                   responses={200: OpenApiTypes.OBJECT, 400: None, 409: None, 413: None, 501: None, **COMMON})
    def post(self, request, file_id):
        operation = request.headers.get("X-WOPI-Override", "").upper()
        handler = {"LOCK": _lock, "GET_LOCK": _get_lock, "REFRESH_LOCK": _refresh_lock, "UNLOCK": _unlock,
                   "PUT_RELATIVE": _put_relative, "RENAME_FILE": _rename}.get(operation)
        if handler is None:  # said only to a caller whose token holds: anyone else gets the 401
            return self.handle(request, file_id, lambda wopi: _error(
                501, gettext("X-WOPI-Override %(value)r is not supported.") % {"value": operation},
                "wopi_not_implemented"))
        return self.handle(request, file_id, handler)


class WopiContentsView(_WopiView):
    @extend_schema(operation_id="wopi_get_file", tags=["wopi"],
                   parameters=[TOKEN, OpenApiParameter("X-WOPI-MaxExpectedSize", int, OpenApiParameter.HEADER)],
                   summary="WOPI GetFile: the file's current bytes",
                   responses={200: OpenApiResponse(OpenApiTypes.BINARY), 412: None, **COMMON})
    def get(self, request, file_id):
        return self.handle(request, file_id, _get_file)

    @extend_schema(operation_id="wopi_put_file", tags=["wopi"], request=OpenApiTypes.BINARY,
                   parameters=[TOKEN, LOCK, OpenApiParameter("X-WOPI-Override", str, OpenApiParameter.HEADER,
                                                             required=True, enum=["PUT"])],
                   summary="WOPI PutFile: the body becomes the file's next version",
                   description="Needs the file's lock string, or an unlocked empty file. 409 with X-WOPI-Lock on a "
                               "mismatch; 413 over the size limit or the space's quota.",
                   responses={200: OpenApiTypes.OBJECT, 409: None, 413: None, 501: None, **COMMON})
    def post(self, request, file_id):
        if request.headers.get("X-WOPI-Override", "").upper() != "PUT":
            return self.handle(request, file_id, lambda wopi: _error(
                501, gettext("POST on contents is PutFile (X-WOPI-Override: PUT)."), "wopi_not_implemented"))
        return self.handle(request, file_id, _put_file)


# --- operations ---------------------------------------------------------------------


def _lock_header(wopi: WopiRequest, name: str = "X-WOPI-Lock") -> str | None:
    return wopi.request.headers.get(name)


def _lock(wopi: WopiRequest):
    located = wopi.writable()
    old = _lock_header(wopi, "X-WOPI-OldLock")
    services.wopi_lock(actor=wopi.user, located=located, lock=_lock_header(wopi), old_lock=old)
    return HttpResponse(status=200)


def _get_lock(wopi: WopiRequest):
    response = HttpResponse(status=200)
    response["X-WOPI-Lock"] = lock_string_get(wopi.located.node, wopi.user)
    return response


def _refresh_lock(wopi: WopiRequest):
    services.wopi_lock_refresh(actor=wopi.user, located=wopi.writable(), lock=_lock_header(wopi))
    return HttpResponse(status=200)


def _unlock(wopi: WopiRequest):
    services.wopi_unlock(actor=wopi.user, located=wopi.writable(), lock=_lock_header(wopi))
    return HttpResponse(status=200)


def _rename(wopi: WopiRequest):
    located = wopi.writable()
    requested = utf7_decode(wopi.request.headers.get("X-WOPI-RequestedName"))
    try:
        renamed = services.wopi_file_rename(actor=wopi.user, located=located, lock=_lock_header(wopi) or "",
                                            requested=requested)
    except InvalidInput as exc:
        return _error(400, exc.message, exc.code, {"X-WOPI-InvalidFileNameError": header_safe(exc.message)})
    name = renamed.node.name
    return JsonResponse({"Name": name.rpartition(".")[0] if "." in name.lstrip(".") else name})


def _put_relative(wopi: WopiRequest):
    located = wopi.writable(relative=True)
    headers = wopi.request.headers
    suggested, relative = headers.get("X-WOPI-SuggestedTarget"), headers.get("X-WOPI-RelativeTarget")
    if suggested is not None and relative is not None:
        return _error(501, gettext("X-WOPI-SuggestedTarget and X-WOPI-RelativeTarget exclude each other."),
                      "wopi_both_targets")
    if suggested is None and relative is None:
        return _error(400, gettext("PutRelativeFile needs X-WOPI-SuggestedTarget or X-WOPI-RelativeTarget."),
                      "wopi_no_target")
    name = services.relative_name(located, utf7_decode(suggested if suggested is not None else relative),
                                  suggested=suggested is not None)
    overwrite = headers.get("X-WOPI-OverwriteRelativeTarget", "").lower() == "true"
    with spool_body(wopi.request) as (body, size):
        version = services.wopi_file_put_relative(actor=wopi.user, located=located, name=name, overwrite=overwrite,
                                                  fileobj=body, size=size)
    new = wopi.for_node(version.node_id)
    issued = wopi_token_issue(actor=wopi.user, located=new)
    return JsonResponse(relative_file_info(new, issued.token))


def _get_file(wopi: WopiRequest):
    located = wopi.located
    version = located.node.current_version
    if version is None:
        raise NotFound(gettext("This file has no content yet."))
    ensure_not_quarantined(version)
    limit = wopi.request.headers.get("X-WOPI-MaxExpectedSize")
    if limit is not None and limit.isdigit() and version.size > int(limit):
        return _error(412, gettext("The file is larger than X-WOPI-MaxExpectedSize."), "wopi_too_large")
    stream = placement_open(version.blob.placement)
    try:
        downloads.download_record(actor=wopi.user, located=located, version=version)
    except BaseException:
        stream.close()
        raise
    response = FileResponse(stream, content_type="application/octet-stream")  # closes the stream when done
    response["Content-Length"] = str(version.size)
    response["X-WOPI-ItemVersion"] = str(version.number)
    response["Cache-Control"] = "private, no-store"
    return response


def _put_file(wopi: WopiRequest):
    located = wopi.writable()
    headers = wopi.request.headers
    stamp = headers.get("X-COOL-WOPI-Timestamp") or headers.get("X-LOOL-WOPI-Timestamp")
    details = {name: headers[f"X-COOL-WOPI-{name}"].lower() == "true"
               for name in ("IsModifiedByUser", "IsAutosave", "IsExitSave") if f"X-COOL-WOPI-{name}" in headers}
    with spool_body(wopi.request) as (body, size):
        version = services.wopi_file_put(actor=wopi.user, located=located, lock=headers.get("X-WOPI-Lock") or "",
                                         fileobj=body, size=size, stamp=stamp, details=details)
    version.node.current_version = version
    response = JsonResponse({"LastModifiedTime": modified_stamp(version.node)})
    response["X-WOPI-ItemVersion"] = str(version.number)
    return response
