"""S3 Object Lock legal-hold flags on the objects of held files (best effort).

When a hold is made, each object its files' versions point at gets the
store's own legal-hold flag, where the store supports S3 Object Lock (then
not even someone with the bucket's keys can delete it); when it is released,
the flag comes off objects no other active hold still covers. Packed blobs
(inside a cold-tier container) are not flagged: the container holds other
files too. The outcome is kept on the hold and shown in the console:
``flagged:N``, ``unsupported``, ``failed:N`` or ``cleared:N``. Files added to
a held folder later are protected by the portal, not flagged.
"""

from __future__ import annotations

import logging

from django.db.models import Q

from portal.core.errors import PortalError
from portal.files import walk
from portal.files.models import Blob, FileVersion
from portal.governance.models import HoldKind, LegalHold
from portal.governance.selectors import held_blob_ids
from portal.storage.tiers import tier_store

logger = logging.getLogger(__name__)


def _versions_of(hold: LegalHold):
    if hold.kind == HoldKind.FOLDER and hold.node_id:
        return FileVersion.objects.filter(node_id__in=[hold.node_id, *walk.descendant_ids(hold.node_id,
                                                                                           live_only=False)])
    if hold.kind == HoldKind.SPACE and hold.space_id:
        return FileVersion.objects.filter(node__space_id=hold.space_id)
    if hold.kind == HoldKind.USER and hold.user_id:
        return FileVersion.objects.filter(Q(created_by_id=hold.user_id) | Q(node__created_by_id=hold.user_id)
                                          | Q(node__space__kind="personal", node__space__created_by_id=hold.user_id))
    return FileVersion.objects.none()


def _flag(blobs, on: bool) -> tuple[int, bool, int]:
    """(objects flagged, store supports it, failures)."""
    done = failed = 0
    for blob in blobs:
        placement = blob.placement
        if placement.packed:
            continue
        try:
            if not tier_store(placement.tier).legal_hold_set(placement.key, on):
                return done, False, failed
            done += 1
        except PortalError as exc:   # best effort: one object's failure is counted, the rest go on
            logger.warning("legal hold flag on %s failed: %s", placement.key, exc.message)
            failed += 1
    return done, True, failed


def store_flags_apply(hold_id: int) -> str:
    """Flag (active hold) or unflag (released hold) its objects; the outcome, also saved on the hold."""
    hold = LegalHold.objects.filter(pk=hold_id).first()
    if hold is None:
        return ""
    blob_ids = set(_versions_of(hold).values_list("blob_id", flat=True))
    if not hold.is_active:
        blob_ids -= held_blob_ids(blob_ids)   # still under another hold: the flag stays
    done, supported, failed = _flag(Blob.objects.filter(pk__in=blob_ids).order_by("pk").iterator(), hold.is_active)
    if not supported:
        outcome = "unsupported"
    elif failed:
        outcome = f"failed:{failed}"
    else:
        outcome = f"{'flagged' if hold.is_active else 'cleared'}:{done}"
    LegalHold.objects.filter(pk=hold.pk).update(store_flag=outcome)
    return outcome
