"""Small files from the file browser's uploader, one request each.

A file that fits in one part gains nothing from the resumable upload API
(start, part, complete: three requests and a multipart session for a few
bytes). The uploader PUTs it whole here instead, and the whole-file service
(``files.services.direct.file_put``) stores the bytes and makes the version in
one transaction, with the same checks (write access, archive, quota, locks,
names). Larger files keep using ``/api/v1/uploads``.

Answers are JSON (the uploader shows ``message``), never a redirect to the
sign-in page, which an XHR would follow and read as success.
"""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from portal.core.access import Cap
from portal.core.errors import InvalidInput, NotAuthenticated, PortalError
from portal.files import names
from portal.files.models import Node
from portal.files.selectors import path_walk
from portal.files.services.direct import file_put
from portal.spaces.selectors import space_access


# With S3 the bytes of anything larger go straight to the store (presigned parts), never through
# the portal; a small file's one request costs less than planning a multipart upload for it.
S3_DIRECT_MAX = 1024 * 1024


def direct_upload_max() -> int:
    """The largest file the browser sends in one request: one part with the
    local store (whose parts come through the portal anyway), 1 MiB with S3."""
    if settings.STORAGE_BACKEND == "s3":
        return min(settings.UPLOAD_PART_SIZE, S3_DIRECT_MAX)
    return settings.UPLOAD_PART_SIZE


def _json_error(exc: PortalError) -> JsonResponse:
    return JsonResponse(exc.as_dict(), status=exc.status)


def _body_size(request) -> int:
    raw = request.META.get("CONTENT_LENGTH", "")
    if not (raw.isascii() and raw.isdigit()):  # "²" is a digit to isdigit, not to int
        raise PortalError(_("Send the file with a Content-Length header."), code="length_required", status=411)
    size = int(raw)
    if size > direct_upload_max():
        raise PortalError(_("Files larger than %(max)s go through the resumable upload.")
                          % {"max": filesizeformat(direct_upload_max())}, code="file_too_large", status=413,
                          detail={"max_size": direct_upload_max()})
    return size


@require_http_methods(["PUT"])
def upload_put(request, space_id):
    """PUT /spaces/<id>/upload?path=/folder/name with the file's bytes as the body."""
    try:
        if not request.user.is_authenticated:
            raise NotAuthenticated(_("Sign in again, then retry the upload."), code="not_authenticated")
        path = request.GET.get("path", "")
        if not path.startswith("/"):
            raise InvalidInput(_("The path must start with /."), code="invalid_path")
        size = _body_size(request)
        # The request is the stream: read in chunks by the store, never request.body.
        version = file_put(actor=request.user, space_id=space_id, path=path, fileobj=request, size=size)
    except PortalError as exc:
        return _json_error(exc)
    node = version.node
    # Uppy reads the ETag of every PUT it makes (as from S3); this one names the new version.
    return JsonResponse({"id": node.pk, "name": node.name, "version": version.number, "size": version.size},
                        status=201, headers={"ETag": f'"{node.pk}-{version.number}"'})


MAX_CHECKED = 2000
MAX_COPIES = 50


def _copy_names(name: str) -> list[str]:
    """"name (1).ext", "name (2).ext", ... (what "keep both" may call the new file)."""
    stem, dot, ext = name.rpartition(".")
    if not (dot and stem):
        stem, ext = name, ""
    return [f"{stem} ({n}){'.' + ext if ext else ''}" for n in range(1, MAX_COPIES + 1)]


def _conflicts_in(space, folder_names: list[str], wanted: list[str]) -> list[dict]:
    """The wanted names taken in one folder, each with the first free "keep both" name (two queries)."""
    chain = path_walk(space, folder_names)
    if len(chain) <= len(folder_names) or not chain[-1].is_folder:
        return []  # the folder does not exist yet: the upload makes it, nothing is in the way
    candidates = {names.name_key(name) for name in wanted}
    candidates |= {names.name_key(copy) for name in wanted for copy in _copy_names(name)}
    taken = set(Node.objects.filter(parent=chain[-1], trashed_at__isnull=True, name_key__in=candidates)
                .values_list("name_key", flat=True))
    found = []
    for name in dict.fromkeys(wanted):
        if names.name_key(name) in taken:
            free = next((copy for copy in _copy_names(name) if names.name_key(copy) not in taken), "")
            found.append({"path": names.join([*folder_names, name]),
                          "free": names.join([*folder_names, free]) if free else ""})
    return found


@require_http_methods(["POST"])
def upload_check(request, space_id):
    """POST /spaces/<id>/upload-check with ``path`` repeated: which of these
    paths are taken already, and a free "name (1).ext" for each (the
    uploader asks "replace / keep both / skip" once for the batch)."""
    try:
        if not request.user.is_authenticated:
            raise NotAuthenticated(_("Sign in again, then retry the upload."), code="not_authenticated")
        access = space_access(request.user, space_id, Cap.FILE_WRITE)
        paths = request.POST.getlist("path")
        if not paths or len(paths) > MAX_CHECKED:
            raise InvalidInput(_("Send between 1 and %(max)s paths.") % {"max": MAX_CHECKED}, code="invalid_paths")
        folders: dict[tuple[str, ...], list[str]] = {}
        for path in paths:
            if not path.startswith("/"):
                raise InvalidInput(_("The path must start with /."), code="invalid_path")
            parts = names.split_path(path)
            if not parts:
                raise InvalidInput(_("The path must name a file."), code="invalid_path")
            folders.setdefault(tuple(parts[:-1]), []).append(parts[-1])
        conflicts = [found for folder, wanted in folders.items()
                     for found in _conflicts_in(access.space, list(folder), wanted)]
    except PortalError as exc:
        return _json_error(exc)
    return JsonResponse({"conflicts": conflicts})
