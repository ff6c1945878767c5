"""Pieces every file-tree write shares beyond the space's quota (portal.spaces.quota)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext

from portal.core.errors import PortalError
from portal.outbox.services import enqueue


def new_blob_key() -> str:
    """A fresh key for a blob's object in the hot store."""
    return f"blobs/{uuid.uuid4().hex[:2]}/{uuid.uuid4().hex}"


def schedule_blob_collection() -> None:
    from portal.files.tasks import collect_unused_blobs

    enqueue(collect_unused_blobs)


def too_large_error() -> PortalError:
    """413 for a file over PORTAL_MAX_FILE_SIZE (the API, share drops and WebDAV say it alike)."""
    return PortalError(gettext("Files are at most %(size)s here.") % {"size": filesizeformat(settings.MAX_FILE_SIZE)},
                       code="file_too_large",
                       status=413, detail={"max_size": settings.MAX_FILE_SIZE})


def refuse_too_large(size: int) -> None:
    if size > settings.MAX_FILE_SIZE:
        raise too_large_error()
