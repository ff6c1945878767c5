"""The S3 data path's two hot calls, a whole-object PUT and a GET, through
obstore (Rust's object_store crate) instead of boto3.

botocore spends about 2 ms of CPU on each request (building, signing and
parsing it in Python); obstore about a quarter of that, with the GIL
released while the request runs. Copying tens of thousands of small files
(an import) is CPU-bound on exactly that. Everything else (multipart,
presigning, listing, bucket rules) stays on boto3, which has them all.

Same settings as the boto3 client: endpoint, path or virtual-host
addressing, timeouts, retries, the storage class written with every object,
and a private CA from ``AWS_CA_BUNDLE`` (as botocore reads it). Errors come
out as the same PortalErrors ``s3.py`` raises.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from datetime import timedelta

import obstore
from obstore.exceptions import (
    BaseError, NotFoundError, PermissionDeniedError, UnauthenticatedError,
)
from obstore.store import S3Store
from django.utils.translation import gettext

from portal.core.errors import InvalidInput, PortalError, StorageUnavailable
from portal.storage.base import CHUNK_SIZE, ObjectNotFound

# What a request or a stream raises (obstore raises the builtin FileNotFoundError for a missing object).
NETWORK_ERRORS = (BaseError, OSError)
_STATUS = re.compile(r"\b(?:status(?: code)?:?\s*)([1-5]\d\d)\b", re.IGNORECASE)
_LONG = timedelta(days=1)  # a GET streams as long as its reader reads; read_timeout catches a stalled store


def plain_key(key: str) -> bool:
    """Whether obstore sends ``key`` as it is: it refuses empty, "." and ".." segments and drops a
    leading or trailing "/" (keys Coffer writes are always plain; a foreign bucket's may not be)."""
    return bool(key) and not any(part in ("", ".", "..") for part in key.split("/"))


# The process whose obstore runtime this is. Its threads do not survive a fork, and a forked child
# that calls obstore hangs: children of a process that used it (a test run, a pre-forking server
# that touched the store) go through boto3 instead.
_runtime_pid: int | None = None


def usable() -> bool:
    return _runtime_pid in (None, os.getpid())


def _ca_bundle() -> str | None:
    path = os.environ.get("AWS_CA_BUNDLE", "")
    if not path:
        return None
    with open(path, encoding="ascii") as pem:
        return pem.read()


class NativeS3:
    """One bucket through obstore; one client per process (shared by its threads)."""

    def __init__(self, *, endpoint_url: str | None, bucket: str, region: str | None, access_key: str,
                 secret_key: str, addressing_style: str, connect_timeout: float, read_timeout: float,
                 attempts: int, storage_class: str = ""):
        self.bucket, self._endpoint = bucket, endpoint_url
        self._config = {
            "bucket": bucket, "region": region or "us-east-1", "access_key_id": access_key,
            "secret_access_key": secret_key, "virtual_hosted_style_request": addressing_style == "virtual",
            **({"endpoint": endpoint_url} if endpoint_url else {}),
        }
        client = {"connect_timeout": timedelta(seconds=connect_timeout),
                  "read_timeout": timedelta(seconds=read_timeout), "timeout": _LONG,
                  "allow_http": bool(endpoint_url and endpoint_url.startswith("http://"))}
        ca = _ca_bundle()
        if ca:
            client["root_certificate"] = ca
        self._client = client
        self._retry = {"max_retries": max(0, attempts - 1), "retry_timeout": timedelta(seconds=read_timeout * attempts),
                       "backoff": {"init_backoff": timedelta(milliseconds=100), "max_backoff": timedelta(seconds=2)}}
        self._attributes = {"Storage-Class": storage_class} if storage_class else {}
        self._store, self._pid, self._lock = None, None, threading.Lock()

    @property
    def store(self) -> S3Store:
        # Like boto3's client: its connection pool must not cross a fork.
        global _runtime_pid
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    _runtime_pid = os.getpid()
                    self._store = S3Store(client_options=self._client, retry_config=self._retry, **self._config)
                    self._pid = os.getpid()
        return self._store

    def put(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        attributes = {**self._attributes, **({"Content-Type": content_type} if content_type else {})}
        try:
            obstore.put(self.store, key, data, attributes=attributes or None, use_multipart=False)
        except NETWORK_ERRORS as exc:
            raise self.translate(exc, key) from exc

    def get(self, key: str, *, start: int = 0, end: int | None = None):
        """(chunk reader, length, total size, etag, modified) of ``key``, bytes ``start``..``end`` (inclusive)."""
        options = {}
        if end is not None:
            options["range"] = (start, end + 1)
        elif start:
            options["range"] = {"offset": start}
        try:
            result = obstore.get(self.store, key, options=options or None)
        except NETWORK_ERRORS as exc:
            raise self.translate(exc, key) from exc
        meta = result.meta
        first, stop = result.range
        return (ChunkReader(result.stream(min_chunk_size=CHUNK_SIZE)), stop - first, meta["size"],
                f'"{(meta.get("e_tag") or "").strip(chr(34))}"', meta.get("last_modified"))

    def translate(self, exc: Exception, key: str | None) -> PortalError:
        text = str(exc)
        if "NoSuchBucket" in text:
            return StorageUnavailable(gettext("The bucket %(bucket)r does not exist; run `manage.py storage_init` or "
                                              "fix PORTAL_S3_BUCKET.") % {"bucket": self.bucket})
        if isinstance(exc, (NotFoundError, FileNotFoundError)):
            return ObjectNotFound(gettext("No object %(key)r.") % {"key": key})
        if isinstance(exc, (PermissionDeniedError, UnauthenticatedError)):
            code = "SignatureDoesNotMatch" if "SignatureDoesNotMatch" in text else "AccessDenied"
            return StorageUnavailable(gettext("The object store refused our credentials (%(code)s); check "
                                              "PORTAL_S3_ACCESS_KEY / PORTAL_S3_SECRET_KEY.") % {"code": code},
                                      detail={"s3_code": code})
        status = _STATUS.search(text)
        if "InvalidRange" in text or (status and status.group(1) == "416"):
            return InvalidInput(gettext("The range starts past the end of %(key)r.") % {"key": key},
                                code="range_not_satisfiable")
        if status:
            return StorageUnavailable(gettext("The object store answered %(status)s %(code)s: %(message)s. Try again "
                                              "in a moment.") % {"status": status.group(1), "code": "",
                                                                  "message": text[:300]})
        return StorageUnavailable(gettext("The object store at %(value)s is not answering (%(exc)s). Try again in a "
                                          "moment.") % {"value": self._endpoint or "AWS", "exc": text[:300]})


class ChunkReader:
    """``read(n)`` over obstore's stream of chunks (each a buffer)."""

    def __init__(self, chunks: Iterator):
        self._chunks, self._buffer = chunks, memoryview(b"")

    def read(self, size: int = -1) -> bytes:
        if not self._buffer:
            chunk = next(self._chunks, None)
            if chunk is None:
                return b""
            self._buffer = memoryview(chunk)
        if size is None or size < 0 or size >= len(self._buffer):
            data, self._buffer = bytes(self._buffer), memoryview(b"")
            return data
        data, self._buffer = bytes(self._buffer[:size]), self._buffer[size:]
        return data

    def close(self) -> None:
        self._chunks, self._buffer = iter(()), memoryview(b"")
