"""The periodic work: a tiering run applies the policies in bounded batches
(resumable: each container or blob switched is committed, and the next run
starts over from what is still hot); compaction rewrites containers that
deletions emptied. Both are safe to run twice and while files are read.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from portal.audit.actions import Action
from portal.audit.services import record
from portal.core.errors import PortalError, StorageUnavailable
from portal.files.models import Blob
from portal.lifecycle import moves
from portal.lifecycle.copying import CopyMismatch
from portal.lifecycle.models import Container, ContainerState
from portal.lifecycle.policies import candidates
from portal.storage.base import ObjectNotFound
from portal.storage.tiers import tier_get, tiers

logger = logging.getLogger(__name__)
RUN_LOCK = "lifecycle:tiering-run"
COMPACT_LOCK = "lifecycle:compaction"
# Short, and renewed after every container or blob: a killed run's lock is gone within minutes.
_LOCK_SECONDS = 15 * 60


@dataclass
class RunReport:
    blobs: int = 0
    bytes: int = 0
    containers: int = 0
    failed: int = 0
    by_tier: dict = field(default_factory=lambda: defaultdict(int))
    busy: bool = False

    def add(self, tier: str, blobs: int, moved: int, *, container: bool = False) -> None:
        self.blobs += blobs
        self.bytes += moved
        self.containers += int(container and blobs > 0)
        self.by_tier[tier] += moved

    def as_dict(self) -> dict:
        if self.busy:
            return {"skipped": "another run is under way"}
        return {"blobs": self.blobs, "bytes": self.bytes, "containers": self.containers, "failed": self.failed,
                "bytes_by_tier": dict(self.by_tier)}

    def full(self, max_blobs: int, max_bytes: int) -> bool:
        return self.blobs >= max_blobs or self.bytes >= max_bytes


def _exclusive(name: str):
    """One run of a kind at a time across workers (Redis); the lock expires should a worker die."""
    return cache.add(name, timezone.now().isoformat(), _LOCK_SECONDS)


def _still_running(name: str) -> None:
    cache.touch(name, _LOCK_SECONDS)


def tiering_run(*, now=None, max_blobs: int | None = None, max_bytes: int | None = None) -> RunReport:
    """Move every blob the policies say is due, at most ``max_blobs`` blobs
    and ``max_bytes`` bytes (settings TIER_RUN_*) per run."""
    report = RunReport()
    if not _exclusive(RUN_LOCK):
        report.busy = True
        return report
    try:
        _tier_all(report, now=now or timezone.now(), max_blobs=max_blobs or settings.TIER_RUN_BLOBS,
                  max_bytes=max_bytes or settings.TIER_RUN_BYTES)
    finally:
        cache.delete(RUN_LOCK)
    return report


def _tier_all(report: RunReport, *, now, max_blobs: int, max_bytes: int) -> None:
    waiting: dict[str, list[Blob]] = defaultdict(list)   # small blobs gathering into a container, per tier
    waiting_bytes: dict[str, int] = defaultdict(int)     # their sizes' sum, kept as they come (not re-summed)
    after = 0
    while not report.full(max_blobs, max_bytes):
        found, after = candidates(now=now, after_id=after)
        for candidate in found:
            tier = tier_get(candidate.tier)
            blob = candidate.blob
            if tier.pack and blob.size <= settings.PACK_MAX_BLOB:
                waiting[tier.name].append(blob)
                waiting_bytes[tier.name] += blob.size
                if waiting_bytes[tier.name] >= settings.PACK_TARGET_BYTES:
                    del waiting_bytes[tier.name]
                    _pack(report, waiting.pop(tier.name), tier, now=now)
            else:
                _move(report, blob, tier.name, now=now)
            if report.full(max_blobs, max_bytes):
                break
        if not after:
            break
    for name, blobs in waiting.items():
        _pack(report, blobs, tier_get(name), now=now)


def _pack(report: RunReport, blobs: list[Blob], tier, *, now) -> None:
    _still_running(RUN_LOCK)
    try:
        count, moved = moves.blobs_pack(blobs=blobs, to=tier, now=now)
    except CopyMismatch as exc:
        logger.error("packing into %s failed: %s", tier.name, exc.message)
        report.failed += len(blobs)
        return
    report.add(tier.name, count, moved, container=True)


def _move(report: RunReport, blob: Blob, tier: str, *, now) -> None:
    _still_running(RUN_LOCK)
    try:
        moved = moves.blob_move(blob_id=blob.pk, to=tier, now=now)
    except CopyMismatch as exc:
        logger.error("moving blob %s to %s failed: %s", blob.pk, tier, exc.message)
        report.failed += 1
        return
    except ObjectNotFound:   # deleted (file purged, blob collected) since the run listed it: nothing to move
        logger.info("blob %s went away while being moved to %s", blob.pk, tier)
        return
    report.add(tier, int(moved > 0), moved)


def blob_promote(*, blob_id: int) -> int:
    """Bring a blob that was read back to the hot store (a space's policy
    asks for it); the bytes moved. Safe to run twice."""
    try:
        return moves.blob_move(blob_id=blob_id, to="hot", why="read")
    except (CopyMismatch, StorageUnavailable) as exc:
        logger.warning("promoting blob %s failed: %s", blob_id, exc.message)
        return 0


# --- compaction ---------------------------------------------------------------------------

def _sparse(tier: str) -> list[Container]:
    """Live containers worth rewriting: mostly holes, or much smaller than a
    full one (several of those merge into one)."""
    return list(Container.objects.filter(tier=tier, state=ContainerState.LIVE)
                .filter(Q(live_bytes__lt=F("data_bytes") * settings.PACK_MIN_LIVE_PERCENT / 100)
                        | Q(data_bytes__lt=settings.PACK_TARGET_BYTES // 4))
                .order_by("pk"))


def containers_compact(*, now=None) -> dict:
    """Rewrite sparse containers of every packing tier: their live blobs go
    into new, full containers (copy, verify, switch, grace period: the same
    steps as a move); containers left empty are retired."""
    now = now or timezone.now()
    if not _exclusive(COMPACT_LOCK):
        return {"skipped": "another compaction is under way"}
    try:
        report = {"rewritten": 0, "retired": 0, "blobs": 0, "bytes": 0}
        for tier in tiers().values():
            if tier.pack:
                _compact_tier(tier, report, now=now)
        return report
    finally:
        cache.delete(COMPACT_LOCK)


def _compact_tier(tier, report: dict, *, now) -> None:
    with transaction.atomic():   # emptied containers (all deleted, or a crash after a rewrite's switch)
        for container in Container.objects.filter(tier=tier.name, state=ContainerState.LIVE, live_bytes__lte=0):
            report["retired"] += moves.container_retire_if_empty(container.pk, now=now)
    sparse = _sparse(tier.name)
    small = [c for c in sparse if c.live_bytes >= c.data_bytes * settings.PACK_MIN_LIVE_PERCENT / 100]
    if len(sparse) - len(small) == 0 and len(small) < 2:
        sparse = []   # one smallish, dense container: rewriting it would gain nothing
    group: list[Blob] = []
    group_bytes = 0
    for container in sparse:
        live = list(Blob.objects.filter(container=container).order_by("pack_offset"))
        group += live
        group_bytes += sum(blob.size for blob in live)
        if group_bytes >= settings.PACK_TARGET_BYTES:
            _rewrite(tier, group, report, now=now)
            group, group_bytes = [], 0
    if group:
        _rewrite(tier, group, report, now=now)
    with transaction.atomic():
        for container in sparse:
            report["retired"] += moves.container_retire_if_empty(container.pk, now=now)
    if sparse:
        with transaction.atomic():
            record(action=Action.CONTAINER_COMPACTED, details={"tier": tier.name, **report})


def _rewrite(tier, blobs: list[Blob], report: dict, *, now) -> None:
    _still_running(COMPACT_LOCK)
    try:
        count, moved = moves.blobs_pack(blobs=blobs, to=tier, why="compaction", now=now)
    except (CopyMismatch, PortalError) as exc:
        logger.error("compacting containers of %s failed: %s", tier.name, exc.message)
        return
    report["rewritten"] += int(count > 0)
    report["blobs"] += count
    report["bytes"] += moved
