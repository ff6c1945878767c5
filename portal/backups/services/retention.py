"""Retention: which snapshots a policy keeps, and applying it (a Celery task
calls ``retention_apply`` per device)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.services import record
from portal.backups.models import Device, RetentionPolicy, Snapshot
from portal.core.errors import InvalidInput
from portal.core.validation import whole_number

logger = logging.getLogger(__name__)

_BUCKETS: dict[str, Callable] = {
    "keep_hourly": lambda t: (t.year, t.month, t.day, t.hour),
    "keep_daily": lambda t: (t.year, t.month, t.day),
    "keep_weekly": lambda t: tuple(t.isocalendar()[:2]),
    "keep_monthly": lambda t: (t.year, t.month),
}


def default_policy() -> RetentionPolicy:
    """The deployment default: the stored row, or the settings' values (unsaved)."""
    return RetentionPolicy.objects.filter(device__isnull=True).first() or RetentionPolicy(
        device=None, **settings.BACKUP_DEFAULT_RETENTION)


def policy_for(device: Device) -> tuple[RetentionPolicy, str]:
    """The policy that applies to ``device`` and where it comes from ("device" or "default")."""
    own = RetentionPolicy.objects.filter(device=device).first()
    return (own, "device") if own else (default_policy(), "default")


def _clean(values) -> dict[str, int]:
    if not isinstance(values, dict) or set(values) != set(RetentionPolicy.FIELDS):
        raise InvalidInput(gettext("Send all of %(join)s.") % {"join": ', '.join(RetentionPolicy.FIELDS)}, code="invalid_retention")
    cleaned = {name: whole_number(values[name], field=name, minimum=0, maximum=100_000)
               for name in RetentionPolicy.FIELDS}
    if not any(cleaned.values()):
        raise InvalidInput(gettext("A policy must keep something: set at least one keep_* above 0."),
                           code="invalid_retention")
    return cleaned


@transaction.atomic
def retention_set(*, actor, device: Device | None, values) -> RetentionPolicy:
    """The device's owner or an administrator sets a device's policy; only
    administrators (checked by the caller) set the default (``device`` None)."""
    cleaned = _clean(values)
    policy, _ = RetentionPolicy.objects.select_for_update().get_or_create(device=device, defaults=cleaned)
    for name, value in cleaned.items():
        setattr(policy, name, value)
    policy.save()
    record(action=Action.BACKUP_RETENTION_CHANGED, actor=actor, target=device,
           target_label=None if device else "default retention", details=cleaned)
    return policy


def snapshots_kept(snapshots: Sequence[Snapshot], policy: RetentionPolicy) -> set[int]:
    """Ids the policy keeps among ``snapshots`` (any order): the newest
    ``keep_last``, then the newest snapshot of each of the newest N hours /
    days / ISO weeks / months that have one (like restic's forget)."""
    ordered = sorted(snapshots, key=lambda s: (s.started_at, s.pk), reverse=True)
    keep = {s.pk for s in ordered[:policy.keep_last]}
    for name, bucket in _BUCKETS.items():
        left, last = getattr(policy, name), None
        for snapshot in ordered:
            if left <= 0:
                break
            key = bucket(timezone.localtime(snapshot.started_at))
            if key != last:
                keep.add(snapshot.pk)
                last, left = key, left - 1
    return keep


def _held_now(user_id) -> bool:
    """Under the purge guard (a hold being made is waited for): whether the user is held now."""
    from portal.governance.models import HoldKind, LegalHold
    from portal.governance.selectors import purge_guard

    purge_guard()
    return LegalHold.objects.filter(kind=HoldKind.USER, user_id=user_id, released_at__isnull=True).exists()


@transaction.atomic
def retention_apply(*, device_id: int, held_users: set[int] | None = None) -> dict:
    """The system deletes the snapshots a device's policy no longer keeps
    (their data goes with the next GC). Audited when anything was removed.
    A device of a user under a legal hold keeps every snapshot (``held_users``:
    the held users' ids when the caller read them once for many devices)."""
    device = Device.objects.select_for_update().filter(pk=device_id).first()
    if device is None:
        return {"kept": 0, "removed": []}
    from portal.governance.selectors import held_user_ids  # a held user's backups keep every snapshot

    if device.user_id in (held_user_ids() if held_users is None else held_users):
        return {"kept": Snapshot.objects.filter(device=device).count(), "removed": [], "held": True}
    policy, source = policy_for(device)
    snapshots = list(Snapshot.objects.filter(device=device))
    keep = snapshots_kept(snapshots, policy)
    removed = sorted(s.pk for s in snapshots if s.pk not in keep)
    if removed and held_users is not None and _held_now(device.user_id):  # held since the caller read them
        return {"kept": len(snapshots), "removed": [], "held": True}
    if removed:
        Snapshot.objects.filter(pk__in=removed).delete()
        record(action=Action.BACKUP_RETENTION_APPLIED, actor=None, target=device,
               details={"removed": removed[:1000], "removed_count": len(removed), "kept": len(keep),
                        "policy": policy.as_dict(), "source": source})
        logger.info("retention removed %d snapshot(s) of device %s", len(removed), device.pk)
    return {"kept": len(keep), "removed": removed}
