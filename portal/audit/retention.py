"""Retention: old audit events go, the chain stays verifiable.

Events are deleted only up to a checkpoint: the newest checkpoint taken
before the cutoff (every event at or below its seq was sealed, hence written,
before it). That checkpoint becomes the chain's anchor: ``audit_verify``
starts from its hash, and an ``audit.purged`` event, sealed into the chain
right after, records the cut (through which seq and hash, how many events), so
a table that merely *looks* purged (events deleted without it) still fails.
Checkpoint rows below the anchor go too; exported heads stay in the object
store (its lifecycle rules decide how long).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from portal.audit.actions import Action
from portal.audit.chain import chain_seal, chain_state_locked
from portal.audit.models import AuditEvent, ChainCheckpoint
from portal.audit.services import record


@dataclass(frozen=True)
class Purge:
    through_seq: int
    events: int


def events_purge_expired(*, now=None, retention_days: int | None = None) -> Purge | None:
    """Delete sealed events older than PORTAL_AUDIT_RETENTION_DAYS (365), up to
    the newest checkpoint taken before the cutoff, and record ``audit.purged``.
    None when nothing is due. The system calls it (``audit.purge_expired``)."""
    now = now or timezone.now()
    days = settings.AUDIT_RETENTION_DAYS if retention_days is None else retention_days
    cutoff = now - timedelta(days=days)
    with transaction.atomic():
        chain_state_locked(skip_locked=False)  # no sealing while the table is cut
        anchor = ChainCheckpoint.objects.filter(created_at__lt=cutoff).order_by("-seq").first()
        first = AuditEvent.objects.filter(seq__isnull=False).order_by("seq").values_list("seq", flat=True).first()
        if anchor is None or first is None or anchor.seq < first:
            return None
        with connection.cursor() as cursor:
            # The purge is the one delete the log allows (the model and its queryset refuse).
            cursor.execute(f"DELETE FROM {AuditEvent._meta.db_table} WHERE seq IS NOT NULL AND seq <= %s",
                           [anchor.seq])
            deleted = cursor.rowcount
        ChainCheckpoint.objects.filter(seq__lt=anchor.seq).delete()
        record(action=Action.AUDIT_PURGED, target_label=f"audit events through #{anchor.seq}",
               details={"through_seq": anchor.seq, "through_hash": anchor.hash, "events": deleted,
                        "retention_days": days, "cutoff": cutoff.astimezone(UTC).isoformat()})
    chain_seal()  # seal the record of the cut now, not at the next beat
    return Purge(through_seq=anchor.seq, events=deleted)
