"""The system's housekeeping over stored bytes. Every function is safe to run
twice and while uploads are in flight; Celery tasks call them."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from portal.audit.actions import Action
from portal.audit.models import Outcome
from portal.audit.services import record
from portal.files.models import Blob, FileVersion, Integrity, UploadSession, UploadState
from portal.files.services import upload_release
from portal.core.errors import StorageUnavailable
from portal.lifecycle.moves import retire
from portal.storage import ObjectNotFound, get_store
from portal.storage.tiers import HOT, tier_store

logger = logging.getLogger(__name__)
BLOB_PREFIX = "blobs/"


def _sha256_of(key: str, head_bytes: int = 0) -> tuple[str, bytes]:
    """The object's SHA-256, and its first ``head_bytes`` (read on the way, for the ransomware check)."""
    digest, head = hashlib.sha256(), bytearray()
    with get_store().open(key) as stream:
        for chunk in stream:
            digest.update(chunk)
            if len(head) < head_bytes:
                head += chunk[:head_bytes - len(head)]
    return digest.hexdigest(), bytes(head)


def blob_hash(blob_id: int) -> str:
    """Record a blob's SHA-256 (checking the uploader's, if given) and, when
    the deployment already holds those bytes, point its versions at the
    existing blob and drop the duplicate. Returns what happened."""
    blob = Blob.objects.filter(pk=blob_id).first()
    if blob is None or blob.sha256 or blob.integrity == Integrity.MISMATCH:
        return "nothing to do"
    from portal.governance import ransomware  # governance builds on files

    try:
        sha256, head = _sha256_of(blob.key, ransomware.SAMPLE_BYTES if ransomware.enabled() else 0)
    except ObjectNotFound:
        return "object missing"
    if head:  # an encrypted-looking rewrite counts against its uploader (docs/ransomware.md)
        ransomware.blob_sampled(blob_id, head)
    if blob.expected_sha256 and blob.expected_sha256 != sha256:
        return _flag_mismatch(blob_id, sha256)
    with transaction.atomic():
        blob = Blob.objects.select_for_update().filter(pk=blob_id).first()
        if blob is None or blob.sha256:
            return "nothing to do"
        twin = Blob.objects.select_for_update().filter(sha256=sha256).exclude(pk=blob_id).first()
        if twin is None:
            return _set_hash(blob, sha256)
        FileVersion.objects.filter(blob=blob).update(blob=twin)
        if twin.tier != HOT or twin.integrity == Integrity.MISMATCH:  # cold, or damaged (the scrub found it)
            return _twin_takes_hot_copy(twin, blob)
        # The duplicate object stays until the orphan sweep's grace period is
        # over: a download may have been handed its key a moment ago.
        blob.delete()
        return "deduplicated"


def _twin_takes_hot_copy(twin: Blob, fresh: Blob) -> str:
    """Bytes just uploaded that another file (maybe another space's) keeps
    in a colder tier: the twin takes the fresh hot copy, so the uploader's
    file reads like any new file. Otherwise a "restoring" answer, or a
    download from the cold bucket, would tell a stranger who uploads a
    guess that somebody stores exactly those bytes. A twin whose stored
    bytes the scrub found damaged is healed the same way."""
    old, now, why = twin.placement, timezone.now(), "repair" if twin.integrity == Integrity.MISMATCH else "upload"
    fresh.delete()   # first: the key is unique
    retire(old, now=now)
    twin.key, twin.tier, twin.tier_key, twin.container, twin.pack_offset = fresh.key, HOT, "", None, None
    twin.last_read_at, twin.integrity = now, Integrity.VERIFIED
    twin.save(update_fields=["key", "tier", "tier_key", "container", "pack_offset", "last_read_at", "integrity"])
    record(action=Action.BLOB_TIERED, details={"from": old.tier, "to": HOT, "why": why, "blobs": 1,
                                               "bytes": twin.size, "blob": twin.pk})
    return "deduplicated"


def _set_hash(blob: Blob, sha256: str) -> str:
    # A twin hashed at this very moment makes this fail (unique sha256); the
    # task retries and then finds the twin to merge into.
    blob.sha256, blob.integrity = sha256, Integrity.VERIFIED
    blob.save(update_fields=["sha256", "integrity"])
    return "hashed"


def _flag_mismatch(blob_id: int, sha256: str) -> str:
    with transaction.atomic():
        blob = Blob.objects.select_for_update().get(pk=blob_id)
        if blob.integrity == Integrity.MISMATCH:  # a retry: the alarm was raised already
            return "mismatch"
        blob.integrity = Integrity.MISMATCH
        blob.save(update_fields=["integrity"])
        for version in FileVersion.objects.filter(blob=blob).select_related("node__space"):
            record(action=Action.FILE_INTEGRITY_FAILED, actor=None, target=version.node, outcome=Outcome.FAILURE,
                   space=version.node.space, details={"version": version.number, "expected": blob.expected_sha256,
                                                      "actual": sha256})
    return "mismatch"


def _used() -> Exists:
    return Exists(FileVersion.objects.filter(blob=OuterRef("pk")))


def blobs_collect() -> int:
    """Delete blobs no version uses any more: the row first, then the object
    (in whichever tier it is; a blob packed in a container only leaves a
    hole there, which compaction reclaims)."""
    removed = 0
    while True:
        with transaction.atomic():
            batch = list(Blob.objects.select_for_update(skip_locked=True).filter(~_used())[:200])
            unused = set(Blob.objects.filter(pk__in=[b.pk for b in batch]).filter(~_used())
                         .values_list("pk", flat=True))
            gone = [blob.placement for blob in batch if blob.pk in unused]
            Blob.objects.filter(pk__in=unused).delete()
            for placement in gone:
                if placement.packed:
                    retire(placement, now=timezone.now())
        for placement in gone:
            if not placement.packed:
                tier_store(placement.tier).delete(placement.key)
        removed += len(gone)
        if len(batch) < 200:
            return removed


def uploads_sweep(*, now=None) -> dict[str, int]:
    """Expire sessions past their time. An open one is aborted in the store
    first and marked expired only once that worked (an outage leaves it for
    the next run). One that reached ``completing`` is never aborted (the
    object may exist, SeaweedFS #10663): its object is deleted if no version
    took it. Then sessions closed while the store was down (an abort during
    an outage) are released in the store (``released``): upload_release."""
    now = now or timezone.now()
    counts = {"aborted": 0, "orphaned": 0, "expired": 0}
    stale = UploadSession.objects.filter(expires_at__lt=now, state__in=[UploadState.OPEN, UploadState.COMPLETING])
    for session_id in list(stale.values_list("pk", flat=True)[:1000]):
        try:
            counts[_expire(session_id)] += 1
        except StorageUnavailable as exc:
            logger.warning("upload %s not expired yet, the store is unavailable: %s", session_id, exc.message)
            break  # the next session would wait for the same timeout: the next run tries again
    counts["released"] = upload_release.uploads_release()
    return counts


def _expire(session_id) -> str:
    with transaction.atomic():
        session = UploadSession.objects.select_for_update(skip_locked=True).filter(
            pk=session_id, state__in=[UploadState.OPEN, UploadState.COMPLETING]).first()
        if session is None:
            return "expired"
        outcome = "expired"
        if session.state == UploadState.OPEN and session.multipart_id:
            get_store().multipart_abort(session.key, session.multipart_id)
            outcome = "aborted"
        elif session.state == UploadState.COMPLETING and not Blob.objects.filter(key=session.key).exists():
            if get_store().exists(session.key):
                get_store().delete(session.key)
                outcome = "orphaned"
        session.state, session.store_released_at = UploadState.EXPIRED, timezone.now()
        session.save(update_fields=["state", "store_released_at"])
        return outcome


def orphans_sweep(*, now=None) -> int:
    """Delete objects under blobs/ that no blob row and no live upload names,
    once older than the grace period (so an upload between steps is safe);
    abort unfinished multipart uploads there that no upload session owns (a
    large ``file_put`` or promotion killed mid-write, an upload closed during
    an outage: S3 keeps their parts) and no live session may still need."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.ORPHAN_GRACE_HOURS)
    removed = upload_release.unowned_uploads_abort(BLOB_PREFIX, cutoff)
    batch: list[str] = []
    for info in get_store().iter_objects(BLOB_PREFIX):
        if info.modified < cutoff:
            batch.append(info.key)
        if len(batch) >= 500:
            removed += _delete_unreferenced(batch)
            batch = []
    return removed + _delete_unreferenced(batch)


def _delete_unreferenced(keys: list[str]) -> int:
    if not keys:
        return 0
    known = set(Blob.objects.filter(key__in=keys).values_list("key", flat=True))
    known |= set(UploadSession.objects.filter(key__in=keys, state__in=[UploadState.OPEN, UploadState.COMPLETING])
                 .values_list("key", flat=True))
    orphans = [key for key in keys if key not in known]
    for key in orphans:
        logger.info("removing orphan object %s", key)
        get_store().delete(key)
    return len(orphans)
