"""Bytes from one tier to another, verified against the SHA-256 recorded at
upload, and the container format small blobs are packed into.

Nothing here touches the database: a copy is only ever an object nobody
points at until ``moves`` switches the blob in one transaction.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.utils.translation import gettext

from portal.core.errors import PortalError
from portal.storage.base import ObjectNotFound
from portal.storage.tiers import Placement, Tier, placement_open, tier_store

logger = logging.getLogger(__name__)

CONTAINER_MAGIC = b"COFFERPK"
CONTAINER_FORMAT = "coffer-container/1"
_READERS = 8   # small blobs read from the hot store at once while packing


class CopyMismatch(PortalError):
    """Bytes read back are not the bytes recorded: never switch to them."""
    code = "copy_mismatch"
    status = 500


def new_key(tier: Tier, kind: str = "b") -> str:
    """A key used once: a move never writes where an earlier copy waits for deletion."""
    if tier.name == "hot":
        return f"blobs/{uuid.uuid4().hex[:2]}/{uuid.uuid4().hex}"
    return f"{tier.prefix}{kind}/{uuid.uuid4().hex[:2]}/{uuid.uuid4().hex}"


class _Hashing:
    """What the store reads from ``stream``, hashed and counted on the way."""

    def __init__(self, stream):
        self._stream, self.count, self.digest = stream, 0, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.count += len(data)
        self.digest.update(data)
        return data


def _hash_object(placement: Placement) -> tuple[int, str]:
    digest, count = hashlib.sha256(), 0
    with placement_open(placement) as stream:
        for chunk in stream:
            digest.update(chunk)
            count += len(chunk)
    return count, digest.hexdigest()


def copy_blob(source: Placement, *, sha256: str, to: Tier) -> str:
    """Copy one blob's bytes to a key of its own in tier ``to``, check what
    was read against ``sha256`` and what was stored by reading it back; the
    new key. A mismatch deletes the copy and raises CopyMismatch."""
    key, store = new_key(to), tier_store(to.name)
    with placement_open(source) as stream:
        reader = _Hashing(stream)
        store.put(key, reader)
    read_back = _hash_object(Placement(to.name, key, source.size))
    if (reader.count, reader.digest.hexdigest()) != (source.size, sha256) or read_back != (source.size, sha256):
        store.delete(key)
        raise CopyMismatch(gettext("A copy of %(key)s did not match its recorded SHA-256; nothing was switched.")
                           % {"key": source.key}, detail={"key": source.key})
    return key


@dataclass(frozen=True)
class Packed:
    blob_id: int
    offset: int
    size: int
    sha256: str


def _read_whole(placement: Placement) -> bytes | None:
    """The blob's bytes; None when its object is gone (the blob was collected since it was listed)."""
    try:
        with placement_open(placement) as stream:
            return stream.read()
    except ObjectNotFound:
        return None


def write_container(key: str, tier: Tier, blobs: list[tuple[int, Placement, str]]) -> tuple[list[Packed], int]:
    """Write the ``(blob id, placement, sha256)`` blobs back to back into
    container ``key`` in ``tier``, then its index; read it back and check
    every blob. Returns what was packed (a blob whose bytes no longer match
    its hash is left out and logged) and the container's size."""
    packed: list[Packed] = []
    with tempfile.SpooledTemporaryFile(max_size=32 * 1024**2) as spool:
        with ThreadPoolExecutor(_READERS) as pool:
            # map() keeps the order and holds at most the results not yet written.
            for (blob_id, placement, sha256), data in zip(blobs, pool.map(lambda b: _read_whole(b[1]), blobs)):
                if data is None:
                    logger.info("blob %s went away before it was packed", blob_id)
                    continue
                if len(data) != placement.size or hashlib.sha256(data).hexdigest() != sha256:
                    logger.error("blob %s does not match its SHA-256 in the hot store; not packed", blob_id)
                    continue
                packed.append(Packed(blob_id, spool.tell(), len(data), sha256))
                spool.write(data)
        index = json.dumps({"format": CONTAINER_FORMAT,
                            "blobs": [[p.sha256, p.offset, p.size] for p in packed]}).encode()
        spool.write(index)
        spool.write(CONTAINER_MAGIC + len(index).to_bytes(8, "big"))
        size = spool.tell()
        spool.seek(0)
        tier_store(tier.name).put(key, spool)
    _verify_container(key, tier, packed, size)
    return packed, size


def _verify_container(key: str, tier: Tier, packed: list[Packed], size: int) -> None:
    store = tier_store(tier.name)
    with store.open(key) as stream:
        data = stream.read()
    bad = [p for p in packed if hashlib.sha256(data[p.offset:p.offset + p.size]).hexdigest() != p.sha256]
    if len(data) != size or bad:
        store.delete(key)
        raise CopyMismatch(gettext("Container %(key)s did not read back as written; nothing was switched.")
                           % {"key": key}, detail={"key": key})


def container_index(key: str, tier: Tier) -> list[tuple[str, int, int]]:
    """The index a container carries: (sha256, offset, size) of each blob
    packed into it, read from its tail without the database."""
    store = tier_store(tier.name)
    size = store.size(key)
    with store.open(key, start=size - 16) as tail:
        trailer = tail.read()
    if trailer[:8] != CONTAINER_MAGIC:
        raise CopyMismatch(gettext("%(key)s is not a Coffer container.") % {"key": key})
    length = int.from_bytes(trailer[8:], "big")
    with store.open(key, start=size - 16 - length, end=size - 17) as stream:
        index = json.loads(stream.read())
    return [tuple(entry) for entry in index["blobs"]]

