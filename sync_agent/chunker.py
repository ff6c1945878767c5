"""Content-defined chunking (FastCDC): an edit in the middle of a big file
changes only the chunks around it. Small files are one chunk."""

from __future__ import annotations

import threading
from typing import BinaryIO, Iterator

from pyfastcdc import FastCDC

KiB = 1024
MiB = 1024 * KiB
MIN_SIZE = 512 * KiB
# FastCDC's normalized chunking puts the real average above the mask's size:
# 768 KiB gives about 1.2 MiB on random data.
AVG_SIZE = 768 * KiB
MAX_SIZE = 8 * MiB
_local = threading.local()


def _cdc() -> FastCDC:
    """One FastCDC per thread (the object is not safe to share)."""
    if not hasattr(_local, "cdc"):
        _local.cdc = FastCDC(AVG_SIZE, min_size=MIN_SIZE, max_size=MAX_SIZE)
    return _local.cdc


def iter_chunks(stream: BinaryIO, size_hint: int = -1) -> Iterator[bytes]:
    """The chunks of ``stream`` as bytes (each an independent copy); none for an empty file."""
    if 0 <= size_hint <= MIN_SIZE:
        data = stream.read(MIN_SIZE + 1)
        if len(data) <= MIN_SIZE:  # still small: one chunk
            if data:
                yield data
            return
        stream = _Concat(data, stream)  # it grew past the small size while we looked
    for chunk in _cdc().cut_stream(stream):
        yield bytes(chunk.data)  # the view is only valid until the next chunk


class _Concat:
    def __init__(self, head: bytes, rest: BinaryIO):
        self.head, self.rest = memoryview(head), rest

    def readinto(self, buf) -> int:
        if self.head:
            n = min(len(buf), len(self.head))
            buf[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        return self.rest.readinto(buf)


def chunk_bytes(data: bytes) -> list[bytes]:
    """Chunks of an in-memory buffer (tests and tools)."""
    if len(data) <= MIN_SIZE:
        return [data]
    return [bytes(c.data) for c in _cdc().cut_buf(data)]
