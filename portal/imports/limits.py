"""A job's bandwidth limit: one token bucket shared by the run's transfer
threads, charged for the bytes each read returns."""

from __future__ import annotations

import threading
import time
from typing import BinaryIO


class TokenBucket:
    """``rate`` bytes per second on average, bursts up to one second's worth."""

    def __init__(self, rate: int):
        self.rate = max(1, int(rate))
        self._tokens = float(self.rate)
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def take(self, count: int) -> None:
        """Charge ``count`` bytes (already read), sleeping off any debt."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(float(self.rate), self._tokens + (now - self._stamp) * self.rate) - count
            self._stamp = now
            debt = -self._tokens
        if debt > 0:
            time.sleep(debt / self.rate)


class _Reader:
    """Reads return what was asked for unless the stream ended: the store's
    uploader takes a short first read for the whole (small) file."""

    def __init__(self, stream: BinaryIO, bucket: TokenBucket | None, most: int | None = None):
        self._stream, self._bucket = stream, bucket
        self._left = (1 << 62) if most is None else most   # never more than this is read, whatever the source sends
        # Without a limit, pieces as large as asked; with one, a quarter second's worth, so the rate stays even.
        self._piece = None if bucket is None else max(16 * 1024, bucket.rate // 4)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = 1 << 62
        pieces, wanted = [], min(size, self._left)
        while wanted > 0:
            data = self._stream.read(wanted if self._piece is None else min(wanted, self._piece))
            if not data:
                break
            if self._bucket is not None:
                self._bucket.take(len(data))
            pieces.append(data)
            wanted -= len(data)
            self._left -= len(data)
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def limited(stream: BinaryIO, bucket: TokenBucket | None, *, most: int | None = None) -> _Reader:
    """``stream``, read no faster than ``bucket`` allows (when there is one)
    and no further than ``most`` bytes. Only ``read`` is exposed: the store
    streams it rather than seeking."""
    return _Reader(stream, bucket, most)
