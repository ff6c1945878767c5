"""Closed uploads leave nothing in the store.

An aborted or expired upload session gives its bytes back to the store: its
multipart upload is aborted (the parts go), or, when it had already been
assembled (``completing_at`` set), its object is deleted unless a version took
it. A session is closed in the database first; the store side follows, and is
recorded (``store_released_at``) only once the store confirmed it. While the
store is down the session stays unreleased and the upload sweep
(maintenance.uploads_sweep) tries again on its next run.

An assembled upload is never aborted in the store: SeaweedFS destroys the
completed object when a leftover upload record is aborted (#10663).
"""

from __future__ import annotations

import logging
from itertools import islice

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from portal.core.errors import StorageUnavailable
from portal.files.models import Blob, UploadSession, UploadState
from portal.storage import get_store

logger = logging.getLogger(__name__)
CLOSED = (UploadState.ABORTED, UploadState.EXPIRED)
# Per sweep run: bounded, so that a backlog after a long outage drains over several runs.
RELEASE_BATCH = 1000
UNOWNED_BATCH = 1000


def store_release(session: UploadSession) -> None:
    """Remove what ``session`` left in the store (its parts, or an assembled
    object no version uses). Raises StorageUnavailable when the store does
    not answer; safe to repeat."""
    store = get_store()
    if session.completing_at is None:
        if session.multipart_id:
            store.multipart_abort(session.key, session.multipart_id)
    elif not Blob.objects.filter(key=session.key).exists():
        store.delete(session.key)


def _mark_released(session_id) -> None:
    UploadSession.objects.filter(pk=session_id, store_released_at__isnull=True).update(
        store_released_at=timezone.now())


def release_now_or_later(session: UploadSession) -> bool:
    """After a session was closed (committed): release it in the store now,
    or leave it to the sweep when the store is down. True when released."""
    try:
        store_release(session)
    except StorageUnavailable as exc:
        logger.warning("upload %s is closed; its bytes stay in the store until the upload sweep removes them "
                       "(the store is unavailable: %s)", session.pk, exc.message)
        return False
    _mark_released(session.pk)
    return True


def uploads_release() -> int:
    """The sweep's part: every closed session the store has not confirmed yet
    is released (at most RELEASE_BATCH a run); how many were."""
    released = 0
    pending = UploadSession.objects.filter(state__in=CLOSED, store_released_at__isnull=True)
    for session_id in list(pending.order_by("expires_at").values_list("pk", flat=True)[:RELEASE_BATCH]):
        with transaction.atomic():
            session = UploadSession.objects.select_for_update(skip_locked=True).filter(
                pk=session_id, state__in=CLOSED, store_released_at__isnull=True).first()
            if session is None:  # another sweep has it
                continue
            try:
                store_release(session)
            except StorageUnavailable as exc:
                logger.warning("upload %s not released yet, the store is unavailable: %s", session_id, exc.message)
                return released  # the next one would wait for the same timeout: try again next run
            session.store_released_at = timezone.now()
            session.save(update_fields=["store_released_at"])
            released += 1
    return released


def unowned_uploads_abort(prefix: str, cutoff) -> int:
    """The second net: multipart uploads under ``prefix`` started before
    ``cutoff`` that no session may still need (none, or one closed before it
    was assembled) are aborted in the store; at most UNOWNED_BATCH a run.
    Live and assembled sessions' uploads are never touched."""
    store = get_store()
    unfinished = [row for row in islice(store.iter_unfinished_uploads(prefix), 10 * UNOWNED_BATCH) if row[2] < cutoff]
    needed = set(UploadSession.objects.filter(multipart_id__in=[upload_id for _, upload_id, _ in unfinished])
                 .filter(Q(state__in=[UploadState.OPEN, UploadState.COMPLETING]) | Q(completing_at__isnull=False))
                 .values_list("multipart_id", flat=True))
    aborted = 0
    for key, upload_id, _ in unfinished:
        if upload_id in needed:
            continue
        logger.info("aborting the unfinished upload of %s that no live session owns", key)
        store.multipart_abort(key, upload_id)
        aborted += 1
        if aborted >= UNOWNED_BATCH:
            break
    return aborted
