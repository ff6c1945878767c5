"""The one small interface every object store backend implements.

Callers outside ``portal/storage`` see only this module's types and the
errors from ``portal.core.errors``; they never learn which backend answered.
"""

from __future__ import annotations

import io
import os
import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO
from urllib.parse import quote

from django.conf import settings
from django.utils.translation import gettext

from portal.core.errors import InvalidInput, NotFound, StorageUnavailable

CHUNK_SIZE = 1024 * 1024
# S3's limits, enforced by the local backend too so code written against
# the embedded store keeps working on S3.
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_SIZE = 5 * 1024**3
MAX_PARTS = 10_000
MAX_KEY_BYTES = 1024
# Whatever settings say, a signed URL never outlives this.
PRESIGN_CEILING = 300


class ObjectNotFound(NotFound):
    code = "object_not_found"


class UploadNotFound(NotFound):
    code = "upload_not_found"


def range_not_satisfiable(key: str, start: int, size: int) -> InvalidInput:
    return InvalidInput(gettext("Byte %(start)s is past the end of %(key)r (%(size)s bytes).") % {"start": start, "key": key, "size": size},
                        code="range_not_satisfiable", detail={"size": size})


@dataclass(frozen=True)
class Part:
    number: int
    size: int
    etag: str


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    modified: datetime


_FORBIDDEN_KEY_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")


def validate_key(key: str) -> str:
    """Refuse keys that could escape the local root or mean different things
    to different backends. Segments starting with "." are reserved for the
    local backend's bookkeeping (temp files, ``.multipart``)."""
    if not isinstance(key, str) or not key:
        raise InvalidInput(gettext("An object key must be a non-empty string."), code="invalid_key")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise InvalidInput(gettext("Object keys are at most %(MAX_KEY_BYTES)s bytes.") % {"MAX_KEY_BYTES": MAX_KEY_BYTES}, code="invalid_key")
    if _FORBIDDEN_KEY_CHARS.search(key):
        raise InvalidInput(gettext("Object keys may not contain control characters or backslashes."),
                           code="invalid_key", detail={"key": key})
    if any(not segment or segment.startswith(".") for segment in key.split("/")):
        raise InvalidInput(gettext("Object keys may not start with '/', contain empty, '.' or '..' segments, "
                           "or segments starting with '.'."), code="invalid_key", detail={"key": key})
    return key


def validate_window(start: int, end: int | None) -> None:
    if start < 0 or (end is not None and end < start):
        raise InvalidInput(gettext("Invalid byte range %(start)s-%(end)s.") % {"start": start, "end": end}, code="invalid_range")


def validate_part_number(part_number: int) -> int:
    if not isinstance(part_number, int) or not 1 <= part_number <= MAX_PARTS:
        raise InvalidInput(gettext("Part numbers run from 1 to %(MAX_PARTS)s.") % {"MAX_PARTS": MAX_PARTS}, code="invalid_part")
    return part_number


def validate_part_list(parts: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """S3's rule: at least one part, numbers strictly ascending."""
    numbers = [validate_part_number(number) for number, _ in parts]
    if not numbers or numbers != sorted(set(numbers)):
        raise InvalidInput(gettext("List the uploaded parts once each, in ascending order."), code="invalid_part")
    return [(number, normalize_etag(etag)) for number, etag in parts]


def check_parts_complete(wanted: list[tuple[int, str]], have: list[Part]) -> int:
    """Compare the caller's part list with what the store holds; total size."""
    by_id = {(part.number, normalize_etag(part.etag)): part for part in have}
    total = 0
    for index, (number, etag) in enumerate(wanted):
        part = by_id.get((number, etag))
        if part is None:
            raise InvalidInput(gettext("Part %(number)s was not uploaded (or was replaced); upload it again.") % {"number": number},
                               code="invalid_part", detail={"part": number})
        if index < len(wanted) - 1 and part.size < MIN_PART_SIZE:
            raise InvalidInput(gettext("Part %(number)s is %(size)s bytes; every part but the last must be at least %(MIN_PART_SIZE)s bytes.") % {"number": number, "size": part.size, "MIN_PART_SIZE": MIN_PART_SIZE}, code="part_too_small",
                               detail={"part": number})
        total += part.size
    return total


def normalize_etag(etag: str) -> str:
    return '"' + etag.strip().strip('"') + '"'


def validate_put_size(size: int) -> int:
    """A single PUT's size: S3 takes at most 5 GiB in one request."""
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_PART_SIZE:
        raise InvalidInput(gettext("A single upload is 0 to %(MAX_PART_SIZE)s bytes.") % {"MAX_PART_SIZE": MAX_PART_SIZE}, code="invalid_size")
    return size


def presign_lifetime(expires: int | None) -> int:
    cap = min(settings.PRESIGN_SECONDS, PRESIGN_CEILING)
    return cap if expires is None else max(1, min(int(expires), cap))


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """RFC 6266 header with an ASCII fallback and an RFC 5987 UTF-8 name, so
    every browser gets a name and none of them gets mojibake."""
    # Bidirectional controls too: "x\u202egnp.exe" would show as "xexe.png" in the browser's download bar.
    name = re.sub(r"[\x00-\x1f\x7f/\\\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]", "_", filename).strip()
    name = name or "download"
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    ascii_name = re.sub(r'["%;]', "_", ascii_name).strip() or "download"
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


class ObjectStream(io.RawIOBase):
    """A readable window of an object: ``read(n)``, iteration in chunks,
    ``with``. Backend read errors listed in ``errors`` become
    StorageUnavailable, and a body that ends early is an error rather than a
    silently short file."""

    def __init__(self, raw: BinaryIO, *, length: int, total_size: int, etag: str,
                 modified: datetime | None, errors: tuple[type[BaseException], ...] = ()):
        super().__init__()
        self._raw = raw
        self._remaining = length
        self._errors = errors
        self.length = length
        self.total_size = total_size
        self.etag = etag
        self.modified = modified

    def readable(self) -> bool:
        return True

    def take_os_file(self) -> BinaryIO | None:
        """Hand over the open OS file behind this stream (local store),
        positioned at the window's start, so a web server can sendfile() it;
        the caller then owns and closes it. None for network streams."""
        try:
            fileno = self._raw.fileno()
            # Only a window that runs to the file's end: whoever takes the file reads to its end
            # (a blob packed in a container must not bring its neighbours along).
            if os.fstat(fileno).st_size - self._raw.tell() != self._remaining:
                return None
        except (AttributeError, OSError, io.UnsupportedOperation):
            return None
        raw, self._raw = self._raw, io.BytesIO()
        self.close()
        return raw

    def readinto(self, buffer) -> int:
        if self._remaining <= 0:
            return 0
        want = min(len(buffer), self._remaining)
        try:
            data = self._raw.read(want)
        except self._errors as exc:
            raise StorageUnavailable(gettext("The object store stopped answering mid-download (%(exc)s).") % {"exc": exc}) from exc
        if not data:
            raise StorageUnavailable(gettext("The object ended %(remaining)s bytes early; try again.") % {"remaining": self._remaining})
        buffer[:len(data)] = data
        self._remaining -= len(data)
        return len(data)

    def read(self, size: int = -1) -> bytes:
        # Unlike a raw stream, fill the request: callers treat a short read as EOF.
        if size is None or size < 0:
            size = self._remaining
        chunks, wanted = [], min(size, self._remaining)
        while wanted > 0 and (chunk := super().read(wanted)):
            chunks.append(chunk)
            wanted -= len(chunk)
        return b"".join(chunks)

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(CHUNK_SIZE):
            yield chunk

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class StoredObject:
    """One object of a store as a readable window (``stat``/``open``), the
    shape ``stream_object`` serves; ``tiers.PlacedObject`` is the other."""

    def __init__(self, store: "ObjectStore", key: str):
        self.store, self.key = store, key

    def stat(self) -> ObjectInfo:
        return self.store.stat(self.key)

    def open(self, start: int = 0, end: int | None = None) -> ObjectStream:
        return self.store.open(self.key, start=start, end=end)


# What a client sends with a create-only PUT (S3 conditional write; signed into the URL).
CREATE_ONLY_HEADERS = {"If-None-Match": "*"}


class ObjectStore(ABC):
    """Bytes under keys. Every method raises StorageUnavailable when the store
    does not answer, ObjectNotFound for a missing key and InvalidInput for a
    bad key or argument."""

    @abstractmethod
    def put(self, key: str, fileobj: BinaryIO, *, content_type: str | None = None) -> int:
        """Stream ``fileobj`` into ``key``; readers see the old object or the whole new one."""

    @abstractmethod
    def open(self, key: str, *, start: int = 0, end: int | None = None) -> ObjectStream:
        """Bytes ``start``..``end`` inclusive (``end`` past the object is clamped, like HTTP)."""

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo: ...

    def size(self, key: str) -> int:
        return self.stat(key).size

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""

    @abstractmethod
    def copy(self, source: str, target: str) -> int:
        """Copy object ``source`` to ``target`` inside the store (the bytes do
        not pass through the caller); the size. Later writes to ``source``
        never change ``target``. ObjectNotFound when ``source`` is missing."""

    @abstractmethod
    def presign_get(self, key: str, *, filename: str, content_type: str = "application/octet-stream",
                    inline: bool = False, expires: int | None = None) -> str:
        """An absolute URL that downloads ``key`` as ``filename`` for at most PRESIGN_SECONDS."""

    @abstractmethod
    def presign_put(self, key: str, *, size: int, expires: int | None = None, create_only: bool = False) -> str:
        """An absolute URL the client PUTs exactly ``size`` bytes to, creating
        (or replacing) ``key`` in one request, for at most PRESIGN_SECONDS.
        ``create_only``: the URL only creates ``key``; a PUT when it exists is
        refused (412) and changes nothing. The client sends CREATE_ONLY_HEADERS."""

    @abstractmethod
    def multipart_start(self, key: str, *, content_type: str | None = None, part_size: int | None = None) -> str:
        """Begin a multipart upload; its id. ``part_size``, when every part but
        the last will have exactly that size, lets a store place parts directly."""

    @abstractmethod
    def multipart_part_url(self, key: str, upload_id: str, part_number: int, *,
                           expires: int | None = None) -> str:
        """A URL the client PUTs one part's raw bytes to; the answer's ETag header names the part."""

    @abstractmethod
    def multipart_list_parts(self, key: str, upload_id: str) -> list[Part]: ...

    def multipart_list_part_uploads(self, key: str, upload_id: str) -> list[Part]:
        """Every stored upload of every part. A store may keep several for a
        part number that was sent more than once (SeaweedFS does); the caller's
        ETag then says which one it means."""
        return self.multipart_list_parts(key, upload_id)

    @abstractmethod
    def multipart_complete(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> int:
        """Join the listed ``(number, etag)`` parts into ``key``; the object's size."""

    @abstractmethod
    def multipart_abort(self, key: str, upload_id: str) -> None:
        """Forget an upload and its parts; an unknown upload is not an error."""

    @abstractmethod
    def iter_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, in no promised order
        (AWS lists in byte order, SeaweedFS folder by folder)."""

    def legal_hold_set(self, key: str, on: bool) -> bool:
        """Set (or clear) an S3 Object Lock legal hold on ``key``, best effort:
        True when the store did, False when it does not support Object Lock
        (a local folder, a bucket made without Object Lock)."""
        return False

    def cors_rule_set(self, rule: dict) -> bool | None:
        """Add a CORS rule to the bucket (portal.storage.bucket_rules): True
        when set, False when the store does not support it, None when there
        is no bucket to configure (a local folder)."""
        return None

    def lifecycle_rule_set(self, rule: dict) -> bool | None:
        """Add a lifecycle rule to the bucket; answers as cors_rule_set."""
        return None

    def iter_unfinished_uploads(self, prefix: str = "") -> Iterator[tuple[str, str, datetime]]:
        """Multipart uploads under ``prefix`` neither completed nor aborted, as
        (key, upload id, started): what a writer killed during a large put
        leaves. S3 keeps (and bills) their parts, unlisted, until aborted."""
        return iter(())

    @abstractmethod
    def check(self) -> None:
        """Raise StorageUnavailable unless the store answers and accepts writes."""

    @abstractmethod
    def ensure_bucket(self) -> None:
        """Create the bucket (or folder) if it is missing."""
