"""Derived files (thumbnails, PDF renditions): Django ``Storage``, since
nothing about them needs ranges or presigned parts.

With S3 they live in the files' bucket under ``derived/`` (django-storages,
presigned GET URLs); embedded, in ``<storage root>-derived/`` on disk, which
the local object store never walks. The sweeps of the object store list
their own prefixes only, so derived files are never taken for orphans.
"""

from __future__ import annotations

import threading

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage

from portal.storage.base import content_disposition, presign_lifetime

DERIVED_PREFIX = "derived"

_lock = threading.Lock()
_storage: Storage | None = None


def _build() -> Storage:
    if settings.STORAGE_BACKEND == "s3":
        from botocore.config import Config
        from storages.backends.s3 import S3Storage

        config = Config(region_name=settings.S3_REGION, signature_version="s3v4",
                        s3={"addressing_style": settings.S3_ADDRESSING_STYLE},
                        # As in s3.py: several S3-compatible stores reject botocore's newer checksums.
                        request_checksum_calculation="when_required",
                        response_checksum_validation="when_required")
        return S3Storage(
            bucket_name=settings.S3_BUCKET, endpoint_url=settings.S3_ENDPOINT or None,
            region_name=settings.S3_REGION, access_key=settings.S3_ACCESS_KEY or None,
            secret_key=settings.S3_SECRET_KEY or None, client_config=config, location=DERIVED_PREFIX,
            file_overwrite=True, default_acl=None, querystring_auth=True,
            querystring_expire=presign_lifetime(None),
        )
    root = settings.STORAGE_ROOT.with_name(settings.STORAGE_ROOT.name + "-derived")
    return FileSystemStorage(location=root, file_permissions_mode=0o600, directory_permissions_mode=0o700)


def derived_storage() -> Storage:
    """The derived-files storage, built once per process."""
    global _storage
    with _lock:
        if _storage is None:
            _storage = _build()
        return _storage


def reset_derived_storage() -> None:
    """Forget the cached storage (tests, or after changing storage settings)."""
    global _storage
    with _lock:
        _storage = None


def presigned_url(name: str, *, filename: str, content_type: str) -> str | None:
    """A short-lived URL a browser may GET the derived file from directly
    (S3), shown inline with ``content_type``; None when the portal serves it
    itself (file system)."""
    storage = derived_storage()
    if isinstance(storage, FileSystemStorage):
        return None
    return storage.url(name, parameters={"ResponseContentType": content_type,
                                         "ResponseContentDisposition": content_disposition(filename, inline=True)})
