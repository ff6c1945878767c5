"""The store scrub: read stored blobs back and compare each with its recorded
SHA-256 (restic's ``check --read-data``), so a store that lost or damaged an
object is found before a user asks for it.

The ``files.scrub`` beat task checks a bounded slice per run (settings
SCRUB_BATCH blobs, SCRUB_BYTES bytes) in id order, resuming after the last
blob the previous run checked: successive runs walk the whole store, then
start over. The place is kept in the run's ``blob.scrubbed`` audit event
(``cursor``), so it survives restarts and any worker can take the next run.
``manage.py scrub`` checks everything at once and leaves the place alone.

Bytes are hashed as they stream (never a whole file in memory); a blob
packed in a container is read by its byte range. A blob whose object is
missing, short or different is flagged (``integrity`` mismatch) and each
file version using it gets a ``file.integrity_failed`` event, once; a
flagged blob that reads right again (the store repaired it, or a fresh
upload of the same bytes replaced it) is marked verified again. A store
that stops answering ends the run without flagging anything.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.models import AuditEvent, Outcome
from portal.audit.services import record
from portal.core.errors import InvalidInput, StorageUnavailable
from portal.files.models import Blob, FileVersion, Integrity
from portal.storage import ObjectNotFound
from portal.storage.tiers import Placement, placement_open, tier_get, tiers

logger = logging.getLogger(__name__)
LOCK = "files:scrub"
_LOCK_SECONDS = 15 * 60
_QUERY_BATCH = 500
EXAMPLES = 50  # blob ids named per kind in the audit event


@dataclass
class ScrubReport:
    mode: str = "run"
    checked: int = 0
    bytes: int = 0
    mismatched: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    repaired: list[int] = field(default_factory=list)
    skipped: int = 0            # archive tiers (a read needs a restore), blobs moved or deleted meanwhile
    cursor: int = 0             # the last blob id checked (0: the next run starts from the beginning)
    pass_complete: bool = False
    unavailable: str = ""       # the store stopped answering: the run ended early
    busy: bool = False
    newly_flagged: int = 0      # bad blobs no earlier run had flagged (administrators are told of these)

    @property
    def bad(self) -> int:
        return len(self.mismatched) + len(self.missing)

    def as_dict(self) -> dict:
        if self.busy:
            return {"skipped": "another scrub is under way"}
        return {"mode": self.mode, "checked": self.checked, "bytes": self.bytes, "ok": self.checked - self.bad,
                "mismatched": len(self.mismatched), "missing": len(self.missing), "repaired": len(self.repaired),
                "skipped": self.skipped, "cursor": self.cursor, "pass_complete": self.pass_complete,
                "unavailable": self.unavailable, "newly_flagged": self.newly_flagged,
                "bad_blobs": sorted(self.mismatched + self.missing)[:EXAMPLES]}


def last_scrub() -> AuditEvent | None:
    """The latest scheduled run's event (its details hold the cursor)."""
    return (AuditEvent.objects.filter(action=Action.BLOB_SCRUBBED, details__has_key="cursor")
            .order_by("-id").first())


def _cursor() -> int:
    event = last_scrub()
    value = (event.details or {}).get("cursor") if event else 0
    return value if isinstance(value, int) and value > 0 else 0


def _readable_tiers(only: str | None) -> list[str]:
    """Tiers a scrub reads: not those whose reads need a restore first (archive classes)."""
    if only is not None:
        return [tier_get(only).name]
    return [name for name, tier in tiers().items() if not tier.restore_minutes]


def blobs_scrub(*, batch: int | None = None, max_bytes: int | None = None, full: bool = False,
                tier: str | None = None) -> ScrubReport:
    """The system checks stored blobs against their SHA-256: one slice from
    the saved place (the beat task), or with ``full`` every blob from the
    start, ``batch`` at most (``manage.py scrub``). Records ``blob.scrubbed``."""
    for name, value in (("batch", batch), ("max_bytes", max_bytes)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise InvalidInput(gettext("%(name)s is a whole number, 1 or more.") % {"name": name}, code="invalid_limit")
    readable = _readable_tiers(tier)
    report = ScrubReport(mode="full" if full else "run")
    if not full and not cache.add(LOCK, timezone.now().isoformat(), _LOCK_SECONDS):
        report.busy = True
        return report
    try:
        _walk(report, readable, start=0 if full else _cursor(),
              batch=batch or (None if full else settings.SCRUB_BATCH),
              max_bytes=max_bytes or (None if full else settings.SCRUB_BYTES))
        _record(report, full=full)
    finally:
        if not full:
            cache.delete(LOCK)
    return report


def _walk(report: ScrubReport, readable: list[str], *, start: int, batch: int | None, max_bytes: int | None) -> None:
    after = start
    while True:
        cache.touch(LOCK, _LOCK_SECONDS)  # a long run keeps its lock; a killed one's expires
        rows = list(Blob.objects.filter(sha256__isnull=False, pk__gt=after).order_by("pk")[:_QUERY_BATCH])
        if not rows:
            report.cursor, report.pass_complete = 0, True
            return
        for blob in rows:
            if (batch is not None and report.checked >= batch) or (max_bytes is not None and report.bytes >= max_bytes):
                report.cursor = after
                return
            if blob.tier not in readable:
                report.skipped += 1
            else:
                try:
                    _check(report, blob)
                except StorageUnavailable as exc:
                    logger.warning("scrub stopped at blob %s, the store is unavailable: %s", blob.pk, exc.message)
                    report.cursor, report.unavailable = after, exc.message
                    return
            after = blob.pk


def sha256_of(placement: Placement) -> tuple[str, int]:
    """The SHA-256 and length of a blob's bytes, hashed as they stream."""
    digest, length = hashlib.sha256(), 0
    if placement.packed and not placement.size:
        return digest.hexdigest(), 0   # an empty slice of a container: nothing to read
    with placement_open(placement) as stream:
        for chunk in stream:
            digest.update(chunk)
            length += len(chunk)
    return digest.hexdigest(), length


def _check(report: ScrubReport, blob: Blob) -> None:
    placement = blob.placement
    problem = ""
    try:
        sha256, length = sha256_of(placement)
    except ObjectNotFound:
        problem, sha256, length = "missing", "", 0
    except InvalidInput:  # a packed blob's range lies past its container's end
        problem, sha256, length = "mismatch", "", 0
    if not problem and (length != blob.size or sha256 != blob.sha256):
        problem = "mismatch"
    flagged = _flag(blob, placement, problem=problem, actual=sha256) if problem else ""
    if problem and not flagged:
        report.skipped += 1
        return
    report.checked += 1
    report.bytes += length
    if problem:
        (report.missing if problem == "missing" else report.mismatched).append(blob.pk)
        report.newly_flagged += flagged == _NEWLY_FLAGGED
    elif blob.integrity == Integrity.MISMATCH:
        Blob.objects.filter(pk=blob.pk, sha256=blob.sha256).update(integrity=Integrity.VERIFIED)
        report.repaired.append(blob.pk)


_NEWLY_FLAGGED, _FLAGGED_BEFORE = "newly flagged", "flagged before"


def _flag(blob: Blob, placement: Placement, *, problem: str, actual: str) -> str:
    """Mark the blob damaged and tell the audit log, once: _NEWLY_FLAGGED, or
    _FLAGGED_BEFORE when an earlier run did; "" when the blob was moved or
    deleted while it was read (nothing is wrong then)."""
    with transaction.atomic():
        current = Blob.objects.select_for_update().filter(pk=blob.pk).first()
        if current is None or current.placement != placement:
            return ""
        if current.integrity == Integrity.MISMATCH:
            return _FLAGGED_BEFORE
        current.integrity = Integrity.MISMATCH
        current.save(update_fields=["integrity"])
        for version in FileVersion.objects.filter(blob=current).select_related("node__space"):
            record(action=Action.FILE_INTEGRITY_FAILED, actor=None, target=version.node, outcome=Outcome.FAILURE,
                   space=version.node.space, details={"version": version.number, "expected": current.sha256,
                                                      "actual": actual, "problem": problem, "by": "scrub",
                                                      "blob": current.pk, "tier": placement.tier})
    logger.error("scrub: blob %s (%s:%s) is %s", blob.pk, placement.tier, placement.key,
                 "missing" if problem == "missing" else "damaged")
    return _NEWLY_FLAGGED


def _record(report: ScrubReport, *, full: bool) -> None:
    details = report.as_dict()
    if full:
        details.pop("cursor")  # a full check leaves the scheduled runs' place alone
    record(action=Action.BLOB_SCRUBBED, actor=None, target_label="stored files",
           outcome=Outcome.FAILURE if report.bad or report.unavailable else Outcome.SUCCESS, details=details)
