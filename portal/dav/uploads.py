"""A PUT body as something the object store can read: the exact announced
length, or an error. A client that goes away mid-body makes the read fail,
so the store drops what it had (local: the temp file; S3: the multipart
upload) and the file's previous version stays current."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.utils.translation import gettext

from portal.core.errors import InvalidInput
from portal.files.services.common import too_large_error as too_large

SPOOL_IN_MEMORY = 8 * 1024 * 1024


class IncompleteBody(InvalidInput):
    code = "incomplete_body"


class BodyReader:
    """``read(n)`` over the body's chunks; raises IncompleteBody when they end
    before ``expected`` bytes (the client hung up)."""

    def __init__(self, chunks: Iterable[bytes], expected: int):
        self._chunks: Iterator[bytes] = iter(chunks)
        self._buffer = b""
        self.expected = expected
        self.received = 0

    def _next_chunk(self) -> bytes:
        if self._buffer:
            chunk, self._buffer = self._buffer, b""
            return chunk
        chunk = next(self._chunks, b"")
        self.received += len(chunk)
        if not chunk and self.received < self.expected:
            raise IncompleteBody(gettext("The request body ended after %(received)s of %(expected)s bytes; nothing was stored.") % {"received": self.received, "expected": self.expected})
        return chunk

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self.expected + 1
        parts, have = [], 0
        while have < size:
            chunk = self._next_chunk()
            if not chunk:
                break
            if len(chunk) > size - have:
                chunk, self._buffer = chunk[:size - have], chunk[size - have:]
            parts.append(chunk)
            have += len(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)


@contextmanager
def spooled_body(chunks: Iterable[bytes]):
    """A body of unknown length (chunked transfer) in a temp file: (file, size)."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, prefix="coffer-dav-") as spool:
        size = 0
        for chunk in chunks:
            size += len(chunk)
            if size > settings.MAX_FILE_SIZE:
                raise too_large()
            spool.write(chunk)
        spool.seek(0)
        yield spool, size
