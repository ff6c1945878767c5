"""Object storage: the only code in Coffer that talks to S3 or the storage folder.

Everything else calls ``get_store()`` and uses the ``ObjectStore`` interface.
"""

from __future__ import annotations

import threading

from django.conf import settings

from portal.storage.base import ObjectInfo, ObjectNotFound, ObjectStore, ObjectStream, Part, UploadNotFound
from portal.storage.local import LocalObjectStore

__all__ = ["LocalObjectStore", "ObjectInfo", "ObjectNotFound", "ObjectStore", "ObjectStream", "Part",
           "S3ObjectStore", "UploadNotFound", "get_store", "reset_store"]

_lock = threading.Lock()
_store: ObjectStore | None = None


def _build() -> ObjectStore:
    if settings.STORAGE_BACKEND == "s3":
        from portal.storage.s3 import S3ObjectStore

        return S3ObjectStore(settings.S3_ENDPOINT, settings.S3_BUCKET, settings.S3_REGION,
                             settings.S3_ACCESS_KEY, settings.S3_SECRET_KEY, settings.S3_ADDRESSING_STYLE)
    return LocalObjectStore(settings.STORAGE_ROOT)


def get_store() -> ObjectStore:
    """The configured backend, built once per process."""
    global _store
    with _lock:
        if _store is None:
            _store = _build()
        return _store


def reset_store() -> None:
    """Forget the cached backend (tests, or after changing storage settings)."""
    global _store
    with _lock:
        _store = None


def __getattr__(name: str):
    # boto3 takes a while to import; only processes that use S3 pay for it.
    if name == "S3ObjectStore":
        from portal.storage.s3 import S3ObjectStore

        return S3ObjectStore
    raise AttributeError(name)
