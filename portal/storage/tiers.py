"""Storage tiers: the hot store (``get_store()``) and colder targets, each an
``ObjectStore`` of its own, and where one blob's bytes are (``Placement``).

A tier is configured in ``PORTAL_TIERS`` (see docs/tiers.md): a class from
hot to deep archive, a backend (another bucket or endpoint, the same bucket
with an S3 storage class, or a local folder), whether small blobs are packed
into containers there, and whether a read needs a restore step first.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.utils.translation import gettext, gettext_lazy as _

from portal.core.errors import InvalidInput
from portal.storage.base import ObjectInfo, ObjectStore, ObjectStream, validate_window

HOT = "hot"


class TierClass(models.TextChoices):
    """From fastest and dearest to slowest and cheapest (the S3 classes' order)."""
    HOT = "hot", _("Hot")
    WARM = "warm", _("Infrequent access")
    COLD = "cold", _("Cold")
    ARCHIVE = "archive", _("Archive")
    DEEP_ARCHIVE = "deep_archive", _("Deep archive")


COLDNESS = {choice: rank for rank, choice in enumerate(TierClass.values)}


@dataclass(frozen=True)
class Tier:
    name: str
    tier_class: str
    # Objects of this tier live under this prefix of its store, so a tier may share the hot bucket.
    prefix: str = ""
    storage_class: str = ""     # passed to S3 on every write (STANDARD_IA, GLACIER_IR, ...)
    pack: bool = False          # small blobs are packed into containers here
    restore_minutes: int = 0    # > 0: a read asks for a restore and waits this long

    @property
    def coldness(self) -> int:
        return COLDNESS[self.tier_class]

    @property
    def class_label(self) -> str:
        return str(TierClass(self.tier_class).label)


def tiers() -> dict[str, Tier]:
    """Every configured tier by name, the hot one first."""
    found = {HOT: Tier(HOT, TierClass.HOT)}
    for name, config in settings.TIERS.items():
        found[name] = Tier(name, config["class"], prefix=config.get("prefix", f"tiers/{name}/"),
                           storage_class=config.get("storage_class", ""), pack=config.get("pack", False),
                           restore_minutes=int(config.get("restore_minutes", 0)))
    return found


def tier_get(name: str) -> Tier:
    found = tiers().get(name)
    if found is None:
        raise InvalidInput(gettext("No storage tier is called %(name)r; the tiers are %(names)s.")
                           % {"name": name, "names": ", ".join(tiers())}, code="unknown_tier")
    return found


_lock = threading.Lock()
_stores: dict[str, ObjectStore] = {}


def _build(name: str) -> ObjectStore:
    from portal.storage import get_store

    if name == HOT:
        return get_store()
    config = settings.TIERS[name]
    if config["backend"] == "local":
        from portal.storage.local import LocalObjectStore

        return LocalObjectStore(config["root"])
    from portal.storage.s3 import S3ObjectStore

    return S3ObjectStore(config.get("endpoint", settings.S3_ENDPOINT), config.get("bucket", settings.S3_BUCKET),
                         config.get("region", settings.S3_REGION),
                         config.get("access_key", settings.S3_ACCESS_KEY),
                         config.get("secret_key", settings.S3_SECRET_KEY),
                         config.get("addressing_style", settings.S3_ADDRESSING_STYLE),
                         storage_class=config.get("storage_class", ""))


def tier_store(name: str) -> ObjectStore:
    """The store behind tier ``name``, built once per process."""
    if name == HOT:
        return _build(HOT)
    with _lock:
        if name not in _stores:
            tier_get(name)
            _stores[name] = _build(name)
        return _stores[name]


def reset_tier_stores() -> None:
    """Forget built tier stores (tests, or after changing PORTAL_TIERS)."""
    with _lock:
        _stores.clear()


@dataclass(frozen=True)
class Placement:
    """Where a blob's bytes are: an object of its own (``offset`` None) or
    ``size`` bytes at ``offset`` inside a container object."""
    tier: str
    key: str
    size: int
    offset: int | None = None

    @property
    def packed(self) -> bool:
        return self.offset is not None

    @property
    def store(self) -> ObjectStore:
        return tier_store(self.tier)


class PlacedObject:
    """One blob's bytes as a readable window (``stat``/``open``), whether
    they are an object of their own or a slice of a container."""

    def __init__(self, placement: Placement):
        self.placement = placement

    def stat(self) -> ObjectInfo:
        placement = self.placement
        info = placement.store.stat(placement.key)
        return info if not placement.packed else ObjectInfo(key=info.key, size=placement.size,
                                                           modified=info.modified)

    def open(self, start: int = 0, end: int | None = None) -> ObjectStream:
        placement = self.placement
        if not placement.packed:
            return placement.store.open(placement.key, start=start, end=end)
        validate_window(start, end)
        if start >= placement.size:
            raise InvalidInput(gettext("Byte %(start)s is past the end of the file (%(size)s bytes).")
                               % {"start": start, "size": placement.size}, code="range_not_satisfiable",
                               detail={"size": placement.size})
        last = placement.size - 1 if end is None else min(end, placement.size - 1)
        stream = placement.store.open(placement.key, start=placement.offset + start,
                                      end=placement.offset + last)
        # The container's size and tag say nothing about this blob.
        stream.total_size, stream.etag = placement.size, ""
        return stream


def placement_open(placement: Placement, *, start: int = 0, end: int | None = None) -> ObjectStream:
    """Bytes ``start``..``end`` (inclusive) of the blob at ``placement``."""
    return PlacedObject(placement).open(start, end)
